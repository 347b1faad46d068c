package hooks

import (
	"maps"
	"slices"
	"strings"

	"github.com/certferry/certferry/config"
)

// passThrough names the variables of certferry's own environment that exec hooks receive
// (PassThroughEnv); a name ending in "*" is a prefix. They configure where and how a hook's
// own tools reach AWS (region, profile, config files, endpoint, CA bundle) and its locale
// and time zone, and never hold a credential: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN and everything else stay out. PATH is not passed: hooks get the fixed
// DefaultBaseEnv PATH, so a hook behaves the same under systemd, in a Lambda and from a
// shell. Anything else a hook needs goes in its `env:` map in the configuration. The list
// is documented in docs/hooks.md, README.md and config.example.yaml.
var passThrough = []string{
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_*", "AWS_CA_BUNDLE",
	"TZ", "LANG", "LC_*",
}

// PassThroughEnv returns the base environment of exec hooks for a process whose
// environment is environ ("KEY=value", as os.Environ returns): DefaultBaseEnv followed by
// the variables environ sets among: AWS_REGION, AWS_DEFAULT_REGION, AWS_PROFILE,
// AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_*,
// AWS_CA_BUNDLE, TZ, LANG and LC_* (in environ's order). cmd passes the result as
// Deps.BaseEnv; this package never reads the process environment itself.
func PassThroughEnv(environ []string) []string {
	env := slices.Clone(DefaultBaseEnv)
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if ok && passed(k) {
			env = append(env, kv)
		}
	}
	return env
}

func passed(name string) bool {
	for _, p := range passThrough {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			// A bare prefix ("LC_", "AWS_ENDPOINT_URL_") is not a variable of its own.
			if strings.HasPrefix(name, prefix) && len(name) > len(prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// mergeEnv returns base with the variables of extra set: a name already in base takes
// extra's value in place, new names follow in sorted order (so the environment, and a test
// of it, is the same on every run). Every name appears once.
func mergeEnv(base []string, extra map[string]config.Secret) []string {
	if len(extra) == 0 {
		return slices.Clone(base)
	}
	out := make([]string, 0, len(base)+len(extra))
	done := map[string]bool{}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := extra[k]; ok {
			if !done[k] {
				out = append(out, k+"="+v.Reveal())
			}
			done[k] = true
			continue
		}
		out = append(out, kv)
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		if !done[k] {
			out = append(out, k+"="+extra[k].Reveal())
		}
	}
	return out
}
