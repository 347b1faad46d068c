package e2etest

import "strings"

// CertYAML is one entry of a configuration's certificates list as most tests write it:
// name, domains (quoted: a wildcard is fine), the sandbox's "default" profile (Pebble
// picks a random one otherwise) and a Secrets Manager sink named "certferry/<name>".
// The entry ends inside its sinks mapping, so a test adds to it by appending lines:
// indented six spaces they add a sink (`      file: { dir: {{files}} }`), indented
// four a key of the certificate (`    key_type: ec256`, a hooks block).
func CertYAML(name string, domains ...string) string {
	return "  - name: " + name + "\n" +
		`    domains: ["` + strings.Join(domains, `", "`) + "\"]\n" +
		"    profile: default\n" +
		"    sinks:\n" +
		"      secretsmanager: { secret: certferry/" + name + " }\n"
}

// CertsYAML is a certificates list of entries (CertYAML's).
func CertsYAML(entries ...string) string {
	return "certificates:\n" + strings.Join(entries, "")
}
