package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/certferry/certferry/internal/fileread"
	"github.com/certferry/certferry/internal/textcut"
)

// MaxFileSize bounds the configuration file Parse accepts.
const MaxFileSize = 1 << 20

// MaxProblems bounds the problems one ValidationError lists; a last one counts the rest.
const MaxProblems = 200

// maxNodes bounds the YAML nodes Parse visits, aliases included (a "billion laughs" file).
const maxNodes = 200_000

// Load reads the file at path and parses it with Parse. getenv looks up environment variables for
// ${NAME} expansion (cmd passes os.LookupEnv); nil means an empty environment. A
// *ValidationError from Load names the file on every line.
//
// The file must be a regular file of at most MaxFileSize bytes: a FIFO, a device (such as
// /dev/zero) or a directory is refused before anything is read, and a bigger file is
// refused after reading at most MaxFileSize+1 bytes, so a wrong path costs neither memory
// nor a blocked reload.
func Load(path string, getenv func(string) (string, bool)) (*Config, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data, getenv)
	if ve, ok := errors.AsType[*ValidationError](err); ok {
		ve.File = path
	}
	return c, err
}

// ReadFile reads a configuration file within the bounds Load documents: a regular file of
// at most MaxFileSize bytes. Its errors name the path.
func ReadFile(path string) ([]byte, error) {
	data, err := fileread.Regular(path, MaxFileSize)
	var nr *fileread.NotRegularError
	var tb *fileread.TooBigError
	switch {
	case errors.As(err, &nr):
		return nil, fmt.Errorf("config: load %s: %s; the configuration must be a regular file", path, nr.Kind)
	case errors.As(err, &tb):
		return nil, &ValidationError{File: path, Problems: []Problem{{Msg: fmt.Sprintf("file is %s; the limit is %d", tb.Size, MaxFileSize)}}}
	case err != nil:
		return nil, fmt.Errorf("config: load: %w", err)
	}
	return data, nil
}

// Parse decodes, defaults, normalises and validates a YAML configuration. Unknown keys are errors.
// ${NAME} and ${NAME:-default} are expanded in scalar values (never in keys) with getenv; nil
// means an empty environment. On failure it returns a *ValidationError holding every problem.
func Parse(data []byte, getenv func(string) (string, bool)) (*Config, error) {
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	if len(data) > MaxFileSize {
		return nil, &ValidationError{Problems: []Problem{{Msg: fmt.Sprintf("file is %d bytes; the limit is %d", len(data), MaxFileSize)}}}
	}
	root, prob := parseYAML(data)
	if prob != nil {
		return nil, &ValidationError{Problems: []Problem{*prob}}
	}
	d := &decoder{
		getenv:   getenv,
		lines:    map[string]int{},
		reported: map[string]bool{},
		budget:   maxNodes,
		c:        defaults(),
	}
	d.document(root)
	if d.budget < 0 {
		return nil, &ValidationError{Problems: []Problem{{Line: 1, Msg: "too many YAML nodes (aliases expand to more than 200000)"}}}
	}
	d.inherit()
	k := &checker{c: d.c, fix: true, lines: d.lines, reported: d.reported}
	k.check()
	probs := append(d.probs, k.probs...)
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
		if len(probs) > MaxProblems {
			more := len(probs) - MaxProblems
			probs = append(probs[:MaxProblems:MaxProblems], Problem{Msg: fmt.Sprintf("and %d more problems", more)})
		}
		return nil, &ValidationError{Problems: probs}
	}
	sort.SliceStable(k.warns, func(i, j int) bool { return k.warns[i].Line < k.warns[j].Line })
	for _, w := range k.warns {
		d.c.Warnings = append(d.c.Warnings, w.Error())
	}
	return d.c, nil
}

// Validate checks a Config built in code, or one that Parse returned, without applying defaults:
// every value must already be in the form Parse produces. Problems carry no line numbers.
func (c *Config) Validate() error {
	k := &checker{c: c, lines: map[string]int{}, reported: map[string]bool{}}
	k.check()
	if len(k.probs) > 0 {
		return &ValidationError{Problems: k.probs}
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// unquotedWildcardRE finds a plain (unquoted) scalar starting with "*.": in a sequence
// entry, a flow collection or after a key. YAML reads "*" there as an alias, and the
// parser's own message ("did not find expected alphabetic or numeric character") does
// not say that the wildcard needs quotes.
var unquotedWildcardRE = regexp.MustCompile(`(^\s*-\s+|[\[{,:]\s*)\*\.`)

// wildcardHint explains a YAML error on a line holding an unquoted wildcard name.
func wildcardHint(data []byte, line int) string {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) || !unquotedWildcardRE.Match(lines[line-1]) {
		return ""
	}
	return ` (a wildcard name must be quoted: "*.example.com"; unquoted, YAML reads "*" as an alias)`
}

// parseYAML returns the root node of the single document in data (nil for an empty file).
func parseYAML(data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		msg := err.Error()
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &Problem{Line: line, Msg: "invalid YAML: " + m[2] + wildcardHint(data, line)}
		}
		return nil, &Problem{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := 0
		if err == nil {
			line = extra.Line
		}
		return nil, &Problem{Line: line, Msg: "the file holds more than one YAML document (\"---\"); keep one"}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

// decoder walks the YAML nodes into a Config, recording the line of every path it meets and the
// problems of shape (wrong type, unknown key, bad ${}); the checker does the rest.
type decoder struct {
	getenv   func(string) (string, bool)
	c        *Config
	lines    map[string]int
	reported map[string]bool // paths with a decoding problem: the checker stays quiet about them
	probs    []Problem
	budget   int

	renewSet   []bool // per certificate: renew_before given explicitly
	persistSet []bool // per certificate: persist_until given explicitly
}

func (d *decoder) problem(path string, line int, format string, args ...any) {
	d.probs = append(d.probs, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, textcut.Args(args)...)})
	d.reported[path] = true
}

func child(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// node follows aliases and charges the node budget.
func (d *decoder) node(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.budget--
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

type field struct {
	key string
	fn  func(path string, n *yaml.Node)
}

// object decodes a mapping by dispatching each key to its field; a null value is an empty
// mapping. It returns the keys present.
func (d *decoder) object(n *yaml.Node, path string, what string, fields []field) map[string]bool {
	n = d.node(n)
	present := map[string]bool{}
	if isNull(n) || d.budget < 0 {
		return present
	}
	if n.Kind != yaml.MappingNode {
		d.problem(path, n.Line, "expected %s, got %s", what, describe(n))
		return present
	}
	d.lines[path] = n.Line
	var guesses []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := d.node(n.Content[i]), n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			d.problem(path, kn.Line, "a key must be a plain string, got %s", describe(kn))
			continue
		}
		key := kn.Value
		p := child(path, key)
		if _, seen := present[key]; seen {
			d.problem(p, kn.Line, "duplicate key (first on line %d)", d.lines[p])
			continue
		}
		present[key] = true
		d.lines[p] = kn.Line
		var f *field
		for j := range fields {
			if fields[j].key == key {
				f = &fields[j]
			}
		}
		if f == nil {
			hint, guess := suggest(key, fields)
			d.problem(p, kn.Line, "unknown key %q%s", key, hint)
			if guess != "" {
				guesses = append(guesses, guess)
			}
			continue
		}
		f.fn(p, vn)
	}
	// A misspelt key is most likely the one suggested: do not also report that one as missing.
	for _, g := range guesses {
		if !present[g] {
			d.reported[child(path, g)] = true
		}
	}
	return present
}

// suggest names the closest known key (returned as guess), or lists them all.
func suggest(key string, fields []field) (hint, guess string) {
	if key == "<<" {
		return " (YAML merge keys are not supported; repeat the keys, or alias a whole value with *anchor)", ""
	}
	best, bestDist := "", 1<<30
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.key
		dist := levenshtein(strings.ToLower(key), f.key)
		if len(key) >= 3 && (strings.HasPrefix(f.key, key) || strings.HasPrefix(key, f.key)) {
			dist = 1 // kms_key for kms_key_id, domain for domains
		}
		if dist < bestDist {
			best, bestDist = f.key, dist
		}
	}
	if bestDist <= 2 || bestDist <= len(key)/3 {
		return fmt.Sprintf(" (did you mean %q?)", best), best
	}
	return " (known keys: " + strings.Join(names, ", ") + ")", ""
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalar returns the expanded value of a scalar node; null is "". ok is false after a problem.
func (d *decoder) scalar(n *yaml.Node, path, what string) (string, bool) {
	return d.scalarOf(n, path, what, expand)
}

// sensitiveScalar is scalar for a value that may hold a secret: its problems never quote it.
func (d *decoder) sensitiveScalar(n *yaml.Node, path, what string) (string, bool) {
	return d.scalarOf(n, path, what, expandSensitive)
}

func (d *decoder) scalarOf(n *yaml.Node, path, what string, expandFn func(string, func(string) (string, bool)) (string, error)) (string, bool) {
	n = d.node(n)
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		d.problem(path, n.Line, "expected %s, got %s", what, describe(n))
		return "", false
	}
	v, err := expandFn(n.Value, d.getenv)
	if err != nil {
		d.problem(path, n.Line, "%s", err.Error())
		return "", false
	}
	return v, true
}

func (d *decoder) line(n *yaml.Node) int {
	if n = d.node(n); n != nil {
		return n.Line
	}
	return 0
}

func (d *decoder) str(dst *string) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		if v, ok := d.scalar(n, p, "a string"); ok {
			*dst = v
		}
	}
}

// sensitiveStr decodes a string that may hold a token (a webhook URL): problems never quote it.
func (d *decoder) sensitiveStr(dst *string) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		if v, ok := d.sensitiveScalar(n, p, "a string"); ok {
			*dst = v
		}
	}
}

// secret decodes a Secret: problems never quote it.
func (d *decoder) secret(dst *Secret) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		if v, ok := d.sensitiveScalar(n, p, "a string"); ok {
			*dst = Secret(v)
		}
	}
}

func (d *decoder) integer(dst *int) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		v, ok := d.scalar(n, p, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			d.problem(p, d.line(n), "%q: not a whole number", v)
			return
		}
		*dst = i
	}
}

func (d *decoder) number(dst *float64) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		v, ok := d.scalar(n, p, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f != f || f > 1e12 || f < -1e12 {
			d.problem(p, d.line(n), "%q: not a number", v)
			return
		}
		*dst = f
	}
}

func (d *decoder) boolean(dst *bool) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		v, ok := d.scalar(n, p, "true or false")
		if !ok {
			return
		}
		switch strings.TrimSpace(v) {
		case "true", "True", "TRUE":
			*dst = true
		case "false", "False", "FALSE":
			*dst = false
		default:
			d.problem(p, d.line(n), "%q: write true or false", v)
		}
	}
}

func (d *decoder) duration(dst *time.Duration, set *bool) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		v, ok := d.scalar(n, p, "a duration")
		if !ok {
			return
		}
		if set != nil {
			*set = true
		}
		if isNull(d.node(n)) || strings.TrimSpace(v) == "" {
			*dst = 0
			return
		}
		t, err := ParseDuration(v)
		if err != nil {
			d.problem(p, d.line(n), "%s", err.Error())
			return
		}
		*dst = t
	}
}

// list decodes a sequence; null is an empty list. Items keep their index even when they fail.
func (d *decoder) list(n *yaml.Node, path, what string, each func(i int, p string, item *yaml.Node)) {
	n = d.node(n)
	if isNull(n) || d.budget < 0 {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(path, n.Line, "expected %s, got %s", what, describe(n))
		return
	}
	for i, item := range n.Content {
		if d.budget < 0 {
			return
		}
		p := index(path, i)
		d.lines[p] = d.line(item)
		each(i, p, item)
	}
}

func (d *decoder) strings(dst *[]string, what string) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		out := []string{}
		d.list(n, p, what, func(_ int, ip string, item *yaml.Node) {
			v, _ := d.scalar(item, ip, "a string")
			out = append(out, v)
		})
		*dst = out
	}
}

func (d *decoder) document(root *yaml.Node) {
	c := d.c
	if root != nil {
		d.lines[""] = root.Line
	}
	d.object(root, "", "a mapping of settings", []field{
		{"acme", d.acme},
		{"aws", func(p string, n *yaml.Node) {
			d.object(n, p, "a mapping", []field{
				{"region", d.str(&c.AWS.Region)},
				{"endpoint_url", d.str(&c.AWS.EndpointURL)},
				{"profile", d.str(&c.AWS.Profile)},
				{"assume_role_arn", d.str(&c.AWS.AssumeRoleARN)},
				{"external_id", d.str(&c.AWS.ExternalID)},
				{"secretsmanager", d.role(&c.AWS.SecretsManager)},
			})
		}},
		{"dns", d.dns},
		{"route53", func(p string, n *yaml.Node) {
			d.object(n, p, "a mapping", []field{
				{"insync_timeout", d.duration(&c.Route53.InsyncTimeout, nil)},
				{"propagation_check", d.boolean(&c.Route53.PropagationCheck)},
				{"resolvers", d.strings(&c.Route53.Resolvers, "a list of host:port")},
			})
		}},
		{"schedule", d.schedule},
		{"concurrency", d.integer(&c.Concurrency)},
		{"renew_before", d.duration(&c.RenewBefore, nil)},
		{"issuance_guard", d.duration(&c.IssuanceGuard, nil)},
		{"challenge", d.str(&c.Challenge)},
		{"persist_until", d.duration(&c.PersistUntil, nil)},
		{"log", func(p string, n *yaml.Node) {
			d.object(n, p, "a mapping", []field{
				{"level", d.str(&c.Log.Level)},
				{"format", d.str(&c.Log.Format)},
			})
		}},
		{"listen", d.str(&c.Listen)},
		{"health_refresh", d.duration(&c.HealthRefresh, nil)},
		{"coordination", func(p string, n *yaml.Node) {
			co := Coordination{LeaseDuration: DefaultLeaseDuration}
			d.object(n, p, "a mapping with dynamodb_table and lease_duration", []field{
				{"dynamodb_table", d.str(&co.DynamoDBTable)},
				{"lease_duration", d.duration(&co.LeaseDuration, nil)},
			})
			// Present, even empty (its keys commented out), it asks for a lease: a table
			// left out is an error, never a silent run without coordination.
			c.Coordination = &co
		}},
		{"certificates", func(p string, n *yaml.Node) {
			d.list(n, p, "a list of certificates", d.certificate)
		}},
	})
}

func (d *decoder) acme(p string, n *yaml.Node) {
	a := &d.c.ACME
	d.object(n, p, "a mapping", []field{
		{"directory", d.str(&a.Directory)},
		{"email", d.str(&a.Email)},
		{"ca_bundle", d.str(&a.CABundle)},
		{"issuer_roots", d.str(&a.IssuerRoots)},
		{"account_store", func(p string, n *yaml.Node) {
			v, ok := d.scalar(n, p, "a string")
			if !ok {
				return
			}
			if dir, isFile := strings.CutPrefix(v, AccountStoreFile+":"); isFile {
				a.AccountStore = AccountStore{Kind: AccountStoreFile, Dir: dir}
			} else {
				a.AccountStore = AccountStore{Kind: v}
			}
		}},
		{"account_secret", d.str(&a.AccountSecret)},
		{"eab", func(p string, n *yaml.Node) {
			var e EAB
			d.object(n, p, "a mapping with kid and hmac_key", []field{
				{"kid", d.str(&e.KID)},
				{"hmac_key", d.secret(&e.HMACKey)},
			})
			if e != (EAB{}) {
				a.EAB = &e
			}
		}},
		{"requests_per_second", d.number(&a.RequestsPerSecond)},
		{"rate_limits", func(p string, n *yaml.Node) {
			var fields []field
			for i, f := range a.RateLimits.Fields() {
				fields = append(fields, field{RateLimitKeys[i], func(p string, n *yaml.Node) {
					d.object(n, p, "a mapping with per_second and burst", []field{
						{"per_second", d.number(&f.PerSecond)},
						{"burst", d.integer(&f.Burst)},
					})
				}})
			}
			d.object(n, p, "a mapping of endpoint classes ("+strings.Join(RateLimitKeys, ", ")+")", fields)
		}},
		{"max_retry_after", d.duration(&a.MaxRetryAfter, nil)},
		{"profile", d.str(&a.Profile)},
		{"ari", d.boolean(&a.ARI)},
		{"limits", func(p string, n *yaml.Node) {
			var fields []field
			for i, l := range a.Limits.Fields() {
				fields = append(fields, field{LimitKeys[i], d.limit(l)})
			}
			d.object(n, p, "a mapping of limits ("+strings.Join(LimitKeys, ", ")+")", fields)
		}},
	})
}

// limit decodes "N/DURATION" or "none".
func (d *decoder) limit(dst *Limit) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		v, ok := d.scalar(n, p, "N/DURATION")
		if !ok {
			return
		}
		l, err := ParseLimit(v)
		if err != nil {
			d.problem(p, d.line(n), "%s", err.Error())
			return
		}
		*dst = l
	}
}

func (d *decoder) schedule(p string, n *yaml.Node) {
	s := &d.c.Schedule
	if nn := d.node(n); nn != nil && nn.Kind == yaml.ScalarNode {
		d.str(&s.Cron)(p, n)
		return
	}
	d.object(n, p, "a cron string or a mapping with cron, jitter, min_period and interval", []field{
		{"cron", d.str(&s.Cron)},
		{"jitter", d.duration(&s.Jitter, nil)},
		{"min_period", d.duration(&s.MinPeriod, nil)},
		{"interval", d.duration(&s.Interval, nil)},
	})
}

func (d *decoder) certificate(i int, p string, n *yaml.Node) {
	d.c.Certificates = append(d.c.Certificates, Certificate{KeyType: DefaultKeyType})
	d.renewSet = append(d.renewSet, false)
	d.persistSet = append(d.persistSet, false)
	c := &d.c.Certificates[i]
	d.object(n, p, "a mapping (one certificate)", []field{
		{"name", d.str(&c.Name)},
		{"domains", d.strings(&c.Domains, "a list of names")},
		{"key_type", func(p string, n *yaml.Node) {
			var s string
			d.str(&s)(p, n)
			c.KeyType = KeyType(s)
		}},
		{"profile", d.str(&c.Profile)},
		{"hosted_zone_id", d.str(&c.HostedZoneID)},
		{"dns", d.certDNS(c)},
		{"renew_before", d.duration(&c.RenewBefore, &d.renewSet[i])},
		{"challenge", d.str(&c.Challenge)},
		{"persist_until", d.duration(&c.PersistUntil, &d.persistSet[i])},
		{"sinks", func(p string, n *yaml.Node) {
			d.object(n, p, "a mapping of sinks", []field{
				{"secretsmanager", func(p string, n *yaml.Node) {
					s := &SecretsManagerSink{}
					c.Sinks.SecretsManager = s
					d.object(n, p, "a mapping", []field{
						{"secret", d.str(&s.Secret)},
						{"kms_key_id", d.str(&s.KMSKeyID)},
						{"description", d.str(&s.Description)},
						{"tags", func(p string, n *yaml.Node) { s.Tags = d.tags(p, n) }},
					})
				}},
				{"file", func(p string, n *yaml.Node) {
					f := &FileSink{}
					c.Sinks.File = f
					d.object(n, p, "a mapping", []field{
						{"dir", d.str(&f.Dir)},
						{"owner", d.str(&f.Owner)},
						{"group", d.str(&f.Group)},
					})
				}},
			})
		}},
		{"hooks", func(p string, n *yaml.Node) {
			d.object(n, p, "a mapping with on_renew and on_failure", []field{
				{"on_renew", func(p string, n *yaml.Node) { c.Hooks.OnRenew = d.hooks(p, n) }},
				{"on_failure", func(p string, n *yaml.Node) { c.Hooks.OnFailure = d.hooks(p, n) }},
			})
		}},
	})
}

func (d *decoder) tags(p string, n *yaml.Node) map[string]string {
	n = d.node(n)
	tags := map[string]string{}
	if isNull(n) {
		return tags
	}
	if n.Kind != yaml.MappingNode {
		d.problem(p, n.Line, "expected a mapping of tag keys to values, got %s", describe(n))
		return tags
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := d.node(n.Content[i])
		if kn.Kind != yaml.ScalarNode {
			d.problem(p, kn.Line, "a tag key must be a string, got %s", describe(kn))
			continue
		}
		kp := child(p, kn.Value)
		if _, dup := tags[kn.Value]; dup {
			d.problem(kp, kn.Line, "duplicate key (first on line %d)", d.lines[kp])
			continue
		}
		d.lines[kp] = kn.Line
		v, _ := d.scalar(n.Content[i+1], kp, "a string")
		tags[kn.Value] = v
	}
	return tags
}

// env decodes an exec hook's env: a mapping of variable names to values. Values may hold a
// token, so its problems never quote them.
func (d *decoder) env(p string, n *yaml.Node) map[string]Secret {
	n = d.node(n)
	env := map[string]Secret{}
	if isNull(n) {
		return env
	}
	if n.Kind != yaml.MappingNode {
		d.problem(p, n.Line, "expected a mapping of environment variable names to values, got %s", describe(n))
		return env
	}
	d.lines[p] = n.Line
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := d.node(n.Content[i])
		if kn.Kind != yaml.ScalarNode {
			d.problem(p, kn.Line, "a variable name must be a string, got %s", describe(kn))
			continue
		}
		kp := child(p, kn.Value)
		if _, dup := env[kn.Value]; dup {
			d.problem(kp, kn.Line, "duplicate key (first on line %d)", d.lines[kp])
			continue
		}
		d.lines[kp] = kn.Line
		v, _ := d.sensitiveScalar(n.Content[i+1], kp, "a string")
		env[kn.Value] = Secret(v)
	}
	return env
}

func (d *decoder) hooks(p string, n *yaml.Node) []Hook {
	hooks := []Hook{}
	d.list(n, p, "a list of hooks", func(_ int, hp string, item *yaml.Node) {
		var h Hook
		var timeout, webhookTimeout time.Duration
		var timeoutSet, webhookTimeoutSet bool
		d.object(item, hp, "a mapping (one hook)", []field{
			{"exec", func(p string, n *yaml.Node) {
				if nn := d.node(n); nn != nil && nn.Kind == yaml.ScalarNode && !isNull(nn) {
					d.problem(p, nn.Line, "exec takes an argv list, not a command string: write [%q, ...] (for a shell: [\"/bin/sh\", \"-c\", \"...\"])", strings.Fields(nn.Value + " x")[0])
					h.Exec = []string{}
					return
				}
				d.strings(&h.Exec, "an argv list")(p, n)
			}},
			{"env", func(p string, n *yaml.Node) { h.Env = d.env(p, n) }},
			{"webhook", func(p string, n *yaml.Node) {
				w := &Webhook{}
				h.Webhook = w
				d.object(n, p, "a mapping with url and secret", []field{
					{"url", d.sensitiveStr(&w.URL)},
					{"secret", d.secret(&w.Secret)},
					{"timeout", d.duration(&webhookTimeout, &webhookTimeoutSet)},
				})
			}},
			{"asg_instance_refresh", func(p string, n *yaml.Node) {
				a := &ASGInstanceRefresh{MinHealthyPercentage: DefaultMinHealthyPercentage}
				h.ASGInstanceRefresh = a
				d.object(n, p, "a mapping with name", []field{
					{"name", d.str(&a.Name)},
					{"min_healthy_percentage", d.integer(&a.MinHealthyPercentage)},
				})
			}},
			{"ecs_redeploy", func(p string, n *yaml.Node) {
				e := &ECSRedeploy{}
				h.ECSRedeploy = e
				d.object(n, p, "a mapping with cluster and service", []field{
					{"cluster", d.str(&e.Cluster)},
					{"service", d.str(&e.Service)},
				})
			}},
			{"timeout", d.duration(&timeout, &timeoutSet)},
		})
		switch {
		case timeoutSet && webhookTimeoutSet:
			d.problem(child(hp, "timeout"), d.lines[child(hp, "timeout")], "set the timeout once: either here or as webhook.timeout")
		case webhookTimeoutSet:
			h.Timeout, timeoutSet = webhookTimeout, true
		case timeoutSet:
			h.Timeout = timeout
		}
		if !timeoutSet {
			switch h.Kind() {
			case HookExec:
				h.Timeout = DefaultExecTimeout
			case HookWebhook:
				h.Timeout = DefaultWebhookTimeout
			case HookASGInstanceRefresh, HookECSRedeploy:
				h.Timeout = DefaultAWSHookTimeout
			}
		}
		hooks = append(hooks, h)
	})
	return hooks
}

// inherit copies the file-level renew_before, acme.profile, challenge and persist_until into
// certificates that set none.
func (d *decoder) inherit() {
	for i := range d.c.Certificates {
		c := &d.c.Certificates[i]
		if !d.renewSet[i] {
			c.RenewBefore = d.c.RenewBefore
		}
		if c.Profile == "" {
			c.Profile = d.c.ACME.Profile
		}
		if c.Challenge == "" {
			c.Challenge = d.c.Challenge
		}
		if !d.persistSet[i] {
			c.PersistUntil = d.c.PersistUntil
		}
	}
}
