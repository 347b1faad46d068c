package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// env returns a getenv over a fixed map, for tests that must not see the process environment.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// TestParseBad runs every file in testdata/bad and compares the whole error text. Each file must
// have a row, and each row a file.
func TestParseBad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want string
	}{
		{"asg_ecs_incomplete", `line 10: certificates[0].hooks.on_renew[0].asg_instance_refresh.name: required: the Auto Scaling group's name
line 10: certificates[0].hooks.on_renew[0].asg_instance_refresh.min_healthy_percentage: 120: must be between 0 and 100
line 11: certificates[0].hooks.on_renew[1].ecs_redeploy.service: required: the ECS service's name or ARN
line 12: certificates[0].hooks.on_renew[1].timeout: 2h: at most 1h
line 14: certificates[0].hooks.on_renew[2].timeout: set the timeout once: either here or as webhook.timeout`},
		{"bad_aws", `line 4: aws.region: "Ohio": not an AWS region (e.g. us-east-2); leave it empty to use AWS_REGION
line 5: aws.endpoint_url: "localhost:4566": write an http:// or https:// URL with a host
line 6: aws.assume_role_arn: "arn:aws:iam::1234:user/certferry": write arn:aws:iam::<12-digit account>:role/<name>`},
		{"bad_cron", `line 3: schedule.cron: "17 3,15 * *": expected exactly 5 fields, found 4: [17 3,15 * *] (write 5 fields: minute hour day-of-month month day-of-week, e.g. "17 3,15 * * *")`},
		{"bad_cron_long_form", `line 4: schedule.cron: "61 3 * * *": end of range (61) above maximum (59): 61 (write 5 fields: minute hour day-of-month month day-of-week, e.g. "17 3,15 * * *")
line 5: schedule.jitter: must not be negative
line 6: schedule.every: unknown key "every" (known keys: cron, jitter, min_period, interval)`},
		{"cron_never", `line 3: schedule.cron: "0 0 30 2 *": never runs: no date matches it within five years`},
		{"cron_too_often", `line 4: schedule.cron: "*/2 * * * *": runs 2m apart, more often than schedule.min_period (5m) allows`},
		{"min_period_short", `line 5: schedule.min_period: 500ms: must be at least 1s (the floor between two passes; default 5m)`},
		{"bad_directory", `line 2: acme.directory: "http://acme.example.org/directory": write letsencrypt, letsencrypt-staging or an https:// URL
line 4: acme.account_store: "file:var/lib/certferry": the directory must be an absolute path (file:/var/lib/certferry)`},
		{"bad_duration", `line 3: renew_before: "30 days": not a duration (write e.g. 30d, 12h, 90m or 1h30m)
line 5: route53.insync_timeout: "10": not a duration (write e.g. 30d, 12h, 90m or 1h30m)
line 9: certificates[0].renew_before: "30": not a duration (write e.g. 30d, 12h, 90m or 1h30m)`},
		{"bad_email", `line 2: acme.email: "Ops <ops@example.org>": not an email address (write just the address, e.g. ops@example.com)`},
		{"bad_env_syntax", `line 3: acme.profile: unterminated "${PROFILE": missing "}"
line 5: aws.region: "${AWS-REGION}": write ${NAME} or ${NAME:-default}, NAME being letters, digits and _ ("$${" for a literal "${")`},
		{"bad_key_type", `line 6: certificates[0].key_type: "ec521": write ec256, ec384, rsa2048, rsa3072 or rsa4096`},
		{"bad_labels", `line 6: certificates[0].domains[0]: "-www.example.org": label "-www" starts with a hyphen
line 7: certificates[0].domains[1]: "www-.example.org": label "www-" ends with a hyphen
line 8: certificates[0].domains[2]: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.org": label "aaaaaaaaaa...aaaaaaa" is 65 characters long; the limit is 63
line 9: certificates[0].domains[3]: "foo_bar.example.org": label "foo_bar" has the character '_'; only letters, digits and hyphens are allowed
line 10: certificates[0].domains[4]: "localhost": a single-label name cannot get a public certificate (write the full name, e.g. "host.example.com")`},
		{"bad_name", `line 4: certificates[0].name: "Www_Site": a name is lowercase letters, digits, '.', '_' and '-', starts with a letter or digit, and has at most 63 characters`},
		{"bad_zone_and_tags", `line 6: certificates[0].hosted_zone_id: "z123abc": a hosted zone ID is "Z" followed by uppercase letters and digits
line 10: certificates[0].sinks.secretsmanager.tags.aws:owner: "aws:owner": the aws: and certferry: prefixes are reserved
line 11: certificates[0].sinks.file.owner: "Web Server": write a user name or a numeric uid`},
		{"too_many_tags", `line 9: certificates[0].sinks.secretsmanager.tags: 21 tags; at most 20 (Secrets Manager allows 50 and certferry may write 30)`},
		{"bad_limits", `line 4: acme.limits.new_orders: "300": write N/DURATION (e.g. 50/168h or 300/3h), or none
line 5: acme.limits.per_registered_domain: "0/168h": the count must be between 1 and 1000000
line 6: acme.limits.duplicates: "5/0s": the window must be more than 0 and at most 366d
line 7: acme.limits.per_domain: unknown key "per_domain" (known keys: new_orders, per_registered_domain, duplicates)`},
		{"bad_rate_limits", `line 3: acme.requests_per_second: 0: must be more than 0
line 5: acme.rate_limits.new_nonce.per_second: 0: must be more than 0 and at most 1000000
line 6: acme.rate_limits.new_order.burst: required with per_second (give both, or leave new_order out for the default)
line 7: acme.rate_limits.other.burst: "0.5": not a whole number
line 7: acme.rate_limits.other.per_second: required with burst (give both, or leave other out for the default)
line 8: acme.rate_limits.renewal_info.burst: 0: must be between 1 and 1000000
line 9: acme.rate_limits.new_orders: unknown key "new_orders" (did you mean "new_order"?)
line 10: acme.max_retry_after: must be more than 0`},
		{"challenge", `line 3: challenge: "dns-02": write dns-01 or dns-persist-01
line 4: persist_until: 1h: must be at least 1d (the records must outlive the renewals they serve)
line 8: certificates[0].challenge: "http-01": write dns-01 or dns-persist-01`},
		{"concurrency_range", `line 3: concurrency: 0: must be between 1 and 256`},
		{"duplicate_dir", `line 11: certificates[1].sinks.file.dir: "/etc/certs/web/" is already the directory of certificates[0].sinks.file.dir (line 7)`},
		{"duplicate_domain", `line 5: certificates[0].domains[2]: "WWW.Example.ORG" is the same name as domains[0] "www.example.org" (both are "www.example.org")`},
		{"duplicate_key", `line 4: concurrency: duplicate key (first on line 3)`},
		{"duplicate_names", `line 8: certificates[1].name: "www" is already the name of certificates[0] (line 4)`},
		{"duplicate_name_set", `line 9: certificates[1].domains: the same names as certificates[0].domains (line 5): one set of names is one certificate; merge the two entries (several sinks and hooks fit in one)`},
		{"secret_by_name_and_arn", `line 11: certificates[1].sinks.secretsmanager.secret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:certs/www-AbCdEf" is already the secret of certificates[0].sinks.secretsmanager.secret (line 7) (named once by name and once by ARN)`},
		{"duplicate_secret", `line 11: certificates[1].sinks.secretsmanager.secret: "certs/shared" is already the secret of certificates[0].sinks.secretsmanager.secret (line 7)`},
		{"eab_bad_hmac", `line 3: acme.eab.hmac_key: not base64url, the encoding CAs hand the key out in (value not shown)`},
		{"eab_half", `line 4: acme.eab.hmac_key: required when acme.eab.kid is set (both or neither)`},
		{"empty", `acme.email: required: the contact address for the ACME account (e.g. ops@example.com)
certificates: at least one certificate is required`},
		{"empty_label", `line 10: certificates[1].domains[0]: "foo..example.com": empty label`},
		{"exec_relative", `line 10: certificates[0].hooks.on_renew[0].exec[0]: "redeploy": the program must be an absolute path (there is no $PATH lookup)
line 11: certificates[0].hooks.on_renew[1].exec: empty: give the program and its arguments, e.g. ["/usr/local/bin/redeploy", "--all"]
line 12: certificates[0].hooks.on_renew[2].exec: exec takes an argv list, not a command string: write ["systemctl", ...] (for a shell: ["/bin/sh", "-c", "..."])`},
		{"external_id_without_role", `line 4: aws.external_id: only used with aws.assume_role_arn: set that too, or drop this`},
		{"hook_env", `line 12: certificates[0].hooks.on_renew[0].env.1BAD: "1BAD": not an environment variable name (letters, digits and _, not starting with a digit)
line 13: certificates[0].hooks.on_renew[0].env.CERTFERRY_NAME: "CERTFERRY_NAME": CERTFERRY_* variables are reserved for the event certferry passes to the hook
line 14: certificates[0].hooks.on_renew[0].env.certferry_domains: "certferry_domains": CERTFERRY_* variables are reserved for the event certferry passes to the hook
line 15: certificates[0].hooks.on_renew[0].env.A-B: "A-B": not an environment variable name (letters, digits and _, not starting with a digit)
line 16: certificates[0].hooks.on_renew[0].env.TOKEN: environment variable UNSET_HOOK_TOKEN is not set (use ${UNSET_HOOK_TOKEN:-default} to give a default)
line 19: certificates[0].hooks.on_renew[1].env: only exec hooks take env (a webhook hook runs no program)
line 21: certificates[0].hooks.on_renew[2].env: expected a mapping of environment variable names to values, got a list
line 23: certificates[0].hooks.on_renew[3].env.A: expected a string, got a mapping`},
		{"hook_empty", `line 10: certificates[0].hooks.on_failure[0]: empty hook: give one of exec, webhook, asg_instance_refresh or ecs_redeploy`},
		{"hook_two_kinds", `line 10: certificates[0].hooks.on_renew[0]: exec and webhook in one entry: a hook entry has exactly one kind (make one entry each)`},
		{"ip_address", `line 5: certificates[0].domains[0]: "192.0.2.10": is an IP address (192.0.2.10); certificates here are for DNS names only
line 5: certificates[0].domains[1]: "::1": is an IP address (::1); certificates here are for DNS names only`},
		{"merge_key", `line 1: defaults: unknown key "defaults" (known keys: acme, aws, dns, route53, schedule, concurrency, renew_before, issuance_guard, challenge, persist_until, log, listen, health_refresh, coordination, certificates)
line 4: acme.<<: unknown key "<<" (YAML merge keys are not supported; repeat the keys, or alias a whole value with *anchor)
line 4: acme.email: required: the contact address for the ACME account (e.g. ops@example.com)`},
		{"bad_coordination", `line 3: health_refresh: 0s: must be between 1s and 1d
line 5: coordination.dynamodb_table: "no spaces": a DynamoDB table name is 3-255 of a-z, A-Z, 0-9, '_', '-' and '.'
line 6: coordination.lease_duration: 1s: must be between 3s and 1h`},
		{"coordination_empty", `line 3: coordination.dynamodb_table: required: the DynamoDB table of the leases (e.g. certferry-leases)`},
		{"coordination_no_table", `line 4: coordination.dynamodb_table: required: the DynamoDB table of the leases (e.g. certferry-leases)
line 4: coordination.lease_duration: 2h: must be between 3s and 1h`},
		{"missing_email", `line 2: acme.email: required: the contact address for the ACME account (e.g. ops@example.com)`},
		{"missing_sink", `line 4: certificates[0].sinks: at least one sink is required (secretsmanager or file)`},
		{"multiple_documents", `line 3: the file holds more than one YAML document ("---"); keep one`},
		{"negative_duration", `line 3: issuance_guard: must not be negative
line 5: route53.insync_timeout: must be more than 0`},
		{"no_certificates", `line 3: certificates: at least one certificate is required`},
		{"secret_is_account_secret", `line 7: certificates[0].sinks.secretsmanager.secret: "certferry/acme-account" is already the secret of acme.account_secret`},
		{"secret_env_syntax", `line 3: acme.eab.hmac_key: unterminated ${...}: missing "}" (value not shown)
line 11: certificates[0].hooks.on_renew[0].webhook.url: unterminated ${...}: missing "}" (value not shown)
line 11: certificates[0].hooks.on_renew[0].webhook.secret: unterminated ${...}: missing "}" (value not shown)
line 12: certificates[0].hooks.on_renew[1].webhook.secret: ${...}: write ${NAME} or ${NAME:-default}, NAME being letters, digits and _ ("$${" for a literal "${") (value not shown)
line 13: certificates[0].hooks.on_renew[2].webhook.secret: ${...}: a default cannot contain another ${...} (value not shown)`},
		{"sink_without_secret", `line 7: certificates[0].sinks.secretsmanager.secret: required: the name of the secret to write (e.g. "certificates/www")
line 8: certificates[0].sinks.file.dir: "certs/www": must be an absolute path`},
		{"syntax_error", `line 2: invalid YAML: did not find expected key`},
		{"three_problems", `line 3: concurrency: 1000: must be between 1 and 256
line 5: log.level: "verbose": write debug, info, warn or error
line 9: certificates[0].key_type: "ed25519": write ec256, ec384, rsa2048, rsa3072 or rsa4096`},
		{"too_many_names", `line 5: certificates[0].domains: 101 names; a certificate holds at most 100`},
		{"trailing_dot", `line 5: certificates[0].domains[0]: "www.example.org.": drop the trailing dot (write "www.example.org")`},
		{"unknown_key", `line 2: acme.emial: unknown key "emial" (did you mean "email"?)`},
		{"unknown_nested_key", `line 7: certificates[0].sinks.secretsmanager.kms_key: unknown key "kms_key" (did you mean "kms_key_id"?)
line 8: certificates[0].sinks.s3: unknown key "s3" (known keys: secretsmanager, file)`},
		{"unknown_top_key", `line 3: certificate: unknown key "certificate" (did you mean "certificates"?)`},
		{"unset_env", `line 2: acme.email: environment variable CERTFERRY_TEST_EMAIL is not set (use ${CERTFERRY_TEST_EMAIL:-default} to give a default)
line 10: certificates[0].hooks.on_renew[0].webhook.secret: environment variable CERTFERRY_TEST_UNSET_SECRET is not set (use ${CERTFERRY_TEST_UNSET_SECRET:-default} to give a default)`},
		{"webhook_http_public", `line 10: certificates[0].hooks.on_renew[0].webhook.url: "http://hooks.example.org": a webhook must use https (http only to localhost or 127.0.0.1, for tests)
line 11: certificates[0].hooks.on_renew[1].webhook.secret: required: the key that signs each request (webhook-signature), e.g. "${HOOK_SECRET}" holding whsec_<base64>`},
		{"wildcard_middle", `line 5: certificates[0].domains[0]: "a.*.example.org": a wildcard is allowed only as the whole leftmost label ("*.example.com")`},
		{"wildcard_partial", `line 5: certificates[0].domains[0]: "*a.example.org": a wildcard is allowed only as the whole leftmost label ("*.example.com")`},
		{"wildcard_tld", `line 5: certificates[0].domains[0]: "*.org": a wildcard needs at least two labels after "*." ("*.example.org", not "*.org")
line 5: certificates[0].domains[1]: "*": a wildcard is allowed only as the whole leftmost label ("*.example.com")`},
		{"wrong_types", `line 3: acme.ari: "yes": write true or false
line 4: acme.requests_per_second: "fast": not a number
line 5: concurrency: "four": not a whole number
line 8: certificates[0].domains: expected a list of names, got "www.example.org"`},
	}
	// Values that must never appear in an error: secrets and tokens with a bad ${...}.
	hidden := map[string][]string{
		"secret_env_syntax": {"c2VjcmV0", "EAB_KEY", "xOxbS3cretT0ken", "hooks.slack.com", "SUFFIX", "hunter2", "pa55w0rd", "1BAD", "c0rrect", "h0rse"},
	}
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, tt := range tests {
		rows[tt.file] = true
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".yaml"); !rows[name] {
			t.Errorf("testdata/bad/%s.yaml has no row in the table", name)
		}
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", "bad", tt.file+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(data, env(nil))
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", c)
			}
			if c != nil {
				t.Errorf("Parse returned a Config with its error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error text:\n%s\nwant:\n%s", got, tt.want)
			}
			for _, h := range hidden[tt.file] {
				if strings.Contains(err.Error(), h) {
					t.Errorf("error shows %q:\n%s", h, err)
				}
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, want *ValidationError", err)
			}
			if n := strings.Count(tt.want, "\n") + 1; len(ve.Problems) != n {
				t.Errorf("%d problems, want %d", len(ve.Problems), n)
			}
		})
	}
}

// TestLengthBounds: the 512-byte bounds of secret names and role names, checked apart
// from their patterns.
func TestLengthBounds(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 512)
	arn := "arn:aws:secretsmanager:us-east-2:123456789012:secret:"
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{long, true}, {long + "a", false}, {"", false}, {"certs/web", true}, {"certs web", false},
		{arn + long, true}, {arn + long + "a", false}, {arn, false},
	} {
		if got := validSecret(tc.s); got != tc.want {
			t.Errorf("validSecret(%d bytes %.20q) = %v, want %v", len(tc.s), tc.s, got, tc.want)
		}
	}
	role := "arn:aws:iam::123456789012:role/"
	for _, tc := range []struct {
		s    string
		want bool
	}{{role + long, true}, {role + long + "a", false}, {role, false}, {role + "path/certferry", true}} {
		if got := matchBounded(roleARNRE, tc.s, 512); got != tc.want {
			t.Errorf("role ARN of %d bytes: %v, want %v", len(tc.s), got, tc.want)
		}
	}
}
