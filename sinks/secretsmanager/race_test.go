package secretsmanager_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/internal/sandbox/calls"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// beforeMove runs hook once, just before the first UpdateSecretVersionStage: another
// runner acting between our write and our compare-and-swap.
type beforeMove struct {
	smsink.API
	hook func()
}

func (b *beforeMove) UpdateSecretVersionStage(ctx context.Context, in *sm.UpdateSecretVersionStageInput, o ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error) {
	if h := b.hook; h != nil {
		b.hook = nil
		h()
	}
	return b.API.UpdateSecretVersionStage(ctx, in, o...)
}

// TestStoreLostCompareAndSwap: two runners write at once; the one whose move of
// AWSCURRENT comes second finds the winner's certificate as good and keeps it, so the
// stages end consistent and no certificate is clobbered.
func TestStoreLostCompareAndSwap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	target := smsink.Target{Secret: "race"}
	old := e.bundle(t, "race", time.Now().Add(10*day))
	if _, err := e.sink.Store(ctx, target, old, smsink.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	winner := e.bundle(t, "race", time.Now().Add(90*day))
	loser := e.bundle(t, "race", time.Now().Add(90*day+time.Minute))
	api := &beforeMove{API: e.client}
	api.hook = func() {
		if _, err := e.sink.Store(ctx, target, winner, smsink.StoreOptions{Force: true}); err != nil {
			t.Errorf("winner: %v", err)
		}
	}
	slow := smsink.New(api, zap.NewNop(), smsink.Options{})
	_, err := slow.Store(ctx, target, loser, smsink.StoreOptions{Force: true})
	var lost *smsink.LostRaceError
	if !errors.As(err, &lost) || !errors.Is(err, smsink.ErrLostRace) || lost.Winner.VersionID != smsink.Token(winner) {
		t.Fatalf("err = %v, want a LostRaceError naming the winner", err)
	}
	if got := e.current(t, "race", "AWSCURRENT"); got.Serial != winner.Serial {
		t.Errorf("AWSCURRENT serial %s, want the winner's %s", got.Serial, winner.Serial)
	}
	if got := e.current(t, "race", "AWSPREVIOUS"); got.Serial != old.Serial {
		t.Errorf("AWSPREVIOUS serial %s, want the old %s", got.Serial, old.Serial)
	}
	inv, _ := e.sink.Inventory(ctx)
	if st := inv["race"]; !st.TagsCurrent || st.Serial != winner.Serial {
		t.Errorf("tags = %+v", st)
	}
}

// TestStoreExpectMoved: the caller planned against a version that is no longer current;
// the certificate stored meanwhile is as good, so nothing is written, even with Force.
// One that is not as good (shorter) is replaced.
func TestStoreExpectMoved(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	target := smsink.Target{Secret: "expect"}
	old := e.bundle(t, "expect", time.Now().Add(10*day))
	planned, err := e.sink.Store(ctx, target, old, smsink.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := e.bundle(t, "expect", time.Now().Add(90*day))
	if _, err := e.sink.Store(ctx, target, other, smsink.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	puts := e.calls.Count("secretsmanager", "PutSecretValue")
	ours := e.bundle(t, "expect", time.Now().Add(90*day+time.Hour))
	if _, err := e.sink.Store(ctx, target, ours, smsink.StoreOptions{Force: true, Expect: &planned}); !errors.Is(err, smsink.ErrLostRace) {
		t.Fatalf("err = %v, want ErrLostRace", err)
	}
	if n := e.calls.Count("secretsmanager", "PutSecretValue"); n != puts {
		t.Errorf("%d versions written after losing the race", n-puts)
	}
	// Planned against the current version: a normal write.
	now := smsink.Token(other)
	if v, err := e.sink.Store(ctx, target, ours, smsink.StoreOptions{Expect: &now}); err != nil || v != smsink.Token(ours) {
		t.Fatalf("Store = %s, %v", v, err)
	}
	vs := e.versions(t, "expect")
	for id, stages := range vs {
		// The label stays on the version it promoted (AWSCURRENT) until the next write.
		if slices.Contains(stages, smsink.StagePending) && !slices.Contains(stages, "AWSCURRENT") {
			t.Errorf("version %s keeps the pending label: %v", id, stages)
		}
	}
}

// TestStoreVersionQuota: LimitExceededException is retried a bounded number of times,
// then reported as ErrVersionQuota with the stored versions untouched; the same
// certificate stores once the quota frees up.
func TestStoreVersionQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	sink := smsink.New(e.client, zap.NewNop(), smsink.Options{MaxAttempts: 3, RetryDelay: time.Millisecond})
	target := smsink.Target{Secret: "quota"}
	old := e.bundle(t, "quota", time.Now().Add(10*day))
	if _, err := sink.Store(ctx, target, old, smsink.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	quota := calls.Fault{Code: "LimitExceededException", Status: 400, Message: "You have exceeded the maximum number of versions"}
	e.calls.FailNext("secretsmanager", "PutSecretValue", 5, quota)
	b := e.bundle(t, "quota", time.Now().Add(90*day))
	if _, err := sink.Store(ctx, target, b, smsink.StoreOptions{}); !errors.Is(err, smsink.ErrVersionQuota) {
		t.Fatalf("err = %v, want ErrVersionQuota", err)
	}
	if n := e.calls.Count("secretsmanager", "PutSecretValue"); n != 3 {
		t.Errorf("PutSecretValue calls = %d, want 3", n)
	}
	if vs := e.versions(t, "quota"); len(vs) != 1 || e.current(t, "quota", "AWSCURRENT").Serial != old.Serial {
		t.Errorf("versions touched: %v", vs)
	}
	if v, err := sink.Store(ctx, target, b, smsink.StoreOptions{}); err != nil || v != smsink.Token(b) {
		t.Fatalf("Store after the quota freed: %s, %v", v, err)
	}
	if vs := e.versions(t, "quota"); len(vs) != 2 {
		t.Errorf("versions = %v", vs)
	}
}

// movesCurrent runs hook before each of our moves of AWSCURRENT (not of other labels),
// at most n times: another runner winning each compare-and-swap.
type movesCurrent struct {
	smsink.API
	n    int
	hook func(i int)
}

func (m *movesCurrent) UpdateSecretVersionStage(ctx context.Context, in *sm.UpdateSecretVersionStageInput, o ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error) {
	if aws.ToString(in.VersionStage) == "AWSCURRENT" && m.n > 0 {
		m.n--
		m.hook(m.n)
	}
	return m.API.UpdateSecretVersionStage(ctx, in, o...)
}

// putCurrent makes b secret's AWSCURRENT with one PutSecretValue: another runner's
// write that does not take StagePending (a label is on one version at a time).
func (e *env) putCurrent(t *testing.T, secret string, b *certs.Bundle) {
	t.Helper()
	data, err := b.MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.PutSecretValue(context.Background(), &sm.PutSecretValueInput{SecretId: aws.String(secret),
		SecretString: aws.String(string(data)), ClientRequestToken: aws.String(smsink.Token(b))}); err != nil {
		t.Errorf("other runner: %v", err)
	}
}

// noPending fails when a version of secret keeps StagePending.
func (e *env) noPending(t *testing.T, secret string) {
	t.Helper()
	for id, stages := range e.versions(t, secret) {
		if slices.Contains(stages, smsink.StagePending) {
			t.Errorf("version %s keeps the pending label: %v", id, stages)
		}
	}
}

// TestStoreRefusedAfterPutUnpends: a Store that gives up after writing its version (the
// guard refuses once another runner stored a longer certificate for other names, or
// every compare-and-swap is lost) removes its pending label: a deliberate refusal is
// not an interrupted write for a later pass to finish.
func TestStoreRefusedAfterPutUnpends(t *testing.T) {
	t.Parallel()
	t.Run("guard", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		ctx := context.Background()
		target := smsink.Target{Secret: "guarded"}
		if _, err := e.sink.Store(ctx, target, e.bundle(t, "guarded", time.Now().Add(10*day)), smsink.StoreOptions{}); err != nil {
			t.Fatal(err)
		}
		other := e.bundle(t, "guarded", time.Now().Add(90*day), "other.example.com")
		api := &movesCurrent{API: e.client, n: 1, hook: func(int) { e.putCurrent(t, "guarded", other) }}
		ours := e.bundle(t, "guarded", time.Now().Add(60*day))
		_, err := smsink.New(api, zap.NewNop(), smsink.Options{}).Store(ctx, target, ours, smsink.StoreOptions{})
		var ws *smsink.WouldShortenError
		if !errors.As(err, &ws) {
			t.Fatalf("err = %v, want a WouldShortenError", err)
		}
		if got := e.current(t, "guarded", "AWSCURRENT"); got.Serial != other.Serial {
			t.Errorf("AWSCURRENT serial %s, want the other runner's %s", got.Serial, other.Serial)
		}
		e.noPending(t, "guarded")
	})
	t.Run("compare-and-swap", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		ctx := context.Background()
		target := smsink.Target{Secret: "contended"}
		if _, err := e.sink.Store(ctx, target, e.bundle(t, "contended", time.Now().Add(10*day)), smsink.StoreOptions{}); err != nil {
			t.Fatal(err)
		}
		// Every attempt meets a new, shorter certificate for other names.
		api := &movesCurrent{API: e.client, n: 3, hook: func(i int) {
			e.putCurrent(t, "contended", e.bundle(t, "contended", time.Now().Add(time.Duration(20+i)*day), "other.example.com"))
		}}
		ours := e.bundle(t, "contended", time.Now().Add(60*day))
		_, err := smsink.New(api, zap.NewNop(), smsink.Options{}).Store(ctx, target, ours, smsink.StoreOptions{})
		if err == nil || !strings.Contains(err.Error(), "move AWSCURRENT to "+smsink.Token(ours)) {
			t.Fatalf("err = %v, want the compare-and-swap given up", err)
		}
		e.noPending(t, "contended")
	})
}

// TestWinnerUsesClock: whether the certificate another runner stored is as good as ours
// is judged by the sink's clock. The other runner's has 55 days left and ours 60 (at
// least nine tenths: as good); from a clock 39 days later they have 16 and 21 (less than
// nine tenths), so ours replaces it.
func TestWinnerUsesClock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		shift    time.Duration
		lostRace bool
	}{{0, true}, {39 * day, false}} {
		e := newEnv(t)
		ctx := context.Background()
		target := smsink.Target{Secret: "clocked"}
		now := time.Now()
		old := e.bundle(t, "clocked", now.Add(5*day))
		planned, err := e.sink.Store(ctx, target, old, smsink.StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Another runner stored a certificate meanwhile.
		if _, err := e.sink.Store(ctx, target, e.bundle(t, "clocked", now.Add(55*day)), smsink.StoreOptions{}); err != nil {
			t.Fatal(err)
		}
		sink := smsink.New(e.client, zap.NewNop(), smsink.Options{Now: func() time.Time { return now.Add(tc.shift) }})
		_, err = sink.Store(ctx, target, e.bundle(t, "clocked", now.Add(60*day)), smsink.StoreOptions{Expect: &planned, Force: true})
		if got := errors.Is(err, smsink.ErrLostRace); got != tc.lostRace {
			t.Errorf("shift %s: err = %v, want lost race %v", tc.shift, err, tc.lostRace)
		}
	}
}
