#!/usr/bin/env bash
# scripts/bench.sh: the benchmarks (make bench). Builds the certferry binary and, when it
# is not cached, lego v4.35.2; runs the benchmarks of ./internal/bench against the local sandbox
# (Route 53: INSYNC after 5 s, 10 requests/s, burst 50): certferry at N = 1, 10, 100, the
# same N as a lego loop and a certbot loop, the daemon's idle RSS and the Lambda
# function's cold start; prints one table with the ratios and whether each target is met.
# Not part of `make test`. Needs Go; certbot (Debian: apt-get install certbot
# python3-certbot-dns-route53) and aws-lambda-rie (make tools) are used when present,
# their rows skipped otherwise.
#
# Environment:
#   GO                        go command (default: go)
#   BENCH                     -bench regexp (default: . = every benchmark)
#   BENCHTIME                 -benchtime (default: 1x, one pass per scenario; 3x averages three)
#   CERTFERRY_BENCH_LEGO      lego binary (default: ~/.cache/certferry-bench/lego, built if missing)
#   CERTFERRY_BENCH_NO_LEGO   set to 1 to skip lego (no build, no loop)
#   CERTFERRY_BENCH_LEGO_MAX  longest lego loop run for real (default 15m); longer ones are
#                             extrapolated from N=10 and marked "est."
#   CERTFERRY_BENCH_CERTBOT   certbot command (default: certbot on PATH; its rows skip without it)
#   CERTFERRY_BENCH_CERTBOT_MAX  the same bound for the certbot loop (default 15m)
#   CERTFERRY_BENCH_OUT       where the JSON lines go (default: a temporary file)
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
BENCH=${BENCH:-.}
BENCHTIME=${BENCHTIME:-1x}
LEGO_VERSION=v4.35.2
cache=${XDG_CACHE_HOME:-$HOME/.cache}/certferry-bench
work=$(mktemp -d "${TMPDIR:-/tmp}/certferry-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== building certferry"
CGO_ENABLED=0 $GO build -trimpath -o "$work/certferry" ./cmd/certferry
export CERTFERRY_BENCH_BIN="$work/certferry"

if [[ "${CERTFERRY_BENCH_NO_LEGO:-}" == 1 ]]; then
	export CERTFERRY_BENCH_LEGO=/nonexistent/lego # the lego benchmarks skip
else
	export CERTFERRY_BENCH_LEGO=${CERTFERRY_BENCH_LEGO:-$cache/lego}
	if [[ ! -x "$CERTFERRY_BENCH_LEGO" ]]; then
		# `go install ...@v4.35.2` fails here (the proxy refuses the version list): download
		# the module in a scratch module and build inside the module cache (~6 min, ~94 MB).
		echo "== building lego $LEGO_VERSION into $CERTFERRY_BENCH_LEGO (about 6 minutes, once)"
		mkdir -p "$(dirname "$CERTFERRY_BENCH_LEGO")" "$work/lego-mod"
		(cd "$work/lego-mod" && $GO mod init scratch >/dev/null 2>&1 &&
			$GO mod download "github.com/go-acme/lego/v4@$LEGO_VERSION")
		moddir=$($GO env GOMODCACHE)/github.com/go-acme/lego/v4@$LEGO_VERSION
		(cd "$moddir" && GOFLAGS=-mod=mod $GO build -o "$CERTFERRY_BENCH_LEGO.tmp" ./cmd/lego)
		mv "$CERTFERRY_BENCH_LEGO.tmp" "$CERTFERRY_BENCH_LEGO"
	fi
	"$CERTFERRY_BENCH_LEGO" --version
fi
if command -v "${CERTFERRY_BENCH_CERTBOT:-certbot}" >/dev/null; then
	"${CERTFERRY_BENCH_CERTBOT:-certbot}" --version
else
	echo "== certbot not found: its rows are skipped (apt-get install certbot python3-certbot-dns-route53)"
fi

export CERTFERRY_BENCH_OUT=${CERTFERRY_BENCH_OUT:-$work/results.jsonl}
: >"$CERTFERRY_BENCH_OUT"
echo "== running the benchmarks (-bench '$BENCH'); raw results in $CERTFERRY_BENCH_OUT"
status=0
$GO test -run '^$' -bench "$BENCH" -benchtime "$BENCHTIME" -timeout 90m ./internal/bench/ | tee "$work/bench.txt" || status=$?

echo
echo "== results (the targets apply to certferry with its default settings)"
$GO run ./internal/bench/benchtable "$CERTFERRY_BENCH_OUT" || status=$((status ? status : $?))
exit "$status"
