package lifecycle_test

import (
	"context"
	"crypto"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/lifecycle"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

func TestRevocationTag(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	r := smsink.Revocation{Serial: "0a1b", Reason: "keyCompromise", At: at}
	v := r.TagValue()
	if v != "0a1b keyCompromise 2026-12-01T08:00:00Z" || smsink.SanitizeTagValue(v) != v {
		t.Fatalf("tag value %q", v)
	}
	got, ok := smsink.ParseRevocation(v)
	if !ok || got != r {
		t.Fatalf("ParseRevocation: %+v %v", got, ok)
	}
	tags := map[string]string{smsink.TagRevoked: v}
	for serial, want := range map[string]bool{"0a1b": true, "A1B": true, "a1c": false, "": false} {
		if _, ok := smsink.Revoked(tags, serial); ok != want {
			t.Errorf("Revoked(%q) = %v, want %v", serial, ok, want)
		}
	}
	for _, bad := range []string{"", "0a1b", "0a1b keyCompromise", "0a1b keyCompromise yesterday", "a b c d", "xyz keyCompromise 2026-12-01T08:00:00Z", "0a1b keyCompromise 0000-01-01T00:00:00+01:00"} {
		if _, ok := smsink.ParseRevocation(bad); ok {
			t.Errorf("ParseRevocation(%q) accepted", bad)
		}
	}
}

func inv(entries ...smsink.Stored) map[string]smsink.Stored {
	m := map[string]smsink.Stored{}
	for _, e := range entries {
		m[e.Secret] = e
	}
	return m
}

func TestOrphans(t *testing.T) {
	t.Parallel()
	stored := inv(
		smsink.Stored{Name: "www", Secret: "certferry/www", ARN: "arn:aws:secretsmanager:us-east-1:1:secret:certferry/www-AbCdEf"},
		smsink.Stored{Name: "api", Secret: "certferry/api", ARN: "arn:aws:secretsmanager:us-east-1:1:secret:certferry/api-123456"},
		smsink.Stored{Name: "old", Secret: "certferry/old", ARN: "arn:aws:secretsmanager:us-east-1:1:secret:certferry/old-654321"},
		smsink.Stored{Name: "www", Secret: "certferry/www-2019", ARN: "arn:aws:secretsmanager:us-east-1:1:secret:certferry/www-2019-aaaaaa"},
	)
	got := lifecycle.Orphans(stored, []string{"certferry/www", "arn:aws:secretsmanager:us-east-1:1:secret:certferry/api", "certferry/new"})
	var names []string
	for _, o := range got {
		names = append(names, o.Secret)
	}
	if want := []string{"certferry/old", "certferry/www-2019"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("orphans %v, want %v", names, want)
	}
	if got := lifecycle.Orphans(nil, []string{"x"}); len(got) != 0 {
		t.Fatalf("orphans of nothing: %v", got)
	}

	for _, tc := range []struct{ name, want, err string }{
		{"certferry/old", "certferry/old", ""},
		{"old", "certferry/old", ""},
		{"arn:aws:secretsmanager:us-east-1:1:secret:certferry/old-654321", "certferry/old", ""},
		{"www", "", `"www": several secrets hold a certificate of that name ([certferry/www certferry/www-2019]): name the secret`},
		{"nothing", "", `"nothing": no certificate certferry stored has that name or secret`},
	} {
		st, err := lifecycle.Find(stored, tc.name)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Find(%q): got %v, want %s", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || st.Secret != tc.want {
			t.Errorf("Find(%q): got %q %v, want %q", tc.name, st.Secret, err, tc.want)
		}
	}
}

// fakes

type fakeCA struct {
	calls []string
	err   error
}

func (f *fakeCA) Revoke(_ context.Context, _ []byte, r acme.RevocationReason) error {
	f.calls = append(f.calls, "account "+r.String())
	return f.err
}

func (f *fakeCA) RevokeWithCertKey(_ context.Context, _ []byte, k crypto.PrivateKey, r acme.RevocationReason) error {
	if k == nil {
		return errors.New("no key")
	}
	f.calls = append(f.calls, "certkey "+r.String())
	return f.err
}

type fakeSecrets struct {
	bundle *certs.Bundle
	tags   map[string]string
	setErr error
}

func (f *fakeSecrets) Get(context.Context, string) (*certs.Bundle, string, error) {
	if f.bundle == nil {
		return nil, "", smsink.ErrNotFound
	}
	return f.bundle, "v1", nil
}

func (f *fakeSecrets) SetState(_ context.Context, _ string, tags map[string]string) error {
	if f.setErr != nil {
		return f.setErr
	}
	for k, v := range tags {
		f.tags[k] = v
	}
	return nil
}

func (f *fakeSecrets) Inventory(context.Context) (map[string]smsink.Stored, error) { return nil, nil }

type fakeDeleter struct{ in []*sm.DeleteSecretInput }

func (f *fakeDeleter) DeleteSecret(_ context.Context, in *sm.DeleteSecretInput, _ ...func(*sm.Options)) (*sm.DeleteSecretOutput, error) {
	f.in = append(f.in, in)
	d := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	return &sm.DeleteSecretOutput{DeletionDate: &d}, nil
}

func TestRevokeChoosesTheSigningKeyAndRecords(t *testing.T) {
	t.Parallel()
	b := testBundle(t)
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for reason, want := range map[acme.RevocationReason]string{
		acme.ReasonKeyCompromise: "certkey keyCompromise",
		acme.ReasonSuperseded:    "account superseded",
	} {
		ca, sec := &fakeCA{}, &fakeSecrets{bundle: b, tags: map[string]string{}}
		res, err := lifecycle.Revoke(t.Context(), ca, sec, "s", reason, now)
		if err != nil || len(ca.calls) != 1 || ca.calls[0] != want {
			t.Fatalf("%v: %v %v", reason, ca.calls, err)
		}
		if sec.tags[smsink.TagRevoked] != b.Serial+" "+reason.String()+" 2026-12-01T08:00:00Z" || res.Serial != b.Serial {
			t.Fatalf("tag %q", sec.tags[smsink.TagRevoked])
		}
	}
	// Already revoked at the CA: recorded all the same.
	ca := &fakeCA{err: &acme.ProblemError{Type: acme.ProblemAlreadyRevoked, Status: 400}}
	sec := &fakeSecrets{bundle: b, tags: map[string]string{}}
	if res, err := lifecycle.Revoke(t.Context(), ca, sec, "s", acme.ReasonSuperseded, now); err != nil || !res.Already || sec.tags[smsink.TagRevoked] == "" {
		t.Fatalf("already revoked: %+v %v", res, err)
	}
	// Refused: nothing recorded.
	ca = &fakeCA{err: &acme.ProblemError{Type: acme.ProblemUnauthorized, Status: 403}}
	sec = &fakeSecrets{bundle: b, tags: map[string]string{}}
	if _, err := lifecycle.Revoke(t.Context(), ca, sec, "s", acme.ReasonSuperseded, now); err == nil || len(sec.tags) != 0 {
		t.Fatalf("refused: %v, tags %v", err, sec.tags)
	}
	// Nothing stored.
	if _, err := lifecycle.Revoke(t.Context(), &fakeCA{}, &fakeSecrets{}, "s", acme.ReasonSuperseded, now); !errors.Is(err, smsink.ErrNotFound) {
		t.Fatalf("nothing stored: %v", err)
	}
}

func TestRetire(t *testing.T) {
	t.Parallel()
	b := testBundle(t)
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	st := smsink.Stored{Name: "old", Secret: "certferry/old", Serial: b.Serial, Tags: map[string]string{}}

	ca, sec, del := &fakeCA{}, &fakeSecrets{bundle: b, tags: map[string]string{}}, &fakeDeleter{}
	res, err := lifecycle.Retire(t.Context(), ca, sec, del, st, lifecycle.RetireOptions{}, now)
	if err != nil || len(ca.calls) != 0 || len(del.in) != 0 || sec.tags[smsink.TagRetired] != "2026-12-01T08:00:00Z" || !res.DeletionDate.IsZero() {
		t.Fatalf("plain retire: %+v %v calls %v deletes %d tags %v", res, err, ca.calls, len(del.in), sec.tags)
	}

	ca, sec, del = &fakeCA{}, &fakeSecrets{bundle: b, tags: map[string]string{}}, &fakeDeleter{}
	res, err = lifecycle.Retire(t.Context(), ca, sec, del, st, lifecycle.RetireOptions{Revoke: true, DeleteSecret: true, RecoveryDays: 7}, now)
	if err != nil || len(ca.calls) != 1 || ca.calls[0] != "account cessationOfOperation" || len(del.in) != 1 || *del.in[0].RecoveryWindowInDays != 7 || res.DeletionDate.IsZero() {
		t.Fatalf("retire --revoke --delete-secret: %+v %v calls %v", res, err, ca.calls)
	}

	// A journal entry still within its time: a killed run's records only it finds. Nothing
	// is done (no revocation, no tag, no deletion); once the time has passed, it is.
	journal := map[string]string{smsink.JournalTag(1): "2026-12-01T08:30:00Z https://ca.example/order/1 https://ca.example/dir"}
	held := smsink.Stored{Name: "old", Secret: "certferry/old", Serial: b.Serial, Tags: journal}
	ca, sec, del = &fakeCA{}, &fakeSecrets{bundle: b, tags: map[string]string{}}, &fakeDeleter{}
	_, err = lifecycle.Retire(t.Context(), ca, sec, del, held, lifecycle.RetireOptions{Revoke: true, DeleteSecret: true, RecoveryDays: 7}, now)
	if err == nil || !strings.Contains(err.Error(), "2026-12-01T08:30:00Z") || len(ca.calls) != 0 || len(del.in) != 0 || len(sec.tags) != 0 {
		t.Errorf("retire --delete-secret with a live journal entry: %v calls %v deletes %d tags %v", err, ca.calls, len(del.in), sec.tags)
	}
	if _, err := lifecycle.Retire(t.Context(), &fakeCA{}, &fakeSecrets{bundle: b, tags: map[string]string{}}, &fakeDeleter{}, held, lifecycle.RetireOptions{}, now); err != nil {
		t.Errorf("retire (no deletion) with a live journal entry: %v", err)
	}
	if _, err := lifecycle.Retire(t.Context(), &fakeCA{}, &fakeSecrets{bundle: b, tags: map[string]string{}}, &fakeDeleter{}, held, lifecycle.RetireOptions{DeleteSecret: true, RecoveryDays: 7}, now.Add(time.Hour)); err != nil {
		t.Errorf("retire --delete-secret after the entry's time: %v", err)
	}

	for _, days := range []int{0, 6, 31} {
		_, err := lifecycle.Retire(t.Context(), &fakeCA{}, &fakeSecrets{bundle: b, tags: map[string]string{}}, &fakeDeleter{}, st, lifecycle.RetireOptions{DeleteSecret: true, RecoveryDays: days}, now)
		if err == nil || !strings.Contains(err.Error(), "allows 7 to 30") {
			t.Errorf("recovery %d days: %v", days, err)
		}
	}
}

func testBundle(t *testing.T) *certs.Bundle {
	t.Helper()
	return certstest.NewCA(t).Bundle(t, "old", certstest.Leaf{})
}
