// Package bench holds certferry's end-to-end benchmarks and the call-count tests that
// keep a pass batched and its nonce fetches bounded. Everything runs against the local sandbox (Pebble,
// Route 53, Secrets Manager and DNS on loopback); nothing here talks to AWS or a real CA.
//
//   - go test ./bench/ runs the call-count tests (fast, part of make test): one
//     ChangeResourceRecordSets per zone to present and one to clean up, the idle
//     inventory's ListSecrets pages, a batch with one bad name, a wildcard and its apex
//     in different certificates, throttling in the middle of a batch.
//   - go test -run '^$' -bench . ./bench/ runs the benchmarks (make bench, not part of
//     make test): N = 1, 10, 100 certificates, one certificate with 50 names and an idle
//     pass over 1000 stored certificates, each as a `certferry renew` subprocess so its
//     peak RSS can be read; the onboarding of 70 certificates inside the CA's limits (the
//     sandbox enforcing them), over successive runs, against the arithmetic minimum; the same N issued the way lego and certbot users do it, one
//     `lego run` or `certbot certonly --dns-route53` per certificate; the idle RSS of
//     `certferry run`; and the Lambda function's cold start under the Runtime Interface
//     Emulator.
//
// The benchmarks read these environment variables (scripts/bench.sh sets them):
//
//	CERTFERRY_BENCH_BIN       the certferry binary (default: built into a temporary directory)
//	CERTFERRY_BENCH_LEGO      the lego v4.35.2 binary (default: ~/.cache/certferry-bench/lego;
//	                          the lego benchmarks are skipped when it is missing)
//	CERTFERRY_BENCH_OUT       a file to append one JSON object per measured run to, which
//	                          ./bench/benchtable turns into the report table
//	CERTFERRY_BENCH_LEGO_MAX  the longest lego loop to run for real (default 15m); a longer
//	                          one is extrapolated from the N = 10 loop and marked estimated
//	CERTFERRY_BENCH_CERTBOT   the certbot command (default: certbot on PATH; skipped without)
//	CERTFERRY_BENCH_CERTBOT_MAX  the same bound for the certbot loop (default 15m)
//
// The package never logs or prints key material.
package bench
