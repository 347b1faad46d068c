package config

import (
	"maps"
	"net/url"
	"slices"
)

// RedactedValue is the text that replaces secret values in Redacted's copy.
const RedactedValue = "REDACTED"

// Redacted returns a deep copy of c that is safe to print: webhook secrets and the EAB HMAC key are
// replaced by "REDACTED", as are a webhook URL's password and query values (tokens often live
// there). Empty values stay empty, so a reader can tell "unset" from "set".
func (c *Config) Redacted() *Config {
	r := c.clone()
	if r.ACME.EAB != nil && r.ACME.EAB.HMACKey != "" {
		r.ACME.EAB.HMACKey = RedactedValue
	}
	for i := range r.Certificates {
		h := &r.Certificates[i].Hooks
		for _, list := range [][]Hook{h.OnRenew, h.OnFailure} {
			for j := range list {
				if w := list[j].Webhook; w != nil {
					if w.Secret != "" {
						w.Secret = RedactedValue
					}
					w.URL = redactURL(w.URL)
				}
			}
		}
	}
	return r
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	changed := false
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), RedactedValue)
		changed = true
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{RedactedValue}
		}
		u.RawQuery = q.Encode()
		changed = true
	}
	if !changed {
		return s
	}
	return u.String()
}

// clone returns a deep copy of c.
func (c *Config) clone() *Config {
	r := *c
	if c.ACME.EAB != nil {
		e := *c.ACME.EAB
		r.ACME.EAB = &e
	}
	r.Route53.Resolvers = slices.Clone(c.Route53.Resolvers)
	r.Warnings = slices.Clone(c.Warnings)
	r.Certificates = slices.Clone(c.Certificates)
	for i := range r.Certificates {
		cert := &r.Certificates[i]
		cert.Domains = slices.Clone(cert.Domains)
		if sm := cert.Sinks.SecretsManager; sm != nil {
			s := *sm
			s.Tags = maps.Clone(sm.Tags)
			cert.Sinks.SecretsManager = &s
		}
		if f := cert.Sinks.File; f != nil {
			ff := *f
			cert.Sinks.File = &ff
		}
		cert.Hooks.OnRenew = cloneHooks(cert.Hooks.OnRenew)
		cert.Hooks.OnFailure = cloneHooks(cert.Hooks.OnFailure)
	}
	return &r
}

func cloneHooks(hooks []Hook) []Hook {
	out := slices.Clone(hooks)
	for i := range out {
		h := &out[i]
		h.Exec = slices.Clone(h.Exec)
		h.Env = maps.Clone(h.Env)
		if h.Webhook != nil {
			w := *h.Webhook
			h.Webhook = &w
		}
		if h.ASGInstanceRefresh != nil {
			a := *h.ASGInstanceRefresh
			h.ASGInstanceRefresh = &a
		}
		if h.ECSRedeploy != nil {
			e := *h.ECSRedeploy
			h.ECSRedeploy = &e
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
