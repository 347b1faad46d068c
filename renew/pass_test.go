package renew

// Fast tests of the pass with hand-written fakes of the CA, DNS and the secret store:
// the logic of planning, state, conditions, preflight and the challenge journal, with
// no network and no Pebble. The end-to-end tests (*_e2e_test.go) cover the wire.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/scheduler"
	"github.com/certferry/certferry/sinks/file"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// fakeCA issues real certificates from a throwaway CA.
type fakeCA struct {
	t  *testing.T
	ca *certstest.CA
	mu sync.Mutex
	// begins counts orders; failComplete fails the next Complete calls.
	begins       int
	failComplete int
	orders       map[string][]acme.OrderRecord // order URL -> its records (OrderRecords)
	// newOrderErr, when set, answers a new order (nil: accepted).
	newOrderErr func(acme.OrderRequest) error
	stopUntil   time.Time // for newOrderErr: the CA refuses new orders before it
	now         func() time.Time
	base        string // the CA's URL, before /order/N; "" for https://ca.test
	reads       int    // OrderRecords calls
}

func (f *fakeCA) Begin(ctx context.Context, req acme.OrderRequest) (o *acme.Order, err error) {
	// The new order passes req.Gate, as the ACME client sends it.
	if req.Gate != nil {
		if err := req.Gate.Enter(ctx); err != nil {
			return nil, err
		}
		defer func() { req.Gate.Leave(err) }()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.newOrderErr != nil {
		if err := f.newOrderErr(req); err != nil {
			return nil, err
		}
	}
	f.begins++
	base := f.base
	if base == "" {
		base = "https://ca.test"
	}
	o = &acme.Order{Request: req, URL: fmt.Sprintf("%s/order/%d", base, f.begins)}
	for i, d := range req.Domains {
		o.Challenges = append(o.Challenges, acme.Challenge{Domain: d,
			FQDN: "_acme-challenge." + strings.TrimPrefix(d, "*.") + ".", Value: fmt.Sprintf("v%d-%d", f.begins, i)})
	}
	return o, nil
}

func (f *fakeCA) Complete(_ context.Context, o *acme.Order) (*acme.Certificate, error) {
	f.mu.Lock()
	if f.failComplete > 0 {
		f.failComplete--
		f.mu.Unlock()
		return nil, errors.New("acme: complete order: injected failure")
	}
	f.mu.Unlock()
	nb := f.now().Add(-time.Minute)
	full, key := f.ca.Issue(f.t, certstest.Leaf{Domains: o.Request.Domains, NotBefore: nb, NotAfter: nb.Add(90 * 24 * time.Hour), KeyType: o.Request.KeyType})
	return &acme.Certificate{Domains: o.Request.Domains, FullchainPEM: full, Key: certs.NewPrivateKeyPEM([]byte(key))}, nil
}

func (f *fakeCA) Abandon(context.Context, *acme.Order) error { return nil }

func (f *fakeCA) RenewalInfoByID(context.Context, string) (*acme.RenewalInfo, error) {
	return nil, errors.New("no ARI here")
}

func (f *fakeCA) OrderRecords(_ context.Context, u string) ([]acme.OrderRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	recs, ok := f.orders[u]
	if !ok {
		return nil, errors.New("no such order")
	}
	return recs, nil
}

// fakeDNS keeps published values per name; names under a suffix in noZone have no zone.
type fakeDNS struct {
	mu       sync.Mutex
	noZone   []string
	values   map[string]map[string]bool // fqdn -> values
	presents int
	// onPresent, when set, is called before a Present publishes (what the state holds
	// then is what a run killed right after publishing leaves).
	onPresent func()
}

func (d *fakeDNS) Resolve(_ context.Context, recs []Record) []error {
	errs := make([]error, len(recs))
	for i, r := range recs {
		for _, z := range d.noZone {
			if strings.HasSuffix(r.FQDN, z) {
				errs[i] = fmt.Errorf("route53: find zone for %s: no hosted zone contains the name", strings.TrimSuffix(r.FQDN, "."))
			}
		}
	}
	return errs
}

func (d *fakeDNS) Present(_ context.Context, recs []Record) []error {
	if d.onPresent != nil {
		d.onPresent()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.presents++
	for _, r := range recs {
		if d.values[r.FQDN] == nil {
			d.values[r.FQDN] = map[string]bool{}
		}
		d.values[r.FQDN][r.Value] = true
	}
	return make([]error, len(recs))
}

func (d *fakeDNS) CleanUp(_ context.Context, recs []Record) []error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range recs {
		delete(d.values[r.FQDN], r.Value)
	}
	return make([]error, len(recs))
}

func (d *fakeDNS) left() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, v := range d.values {
		n += len(v)
	}
	return n
}

// fakeSecret is one secret of fakeSecrets.
type fakeSecret struct {
	arn     string
	bundle  *certs.Bundle // nil: no value
	foreign bool          // holds something certferry did not write
	getErr  error         // GetStage's answer, when set
	tags    map[string]string
}

// fakeSecrets is the Secrets Manager sink, in memory.
type fakeSecrets struct {
	mu       sync.Mutex
	secrets  map[string]*fakeSecret
	failSave int
	failTags int // WriteTags calls to refuse
	saves    int
	writes   int // WriteTags calls
	// probes counts CheckTagging calls, failProbe answers them, probeChanges counts those
	// that would have changed a tag.
	probes, probeChanges int
	failProbe            error
	// overwrite is merged into the secret's tags right after the next WriteTags: another
	// runner's write that follows it.
	overwrite map[string]string
}

func (s *fakeSecrets) Inventory(context.Context) (map[string]smsink.Stored, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]smsink.Stored{}
	for name, sec := range s.secrets {
		if sec.tags[smsink.TagName] == "" {
			continue
		}
		st := smsink.Stored{Name: sec.tags[smsink.TagName], Secret: name, ARN: sec.arn, Tags: maps.Clone(sec.tags)}
		if b := sec.bundle; b != nil {
			st.CurrentVersionID, st.VersionID, st.TagsCurrent = smsink.Token(b), smsink.Token(b), true
			st.Domains, st.KeyType, st.NotBefore, st.NotAfter, st.Serial = b.Domains, b.KeyType, b.NotBefore, b.NotAfter, b.Serial
			st.Profile, st.Directory = sec.tags[smsink.TagProfile], sec.tags[smsink.TagDirectory]
			st.DomainsHash = b.DomainsHash()
		}
		out[name] = st
	}
	return out, nil
}

func (s *fakeSecrets) Inspect(_ context.Context, t smsink.Target) (smsink.Inspection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[t.Secret]
	if !ok {
		return smsink.Inspection{}, nil
	}
	return smsink.Inspection{Exists: true, ARN: sec.arn, HasValue: sec.bundle != nil || sec.foreign, Name: sec.tags[smsink.TagName], Tags: maps.Clone(sec.tags)}, nil
}

func (s *fakeSecrets) Save(_ context.Context, t smsink.Target, b *certs.Bundle, opts smsink.StoreOptions) (smsink.Saved, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if s.failSave > 0 {
		s.failSave--
		return smsink.Saved{}, errors.New("secretsmanager: put: injected failure")
	}
	sec := s.secret(t.Secret)
	sec.bundle = b // the value only: the tags follow with WriteTags
	return smsink.Saved{VersionID: smsink.Token(b), ARN: sec.arn}, nil
}

func (s *fakeSecrets) GetStage(_ context.Context, name, _ string) (*certs.Bundle, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[name]
	switch {
	case !ok:
		return nil, "", smsink.ErrNotFound
	case sec.getErr != nil:
		return nil, "", sec.getErr
	case sec.foreign:
		return nil, "", fmt.Errorf("%w: not JSON", smsink.ErrCorruptStored)
	case sec.bundle == nil:
		return nil, "", smsink.ErrNotFound
	}
	return sec.bundle, smsink.Token(sec.bundle), nil
}

func (s *fakeSecrets) WriteTags(_ context.Context, t smsink.Target, tg smsink.Tagging) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.failTags > 0 {
		s.failTags--
		return errors.New("AccessDeniedException: not authorized to perform secretsmanager:TagResource")
	}
	if _, ok := s.secrets[t.Secret]; !ok {
		if tg.Name == "" {
			return smsink.ErrNotFound
		}
		s.secret(t.Secret).tags[smsink.TagName] = tg.Name // created to hold the tags
	}
	sec := s.secrets[t.Secret]
	if b := tg.Bundle; b != nil {
		sec.tags[smsink.TagName], sec.tags[smsink.TagProfile], sec.tags[smsink.TagDirectory] = b.Name, tg.Profile, tg.Directory
	}
	merge(sec.tags, tg.State)
	if s.overwrite != nil {
		merge(sec.tags, s.overwrite)
		s.overwrite = nil
	}
	return nil
}

func (s *fakeSecrets) CheckTagging(_ context.Context, t smsink.Target, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probes++
	if sec, ok := s.secrets[t.Secret]; !ok || sec.tags[smsink.TagName] != name {
		s.probeChanges++ // it would have changed a tag: a bug
	}
	return s.failProbe
}

// setState is WriteTags of state tags, for a test's setup.
func (s *fakeSecrets) setState(t *testing.T, secret, name string, tags map[string]string) {
	if err := s.WriteTags(t.Context(), smsink.Target{Secret: secret}, smsink.Tagging{Name: name, State: tags}); err != nil {
		t.Fatal(err)
	}
}

// secret returns the named secret, creating it without a value.
func (s *fakeSecrets) secret(name string) *fakeSecret {
	sec, ok := s.secrets[name]
	if !ok {
		sec = &fakeSecret{arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name + "-AbCdEf", tags: map[string]string{}}
		s.secrets[name] = sec
	}
	return sec
}

func (s *fakeSecrets) tags(name string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec, ok := s.secrets[name]; ok {
		return maps.Clone(sec.tags)
	}
	return nil
}

func merge(dst, src map[string]string) {
	for k, v := range src {
		if v == "" {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

// fakeFiles is the file sink, in memory.
type fakeFiles struct {
	mu      sync.Mutex
	files   map[string]*certs.Bundle
	saveCtx []context.Context            // the context of every SaveState
	state   map[string]map[string]string // the state file of each directory, as saved
}

func (f *fakeFiles) Store(_ context.Context, t file.Target, b *certs.Bundle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[t.Dir] = b
	return nil
}

func (f *fakeFiles) Preflight(file.Target) error { return nil }

func (f *fakeFiles) LoadState(t file.Target) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := maps.Clone(f.state[t.Dir])
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

func (f *fakeFiles) SaveState(ctx context.Context, t file.Target, tags map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saveCtx = append(f.saveCtx, ctx)
	if ctx.Err() == nil {
		if f.state == nil {
			f.state = map[string]map[string]string{}
		}
		f.state[t.Dir] = maps.Clone(tags)
	}
	return ctx.Err()
}

func (f *fakeFiles) Load(dir string) (*certs.Bundle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.files[dir]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("load %s: %w", dir, errNotExist)
}

var errNotExist = fs.ErrNotExist

// world is one set of fakes and a clock; runner builds Runners on them that share one
// Memory, as the runners of one process do.
type world struct {
	t       *testing.T
	ca      *fakeCA
	dns     *fakeDNS
	secrets *fakeSecrets
	files   *fakeFiles
	mem     *Memory
	now     time.Time
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, dns: &fakeDNS{values: map[string]map[string]bool{}}, secrets: &fakeSecrets{secrets: map[string]*fakeSecret{}},
		files: &fakeFiles{files: map[string]*certs.Bundle{}}, mem: NewMemory(), now: time.Now()}
	w.ca = &fakeCA{t: t, ca: certstest.NewCA(t), orders: map[string][]acme.OrderRecord{}, now: func() time.Time { return w.now }}
	return w
}

func (w *world) runner(cs ...Cert) *Runner {
	return New(cs, Settings{Concurrency: 4, Guard: 24 * time.Hour, Roots: w.ca.ca.Roots, Directory: "https://ca.test/dir", AccountSecret: "certferry/acme-account"}, Deps{
		ACME:    func(context.Context) (ACME, error) { return w.ca, nil },
		DNS:     w.dns,
		Secrets: w.secrets,
		Files:   w.files,
		Now:     func() time.Time { return w.now },
		Rand:    func() float64 { return 0 },
		Memory:  w.mem,
	})
}

func (w *world) pass(r *Runner, opts Options) *Summary {
	w.t.Helper()
	sum, err := r.Pass(w.t.Context(), opts)
	if err != nil {
		w.t.Fatalf("pass: %v", err)
	}
	return sum
}

func only(t *testing.T, sum *Summary) *Result {
	t.Helper()
	if len(sum.Results) != 1 {
		t.Fatalf("%d results", len(sum.Results))
	}
	return sum.Results[0]
}

func webCert() Cert {
	return Cert{Name: "web", Domains: []string{"www.example.com", "example.com"}, KeyType: "ec256", Secret: &smsink.Target{Secret: "certferry/web"}}
}

func TestPassIssuesAndIsReady(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.runner(webCert())
	res := only(t, w.pass(r, Options{}))
	if res.Action != ActionIssue || res.Condition != ConditionReady || res.Err() != nil || res.Serial == "" || res.DueAt.IsZero() {
		t.Fatalf("first pass: %+v", res)
	}
	if w.dns.left() != 0 {
		t.Errorf("%d DNS-01 values left", w.dns.left())
	}
	for k := range w.secrets.tags("certferry/web") {
		if strings.HasPrefix(k, smsink.TagChallenges) {
			t.Errorf("journal entry %s left after a clean pass", k)
		}
	}
	res = only(t, w.pass(r, Options{}))
	if res.Action != ActionSkip || res.Reason != scheduler.ReasonNotDue || res.Condition != ConditionReady || w.ca.begins != 1 {
		t.Fatalf("second pass: %+v, %d orders", res, w.ca.begins)
	}
}

// A failed store keeps the issued certificate in the shared Memory: the next pass (of a
// new Runner, as after a reload) stores it without a new order, and the certificate is
// failing until then, with its attempt counted and its backoff recorded.
func TestPassStoreFailureThenStored(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.secrets.failSave = 1
	res := only(t, w.pass(w.runner(webCert()), Options{}))
	if res.Condition != ConditionFailing || !res.NewFailure || res.Attempts != 1 || res.NextAttempt.IsZero() || !strings.Contains(res.LastError, "injected") {
		t.Fatalf("failed store: %+v", res)
	}
	if tags := w.secrets.tags("certferry/web"); tags[smsink.TagFailures] != "1" || tags[smsink.TagFailingSince] == "" {
		t.Errorf("backoff not recorded: %v", tags)
	}
	w.now = w.now.Add(time.Second) // still in backoff: storing asks nothing of the CA
	res = only(t, w.pass(w.runner(webCert()), Options{}))
	if res.Action != ActionStore || res.Reason != ReasonUnstored || res.Condition != ConditionReady || w.ca.begins != 1 {
		t.Fatalf("second pass: %+v, %d orders", res, w.ca.begins)
	}
	if tags := w.secrets.tags("certferry/web"); tags[smsink.TagFailures] != "" || tags[smsink.TagLastError] != "" {
		t.Errorf("backoff not cleared: %v", tags)
	}
}

// A certificate waiting in backoff is failing on every pass that skips it, not "ok".
func TestPassBackoffStaysFailing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ca.failComplete = 1
	r := w.runner(webCert())
	if res := only(t, w.pass(r, Options{})); res.Condition != ConditionFailing || !res.NewFailure {
		t.Fatalf("first pass: %+v", res)
	}
	sum := w.pass(r, Options{})
	res := only(t, sum)
	if res.Reason != scheduler.ReasonBackoff || res.Condition != ConditionFailing || res.NewFailure || res.Attempts != 1 || sum.Failing() != 1 || sum.Failed() != 0 {
		t.Fatalf("skipped in backoff: %+v", res)
	}
	w.now = w.now.Add(2 * time.Minute)
	if res := only(t, w.pass(r, Options{})); res.Condition != ConditionReady || res.Attempts != 0 {
		t.Fatalf("after the backoff: %+v", res)
	}
}

// Preflight: a secret holding something certferry did not write, the account's secret,
// and one secret named twice (by name and by ARN) are each refused before any order,
// with no backoff recorded.
func TestPassPreflightRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(w *world) []Cert
		want  string
	}{
		{"foreign secret", func(w *world) []Cert {
			w.secrets.secret("certferry/web").foreign = true
			return []Cert{webCert()}
		}, "holds something certferry did not write"},
		{"account secret", func(w *world) []Cert {
			c := webCert()
			c.Secret.Secret = "certferry/acme-account"
			return []Cert{c}
		}, "is the ACME account's secret"},
		{"one secret twice", func(w *world) []Cert {
			w.secrets.setState(t, "certferry/web", "web", map[string]string{"certferry:x": "1"})
			other := webCert()
			other.Name, other.Domains = "api", []string{"api.example.com"}
			other.Secret = &smsink.Target{Secret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:certferry/web"}
			return []Cert{webCert(), other}
		}, "is also the secret of certificate"},
		{"no room for certferry's tags", func(w *world) []Cert {
			w.pass(w.runner(webCert()), Options{}) // stored
			w.now = w.now.Add(70 * 24 * time.Hour) // due
			mine := map[string]string{}
			for i := range smsink.OtherTagsRoom() {
				mine[fmt.Sprintf("team:%d", i)] = "x"
			}
			merge(w.secrets.secret("certferry/web").tags, mine)
			c := webCert()
			c.Secret.Tags = map[string]string{"cost-center": "42"} // one more, from the configuration
			w.ca.begins = 0
			return []Cert{c}
		}, "tags that are not certferry's"},
		{"name in no zone", func(w *world) []Cert {
			w.dns.noZone = []string{"example.com."}
			return []Cert{webCert()}
		}, "no hosted zone contains"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			cs := c.setup(w)
			r := w.runner(cs...)
			for pass := 1; pass <= 3; pass++ {
				sum := w.pass(r, Options{})
				res := sum.Results[len(sum.Results)-1]
				if res.Condition != ConditionFailing || res.Reason != ReasonPreflight || !strings.Contains(res.LastError, c.want) || sum.Failing() == 0 ||
					res.Attempts != pass {
					t.Fatalf("pass %d: %+v", pass, res)
				}
				w.now = w.now.Add(25 * time.Hour)
			}
			if w.ca.begins != 0 {
				t.Errorf("%d orders placed", w.ca.begins)
			}
			for _, cert := range cs {
				if tags := w.secrets.tags(cert.Secret.Secret); tags[smsink.TagFailures] != "" {
					t.Errorf("a backoff hides the problem: %v", tags)
				}
			}
		})
	}
}

// The journal's sweep: entries of dead runs are removed with their records when nobody
// can need them (authorization no longer pending, or the needed-until time past), and
// kept while a live runner might.
func TestPassSweepsJournal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.runner(webCert())
	w.pass(r, Options{}) // stored, nothing due afterwards
	publish := func(order, value string, pending bool) {
		w.ca.orders[order] = []acme.OrderRecord{{Challenge: acme.Challenge{FQDN: "_acme-challenge.www.example.com.", Value: value}, Pending: pending}}
		w.dns.Present(t.Context(), []Record{{FQDN: "_acme-challenge.www.example.com.", Value: value}})
	}
	publish("https://ca.test/order/dead-valid", "a", false)
	publish("https://ca.test/order/live", "b", true)
	publish("https://ca.test/order/dead-late", "c", true)
	future, past := smsink.FormatTime(w.now.Add(time.Hour)), smsink.FormatTime(w.now.Add(-time.Minute))
	w.secrets.setState(t, "certferry/web", "web", map[string]string{
		smsink.JournalTag(0): future + " https://ca.test/order/dead-valid",
		smsink.JournalTag(1): future + " https://ca.test/order/live",
		smsink.JournalTag(2): past + " https://ca.test/order/dead-late",
		smsink.JournalTag(3): "garbage",
	})
	w.pass(r, Options{})
	vals := w.dns.values["_acme-challenge.www.example.com."]
	if vals["a"] || vals["c"] || !vals["b"] || len(vals) != 1 {
		t.Fatalf("values left: %v; want only the live runner's b", vals)
	}
	tags := w.secrets.tags("certferry/web")
	if tags[smsink.JournalTag(0)] != "" || tags[smsink.JournalTag(2)] != "" || tags[smsink.JournalTag(3)] != "" || tags[smsink.JournalTag(1)] == "" {
		t.Fatalf("journal after the sweep: %v", tags)
	}
}

// A file-only certificate keeps its state in Memory: a second Runner of the process
// (a reload) sees the first one's backoff.
func TestPassFileOnlyStateInMemory(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ca.failComplete = 1
	c := Cert{Name: "files", Domains: []string{"www.example.com"}, KeyType: "ec256", File: &file.Target{Dir: "/x"}}
	if res := only(t, w.pass(w.runner(c), Options{})); res.Condition != ConditionFailing {
		t.Fatalf("first pass: %+v", res)
	}
	res := only(t, w.pass(w.runner(c), Options{}))
	if res.Reason != scheduler.ReasonBackoff || res.Condition != ConditionFailing || w.ca.begins != 1 {
		t.Fatalf("a new Runner forgot the backoff: %+v", res)
	}
}

// A certificate with a secret and files whose files fall behind the secret (deleted,
// or a store that failed after the secret's write) gets them written from the secret
// on the next pass, with no new order.
func TestPassFilesBehindTheSecret(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := webCert()
	c.File = &file.Target{Dir: "/files/web"}
	r := w.runner(c)
	w.pass(r, Options{})
	w.files.mu.Lock()
	delete(w.files.files, "/files/web")
	w.files.mu.Unlock()
	res := only(t, w.pass(w.runner(c), Options{}))
	if res.Action != ActionStore || res.Condition != ConditionReady || w.ca.begins != 1 {
		t.Fatalf("files behind: %+v, %d orders", res, w.ca.begins)
	}
	if b, err := w.files.Load("/files/web"); err != nil || b.Serial != res.Serial {
		t.Fatalf("files not rewritten: %v", err)
	}
	if res := only(t, w.pass(r, Options{})); res.Action != ActionSkip {
		t.Fatalf("third pass: %+v", res)
	}
}

// A failed attempt whose cause went away (a forced renewal that failed) is forgotten
// once its backoff is over and nothing is due: the certificate is ready again.
func TestPassFailureForgottenWhenNothingIsDue(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.runner(webCert())
	w.pass(r, Options{})
	w.now = w.now.Add(25 * time.Hour) // past the issuance guard
	w.ca.failComplete = 1
	if res := only(t, w.pass(r, Options{Force: true})); res.Condition != ConditionFailing {
		t.Fatalf("forced renewal: %+v", res)
	}
	w.now = w.now.Add(2 * time.Minute) // past the first backoff step
	res := only(t, w.pass(r, Options{}))
	if res.Condition != ConditionReady || res.Attempts != 0 || w.secrets.tags("certferry/web")[smsink.TagFailures] != "" {
		t.Fatalf("after the backoff: %+v", res)
	}
}

// Journal entries that cannot be trusted: a needed-until time far in the future counts
// as past, and an order at another host than the CA's is never fetched.
func TestPassJournalUntrusted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.runner(webCert())
	w.pass(r, Options{})
	w.ca.orders["https://ca.test/order/far"] = []acme.OrderRecord{{Challenge: acme.Challenge{FQDN: "_acme-challenge.www.example.com.", Value: "f"}, Pending: true}}
	w.dns.Present(t.Context(), []Record{{FQDN: "_acme-challenge.www.example.com.", Value: "f"}})
	w.secrets.setState(t, "certferry/web", "web", map[string]string{
		smsink.JournalTag(0): "2099-01-01T00:00:00Z https://ca.test/order/far",
		smsink.JournalTag(1): smsink.FormatTime(w.now.Add(time.Hour)) + " https://elsewhere.test/order/x",
	})
	w.pass(r, Options{})
	if vals := w.dns.values["_acme-challenge.www.example.com."]; len(vals) != 0 {
		t.Errorf("values left: %v", vals)
	}
	if tags := w.secrets.tags("certferry/web"); tags[smsink.JournalTag(0)] != "" || tags[smsink.JournalTag(1)] != "" {
		t.Errorf("journal after the sweep: %v", tags)
	}
}

// A certificate that a problem found before ordering blocks keeps the due time of the
// decision that made it due: here renew_before's, not the lifetime rule's (the
// preflight once decided again without renew_before, ARI or the interval).
func TestPassBlockedKeepsDueTime(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := webCert()
	c.RenewBefore = 60 * 24 * time.Hour // due 30 days into a 90-day certificate; the lifetime rule says 60
	first := only(t, w.pass(w.runner(c), Options{}))
	want := first.NotAfter.Add(-c.RenewBefore)
	if !first.DueAt.Equal(want) {
		t.Fatalf("after issuance: due at %v, want %v", first.DueAt, want)
	}
	w.now = want.Add(time.Hour)
	w.dns.noZone = []string{"example.com."}
	res := only(t, w.pass(w.runner(c), Options{}))
	if res.Condition != ConditionFailing || res.Reason != ReasonPreflight || w.ca.begins != 1 {
		t.Fatalf("blocked pass: %+v, %d orders", res, w.ca.begins)
	}
	if !res.DueAt.Equal(want) {
		t.Errorf("blocked certificate due at %v, want renew_before's %v", res.DueAt, want)
	}
}

// snapshotHook records, when it runs, the failure count the secret's tags hold.
type snapshotHook struct {
	secrets *fakeSecrets
	seen    []string
}

func (h *snapshotHook) Name() string { return "exec:/snapshot" }
func (h *snapshotHook) Run(context.Context, hooks.Event) error {
	h.seen = append(h.seen, h.secrets.tags("certferry/web")[smsink.TagFailures])
	return nil
}

// A failure after an order was placed is recorded at once, before the on_failure hooks
// (they may run for minutes) and the rest of the pass: a runner killed meanwhile (a
// Lambda's timeout, SIGKILL, a crash loop) left no backoff, so every new run ordered
// again, a certificate each time after a store failure, up to the CA's duplicates limit.
// A failure before any order waits for the one write at the end of the pass.
func TestPassFailureAfterAnOrderRecordedAtOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(w *world)
		want  string // the failure count the secret holds while the on_failure hook runs
	}{
		{"store refused", func(w *world) { w.secrets.failSave = 1 }, "1"},
		{"order failed", func(w *world) { w.ca.failComplete = 1 }, "1"},
		{"no order placed", func(w *world) {
			w.ca.newOrderErr = func(acme.OrderRequest) error { return errors.New("acme: new order: injected failure") }
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			tc.setup(w)
			h := &snapshotHook{secrets: w.secrets}
			c := webCert()
			c.OnFailure = []hooks.Hook{h}
			res := only(t, w.pass(w.runner(c), Options{}))
			if res.Condition != ConditionFailing || !res.NewFailure {
				t.Fatalf("pass: %+v", res)
			}
			if len(h.seen) != 1 || h.seen[0] != tc.want {
				t.Errorf("failures recorded when the on_failure hook ran: %q, want %q", h.seen, tc.want)
			}
			if got := w.secrets.tags("certferry/web")[smsink.TagFailures]; got != "1" {
				t.Errorf("failures recorded after the pass: %q, want 1", got)
			}
		})
	}
}

// TestPassUnverifiedWaitsADay: a certificate the CA issued that does not verify against
// the configured roots (acme.issuer_roots naming the TLS roots, another CA's) needs a
// human: the next order's would not verify either, so it waits a day, saying what to
// check. On the ordinary backoff (1 min, 10 min, 100 min) each run issued one more
// certificate and threw it away: three in the first two hours here.
func TestPassUnverifiedWaitsADay(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.runner(webCert())
	r.settings.Roots = certstest.NewCA(t).Roots // not the roots w.ca issues under
	res := only(t, w.pass(r, Options{}))
	if res.Condition != ConditionFailing || !strings.Contains(res.Error, "it needs a human: check that acme.issuer_roots holds the roots the CA issues under") {
		t.Fatalf("first pass: %+v", res)
	}
	w.now = w.now.Add(2 * time.Hour)
	if res := only(t, w.pass(r, Options{})); res.Reason != scheduler.ReasonBackoff || res.Condition != ConditionFailing {
		t.Errorf("two hours later: reason %s, condition %s; want backoff, failing", res.Reason, res.Condition)
	}
	if w.ca.begins != 1 {
		t.Errorf("%d orders in two hours, want 1", w.ca.begins)
	}
}
