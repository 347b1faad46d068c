package renew

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/sinks/file"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// countingHook counts its runs.
type countingHook struct{ runs atomic.Int32 }

func (h *countingHook) Name() string                           { return "exec:/count" }
func (h *countingHook) Run(context.Context, hooks.Event) error { h.runs.Add(1); return nil }

// requests records the order requests a pass makes.
type requests struct {
	ACME
	got []acme.OrderRequest
}

func (r *requests) Begin(ctx context.Context, req acme.OrderRequest) (*acme.Order, error) {
	r.got = append(r.got, req)
	return r.ACME.Begin(ctx, req)
}

// A dry run orders and verifies a certificate that is not due, and changes nothing: no
// store, no state tag, no hook (on success or failure), no record left, no "replaces";
// what it learnt or failed stays out of the process's Memory, so the next real pass
// sees neither a backoff nor anything to store.
func TestPassDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	onRenew, onFailure := &countingHook{}, &countingHook{}
	c := webCert()
	c.OnRenew, c.OnFailure = []hooks.Hook{onRenew}, []hooks.Hook{onFailure}
	r := w.runner(c)
	if res := only(t, w.pass(r, Options{})); res.Action != ActionIssue || onRenew.runs.Load() != 1 {
		t.Fatalf("first pass: %+v", res)
	}
	rec := &requests{ACME: w.ca}
	r.deps.ACME = func(context.Context) (ACME, error) { return rec, nil }
	tags, saves := w.secrets.tags("certferry/web"), w.secrets.saves

	w.now = w.now.Add(time.Hour)
	sum := w.pass(r, Options{DryRun: true})
	res := only(t, sum)
	if res.Action != ActionDryRun || res.Err() != nil || res.Bundle != nil || !sum.DryRun || len(rec.got) != 1 || rec.got[0].Replaces != "" {
		t.Fatalf("dry run: %+v, requests %+v", res, rec.got)
	}
	// A failed dry run: no backoff, no on_failure hook.
	w.ca.failComplete = 1
	if res := only(t, w.pass(r, Options{DryRun: true})); res.Err() == nil || res.Action != ActionFailed {
		t.Fatalf("failed dry run: %+v", res)
	}
	if w.secrets.saves != saves || !maps.Equal(w.secrets.tags("certferry/web"), tags) {
		t.Errorf("the dry runs wrote: %d saves (was %d), tags %v (were %v)", w.secrets.saves, saves, w.secrets.tags("certferry/web"), tags)
	}
	if onRenew.runs.Load() != 1 || onFailure.runs.Load() != 0 || w.dns.left() != 0 || w.mem.stateTags("web") != nil || w.mem.hasUnstored("web") {
		t.Errorf("hooks %d/%d, %d records left, memory %v", onRenew.runs.Load(), onFailure.runs.Load(), w.dns.left(), w.mem.stateTags("web"))
	}
	if res := only(t, w.pass(r, Options{})); res.Action != ActionSkip || res.Condition != ConditionReady {
		t.Errorf("the real pass after the dry runs: %+v", res)
	}
}

// TrustChainTop verifies an issued chain up to its own top certificate, without roots.
func TestPassDryRunTrustChainTop(t *testing.T) {
	t.Parallel()
	for _, trust := range []bool{false, true} {
		w := newWorld(t)
		r := w.runner(webCert())
		r.settings.Roots, r.settings.TrustChainTop = nil, trust
		res := only(t, w.pass(r, Options{DryRun: true}))
		if ok := res.Action == ActionDryRun; ok != trust {
			t.Errorf("TrustChainTop %v: %+v", trust, res)
		}
	}
}

// dryWorld is a world with a second CA, the dry-run CA at another directory, and
// Runners for a real pass (the configured CA) and for a dry run (the dry-run CA), each
// able to open the other's client the way the app does: only for a directory with a
// stored account. stored are the directories with one; opened counts StoredACME calls.
type dryWorld struct {
	*world
	staging *fakeCA
	stored  map[string]ACME
	opened  map[string]int
}

const (
	configuredDir = "https://ca.test/dir"
	stagingDir    = "https://staging.test/dir"
)

func newDryWorld(t *testing.T) *dryWorld {
	w := newWorld(t)
	staging := &fakeCA{t: t, ca: w.ca.ca, orders: map[string][]acme.OrderRecord{}, now: w.ca.now, base: "https://staging.test"}
	return &dryWorld{world: w, staging: staging, stored: map[string]ACME{configuredDir: w.ca, stagingDir: staging}, opened: map[string]int{}}
}

func (d *dryWorld) storedACME(_ context.Context, dir string) (ACME, error) {
	d.opened[dir]++
	if c, ok := d.stored[dir]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("acme: open the account of %s: %w", dir, acme.ErrNoAccount)
}

func (d *dryWorld) realRunner(cs ...Cert) *Runner {
	r := d.runner(cs...)
	r.deps.StoredACME = d.storedACME
	return r
}

func (d *dryWorld) dryRunner(cs ...Cert) *Runner {
	r := d.realRunner(cs...)
	r.settings.Directory, r.settings.ConfiguredDirectory = stagingDir, configuredDir
	r.deps.ACME = func(context.Context) (ACME, error) { return d.staging, nil }
	return r
}

// A dry run journals its order in the certificate's real state before it publishes, as a
// real pass does, naming the dry-run CA's directory, and clears it in its clean-up; it
// writes nothing else there. A dry run killed between the two leaves the entry, and the
// next real pass after its needed-until time reads the order back from the dry-run CA
// (with that CA's stored account) and removes every value the dry run left.
func TestPassDryRunJournals(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"stored", "never stored", "file only"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			d := newDryWorld(t)
			c := webCert()
			if kind == "file only" {
				c = Cert{Name: "files", Domains: []string{"www.example.com"}, KeyType: "ec256", File: &file.Target{Dir: "/files/web"}}
			}
			journal := func() map[string]string {
				var tags map[string]string
				if c.File != nil {
					tags, _ = d.files.LoadState(*c.File)
				} else {
					tags = d.secrets.tags(c.Secret.Secret)
				}
				out := map[string]string{}
				for k, v := range tags {
					if strings.HasPrefix(k, smsink.TagChallenges) {
						out[k] = v
					}
				}
				return out
			}
			if kind != "never stored" {
				only(t, d.pass(d.realRunner(c), Options{}))
			}
			d.now = d.now.Add(time.Hour)
			var atPublish map[string]string
			d.dns.onPresent = func() { atPublish = journal() }
			before := d.secrets.tags("certferry/web")
			res := only(t, d.pass(d.dryRunner(c), Options{DryRun: true}))
			d.dns.onPresent = nil
			if res.Action != ActionDryRun || d.staging.begins != 1 {
				t.Fatalf("dry run: %+v, %d orders at the dry-run CA", res, d.staging.begins)
			}
			// In the last slot: see journalSlot.
			e := smsink.ParseJournalEntry(atPublish[smsink.JournalTag(smsink.JournalSlots-1)])
			if len(atPublish) != 1 || e.Order != "https://staging.test/order/1" || e.Directory != stagingDir || !e.Until.After(d.now) {
				t.Fatalf("journal when the dry run published: %v", atPublish)
			}
			if j := journal(); len(j) != 0 || d.dns.left() != 0 {
				t.Fatalf("after the dry run: journal %v, %d values left", j, d.dns.left())
			}
			if after := d.secrets.tags("certferry/web"); kind == "stored" && !maps.Equal(before, after) {
				t.Errorf("the dry run changed the secret's tags: %v, were %v", after, before)
			}
			if kind == "never stored" {
				// The secret created to hold the journal: tags, no value.
				if sec := d.secrets.secrets["certferry/web"]; sec == nil || sec.bundle != nil || sec.tags[smsink.TagName] != "web" {
					t.Fatalf("never stored: secret %+v", sec)
				}
			}

			// The same dry run killed after publishing: its entry and values stay.
			d.staging.orders["https://staging.test/order/1"] = []acme.OrderRecord{
				{Challenge: acme.Challenge{FQDN: "_acme-challenge.www.example.com.", Value: "dry-0"}, Pending: true}}
			d.dns.Present(t.Context(), []Record{{FQDN: "_acme-challenge.www.example.com.", Value: "dry-0"}})
			d.setJournal(t, c, atPublish)
			real := d.realRunner(c)
			d.pass(real, Options{}) // within the needed-until time: a live dry run may need it
			if d.dns.left() != 1 || len(journal()) != 1 || d.staging.reads != 1 {
				t.Fatalf("before the needed-until time: %d values, journal %v, %d reads", d.dns.left(), journal(), d.staging.reads)
			}
			d.now = e.Until.Add(time.Second)
			d.pass(real, Options{})
			if d.dns.left() != 0 || len(journal()) != 0 || d.staging.reads != 2 || d.opened[stagingDir] != 2 {
				t.Fatalf("after it: %d values, journal %v, %d reads, opened %v", d.dns.left(), journal(), d.staging.reads, d.opened)
			}
		})
	}
}

// setJournal writes journal entries into c's real state, as a run killed before its
// clean-up left them.
func (d *dryWorld) setJournal(t *testing.T, c Cert, tags map[string]string) {
	t.Helper()
	if c.File != nil {
		st, _ := d.files.LoadState(*c.File)
		maps.Copy(st, tags)
		if err := d.files.SaveState(t.Context(), *c.File, st); err != nil {
			t.Fatal(err)
		}
		return
	}
	d.secrets.setState(t, c.Secret.Secret, c.Name, tags)
}

// Journal entries naming another directory than the configured one: read back with that
// CA's stored account when certferry has one, dropped unread (no client opened, nothing
// signed sent) when it has none or when the order is not on its directory's host; an
// entry of the configured CA written by a dry run (no directory named) is read by a dry
// run's sweep with the configured CA's account.
func TestPassJournalOtherDirectory(t *testing.T) {
	t.Parallel()
	d := newDryWorld(t)
	evil := &fakeCA{t: t, ca: d.ca.ca, orders: map[string][]acme.OrderRecord{}, now: d.ca.now, base: "https://evil.test"}
	r := d.realRunner(webCert())
	d.pass(r, Options{})
	rec := func(v string) []acme.OrderRecord {
		return []acme.OrderRecord{{Challenge: acme.Challenge{FQDN: "_acme-challenge.www.example.com.", Value: v}, Pending: false}}
	}
	d.staging.orders["https://staging.test/order/7"] = rec("s")
	d.ca.orders["https://ca.test/order/8"] = rec("c")
	evil.orders["https://evil.test/order/9"] = rec("e")
	d.dns.Present(t.Context(), []Record{{FQDN: "_acme-challenge.www.example.com.", Value: "s"}, {FQDN: "_acme-challenge.www.example.com.", Value: "c"}})
	until := smsink.FormatTime(d.now.Add(time.Hour))
	d.secrets.setState(t, "certferry/web", "web", map[string]string{
		smsink.JournalTag(0): until + " https://staging.test/order/7 " + stagingDir,
		smsink.JournalTag(1): until + " https://evil.test/order/9 https://evil.test/dir",
		smsink.JournalTag(2): until + " https://evil.test/order/9 " + stagingDir,
	})
	d.pass(r, Options{})
	if vals := d.dns.values["_acme-challenge.www.example.com."]; vals["s"] || !vals["c"] {
		t.Errorf("values after the sweep: %v; want s removed (validated at the dry-run CA), c kept", vals)
	}
	if evil.reads != 0 || d.opened["https://evil.test/dir"] != 1 || d.opened[stagingDir] != 1 {
		t.Errorf("reads at the unknown CA %d, clients opened %v", evil.reads, d.opened)
	}
	for i := range 3 {
		if v := d.secrets.tags("certferry/web")[smsink.JournalTag(i)]; v != "" {
			t.Errorf("slot %d kept: %q", i, v)
		}
	}
	// A dry run's sweep reads an entry of the configured CA with that CA's account.
	d.secrets.setState(t, "certferry/web", "web", map[string]string{smsink.JournalTag(0): until + " https://ca.test/order/8"})
	reads := d.ca.reads
	only(t, d.pass(d.dryRunner(webCert()), Options{DryRun: true}))
	if vals := d.dns.values["_acme-challenge.www.example.com."]; vals["c"] || d.ca.reads != reads+1 || d.opened[configuredDir] != 1 {
		t.Errorf("dry run's sweep: values %v, %d reads at the configured CA, opened %v", vals, d.ca.reads-reads, d.opened)
	}
	if v := d.secrets.tags("certferry/web")[smsink.JournalTag(0)]; v != "" {
		t.Errorf("the dry run's sweep kept the entry: %q", v)
	}
}

// A dry run whose journal write is refused (a role without secretsmanager:TagResource)
// publishes nothing and fails the rehearsal naming the refused write; the real state
// keeps no trace of it.
func TestPassDryRunJournalRefused(t *testing.T) {
	t.Parallel()
	d := newDryWorld(t)
	only(t, d.pass(d.realRunner(webCert()), Options{}))
	before, presents := d.secrets.tags("certferry/web"), d.dns.presents
	d.secrets.failTags = 1
	res := only(t, d.pass(d.dryRunner(webCert()), Options{DryRun: true}))
	if res.Action != ActionFailed || !strings.Contains(res.Error, "not published") || !strings.Contains(res.Error, "secretsmanager:TagResource") {
		t.Fatalf("dry run with the journal refused: %+v", res)
	}
	if d.dns.presents != presents || d.dns.left() != 0 {
		t.Errorf("published %d time(s) with the journal refused", d.dns.presents-presents)
	}
	if after := d.secrets.tags("certferry/web"); !maps.Equal(after, before) {
		t.Errorf("tags after the refused dry run: %v, were %v", after, before)
	}
}

// Entries of another CA whose client cannot be opened (the dry-run CA's stored account
// corrupted, unreadable) are kept while a live dry run may need them, and dropped past
// their time: kept for good, four of them held every journal slot and refused every
// order of the certificate.
func TestPassJournalUnreadableDirectoryExpires(t *testing.T) {
	t.Parallel()
	d := newDryWorld(t)
	r := d.realRunner(webCert())
	only(t, d.pass(r, Options{}))
	r.deps.StoredACME = func(_ context.Context, dir string) (ACME, error) {
		d.opened[dir]++
		return nil, fmt.Errorf("acme: new client: parse the stored account key: invalid PEM block")
	}
	until := d.now.Add(time.Hour)
	entries := map[string]string{}
	for i := range smsink.JournalSlots {
		entries[smsink.JournalTag(i)] = smsink.JournalEntry{Until: until, Order: fmt.Sprintf("https://staging.test/order/%d", i), Directory: stagingDir}.String()
	}
	d.secrets.setState(t, "certferry/web", "web", entries)
	begins := d.ca.begins
	if res := only(t, d.pass(r, Options{Force: true})); res.Action != ActionFailed || !strings.Contains(res.Error, "every challenge journal slot") || d.ca.begins != begins {
		t.Fatalf("within the entries' time: %+v, %d order(s)", res, d.ca.begins-begins)
	}
	d.now = until.Add(time.Second)
	if res := only(t, d.pass(r, Options{Force: true})); res.Err() != nil || res.Condition != ConditionReady || d.ca.begins != begins+1 {
		t.Fatalf("past the entries' time: %s %s, %d order(s); journal %v", res.Action, res.Error, d.ca.begins-begins, d.secrets.tags("certferry/web"))
	}
	for i := range smsink.JournalSlots {
		if v := d.secrets.tags("certferry/web")[smsink.JournalTag(i)]; v != "" {
			t.Errorf("slot %d kept past its time: %q", i, v)
		}
	}
}

// A dry run with a role that may not write the certificate's state (no
// secretsmanager:TagResource) is refused by the preflight's check, as a real pass is:
// no order at the dry-run CA, nothing published, the permission named.
func TestPassDryRunTaggingDeniedOrdersNothing(t *testing.T) {
	t.Parallel()
	d := newDryWorld(t)
	only(t, d.pass(d.realRunner(webCert()), Options{}))
	presents := d.dns.presents
	d.secrets.failProbe = &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "TagResource",
		Err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform secretsmanager:TagResource"}}
	d.secrets.failTags = 10 // and the journal's write, as AWS refuses it too
	res := only(t, d.pass(d.dryRunner(webCert()), Options{DryRun: true}))
	if res.Action != ActionFailed || !strings.Contains(res.Error, "needs a human") || !strings.Contains(res.Error, "secretsmanager:TagResource") {
		t.Fatalf("dry run with TagResource denied: %s %s", res.Action, res.Error)
	}
	if d.staging.begins != 0 || d.dns.presents != presents {
		t.Errorf("the refused dry run placed %d order(s) and published %d time(s)", d.staging.begins, d.dns.presents-presents)
	}
}

// Two dry runs at once take no lease: the one that journals second must not write over
// the first one's entry, whether that entry was written while its own order was placed
// (it read the slots before) or just after its own write to the same slot. Its entry goes
// to the next free slot, and its clean-up clears only that one: the other dry run's entry
// stays, for its clean-up or, killed, for a later pass's sweep.
func TestPassDryRunsAtOnceKeepEachOthersEntry(t *testing.T) {
	t.Parallel()
	last := smsink.JournalTag(smsink.JournalSlots - 1)
	for _, when := range []string{"during the order", "after the write"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			d := newDryWorld(t)
			only(t, d.pass(d.realRunner(webCert()), Options{}))
			other := smsink.JournalEntry{Until: d.now.Add(time.Hour), Order: "https://staging.test/order/other", Directory: stagingDir}.String()
			if when == "during the order" {
				d.staging.newOrderErr = func(acme.OrderRequest) error {
					d.secrets.setState(t, "certferry/web", "web", map[string]string{last: other})
					d.staging.newOrderErr = nil
					return nil
				}
			} else {
				d.secrets.overwrite = map[string]string{last: other}
			}
			var atPublish map[string]string
			d.dns.onPresent = func() { atPublish = maps.Clone(d.secrets.tags("certferry/web")) }
			if res := only(t, d.pass(d.dryRunner(webCert()), Options{DryRun: true})); res.Action != ActionDryRun {
				t.Fatalf("dry run: %s %s", res.Action, res.Error)
			}
			mine := smsink.ParseJournalEntry(atPublish[smsink.JournalTag(smsink.JournalSlots-2)])
			if atPublish[last] != other || mine.Order != "https://staging.test/order/1" {
				t.Errorf("journal when the dry run published: %v; want the other's entry kept and this one's next to it", atPublish)
			}
			tags := d.secrets.tags("certferry/web")
			for i := range smsink.JournalSlots {
				k := smsink.JournalTag(i)
				if want := map[bool]string{true: other}[k == last]; tags[k] != want {
					t.Errorf("after the dry run, slot %s = %q, want %q", k, tags[k], want)
				}
			}
		})
	}
}
