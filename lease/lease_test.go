package lease

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certferry/certferry/internal/testwait"
)

// fakeDDB keeps lease items in memory and answers the three calls as DynamoDB would
// answer the package's expressions: a take (its values carry :now), a renewal, a
// release. err, when set, fails every call as a network error would.
type fakeDDB struct {
	mu      sync.Mutex
	items   map[string]fakeItem
	err     error
	calls   int
	renewed chan struct{} // when set, told of each renewal
}

type fakeItem struct {
	holder       string
	expires, gen int64
}

var _ Client = (*fakeDDB)(nil)

func (f *fakeDDB) attrs(it fakeItem) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		holderAttribute: s(it.holder), ExpiresAttribute: n(strconv.FormatInt(it.expires, 10)), generationAttribute: n(strconv.FormatInt(it.gen, 10)),
	}
}

func val(m map[string]types.AttributeValue, k string) string {
	switch v := m[k].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

func num(m map[string]types.AttributeValue, k string) int64 {
	v, _ := strconv.ParseInt(val(m, k), 10, 64)
	return v
}

func (f *fakeDDB) start() error {
	f.mu.Lock()
	f.calls++
	return f.err
}

func (f *fakeDDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	defer f.mu.Unlock()
	if err := f.start(); err != nil {
		return nil, err
	}
	it, ok := f.items[val(in.Key, KeyAttribute)]
	if !ok {
		return &dynamodb.GetItemOutput{}, nil
	}
	return &dynamodb.GetItemOutput{Item: f.attrs(it)}, nil
}

func (f *fakeDDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	defer f.mu.Unlock()
	if err := f.start(); err != nil {
		return nil, err
	}
	key := val(in.Key, KeyAttribute)
	it, exists := f.items[key]
	v := in.ExpressionAttributeValues
	if _, take := v[":now"]; take {
		if exists && it.expires >= num(v, ":now") && it.holder != val(v, ":h") {
			return nil, &types.ConditionalCheckFailedException{Item: f.attrs(it)}
		}
		it = fakeItem{holder: val(v, ":h"), expires: num(v, ":e"), gen: it.gen + 1}
		f.items[key] = it
		return &dynamodb.UpdateItemOutput{Attributes: f.attrs(it)}, nil
	}
	if !exists || it.holder != val(v, ":h") || it.gen != num(v, ":g") {
		return nil, &types.ConditionalCheckFailedException{}
	}
	it.expires = num(v, ":e")
	f.items[key] = it
	if f.renewed != nil {
		select {
		case f.renewed <- struct{}{}:
		default:
		}
	}
	return &dynamodb.UpdateItemOutput{}, nil
}

func (f *fakeDDB) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	defer f.mu.Unlock()
	if err := f.start(); err != nil {
		return nil, err
	}
	key := val(in.Key, KeyAttribute)
	it, exists := f.items[key]
	v := in.ExpressionAttributeValues
	if !exists || it.holder != val(v, ":h") || it.gen != num(v, ":g") {
		return nil, &types.ConditionalCheckFailedException{}
	}
	delete(f.items, key)
	return &dynamodb.DeleteItemOutput{}, nil
}

// clock is a settable clock shared by the managers of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newManager(t *testing.T, db Client, holder string, c *clock) *Manager {
	t.Helper()
	m, err := New(Options{Client: db, Table: "leases", Duration: time.Minute, Holder: holder, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	db := &fakeDDB{}
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Table: "t", Holder: "h", Duration: time.Minute}, "no DynamoDB client"},
		{Options{Client: db, Holder: "h", Duration: time.Minute}, "no table"},
		{Options{Client: db, Table: "t", Duration: time.Minute}, "no holder name"},
		{Options{Client: db, Table: "t", Holder: "h", Duration: time.Millisecond}, "duration 1ms: must be 1s to 1h0m0s"},
	} {
		if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.opts, err, tc.want)
		}
	}
	if a, b := NewHolder("host", 7), NewHolder("host", 7); a == b || !strings.HasPrefix(a, "host/7/") {
		t.Errorf("NewHolder: %q, %q", a, b)
	}
}

// TestTakeRenewRelease walks two runners through a lease's life by table: each step
// acts at a time (seconds from the start) and expects a result.
func TestTakeRenewRelease(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		steps []string // "A take@0 ok gen=1", "B take@30 held A until=60", ...
	}{
		{"free, then held", []string{"A take@0 ok gen=1 until=60", "B take@30 held A until=60", "B take@60 held A until=60"}},
		{"taken over after expiry", []string{"A take@0 ok gen=1", "B take@61 ok gen=2 until=121", "A renew@62 lost", "A release@62 lost", "B renew@70 ok", "B release@71 ok", "A take@72 ok gen=1"}},
		{"renewal extends", []string{"A take@0 ok", "A renew@50 ok", "B take@100 held A until=110", "B take@111 ok gen=2"}},
		{"own lease taken again", []string{"A take@0 ok gen=1", "A take@10 ok gen=2 until=70", "B take@65 held A until=70"}},
		{"released is free", []string{"A take@0 ok", "A release@1 ok", "B take@2 ok gen=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := &fakeDDB{items: map[string]fakeItem{}}
			c := &clock{now: start}
			managers := map[string]*Manager{"A": newManager(t, db, "A", c), "B": newManager(t, db, "B", c)}
			leases := map[string]*Lease{}
			for _, step := range tc.steps {
				f := strings.Fields(step)
				who, op, want := f[0], f[1], f[2]
				op, at, _ := strings.Cut(op, "@")
				sec, _ := strconv.Atoi(at)
				c.mu.Lock()
				c.now = start.Add(time.Duration(sec) * time.Second)
				c.mu.Unlock()
				var err error
				switch op {
				case "take":
					var l *Lease
					if l, err = managers[who].Take(t.Context(), "www"); err == nil {
						leases[who] = l
					}
				case "renew":
					err = leases[who].Renew(t.Context())
				case "release":
					err = leases[who].Release(t.Context())
				}
				var held *HeldError
				switch want {
				case "ok":
					if err != nil {
						t.Fatalf("%s: %v", step, err)
					}
				case "lost":
					if !errors.Is(err, ErrLost) {
						t.Fatalf("%s: err = %v, want ErrLost", step, err)
					}
				case "held":
					if !errors.As(err, &held) || held.Holder != f[3] {
						t.Fatalf("%s: err = %v, want held by %s", step, err, f[3])
					}
				}
				for _, kv := range f[3:] {
					k, v, _ := strings.Cut(kv, "=")
					switch k {
					case "gen":
						if g := strconv.FormatInt(leases[who].Generation(), 10); g != v {
							t.Errorf("%s: generation %s", step, g)
						}
					case "until":
						sec, _ := strconv.Atoi(v)
						wantUntil := start.Add(time.Duration(sec) * time.Second)
						var got time.Time
						if held != nil {
							got = held.Until
						} else {
							got = leases[who].Expires()
						}
						if !got.Equal(wantUntil) {
							t.Errorf("%s: until %s, want %s", step, got, wantUntil)
						}
					}
				}
			}
		})
	}
}

func TestErrorsWrapped(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	db := &fakeDDB{items: map[string]fakeItem{}, err: boom}
	m := newManager(t, db, "A", &clock{now: time.Unix(1000, 0)})
	if _, err := m.Take(t.Context(), "www"); !errors.Is(err, boom) || err.Error() != "lease: take www: connection reset" {
		t.Errorf("Take: %v", err)
	}
	if _, err := m.HeldElsewhere(t.Context(), "www"); !errors.Is(err, boom) || err.Error() != "lease: read www: connection reset" {
		t.Errorf("HeldElsewhere: %v", err)
	}
	held := &HeldError{Key: "www", Holder: "bastion-1/42/abcdef", Until: time.Unix(1120, 0)}
	if got := held.Error(); got != "lease: www: renewing elsewhere (bastion-1/42/abcdef, until 1970-01-01T00:18:40Z)" {
		t.Errorf("HeldError = %q", got)
	}
}

func TestHeldElsewhere(t *testing.T) {
	t.Parallel()
	db := &fakeDDB{items: map[string]fakeItem{}}
	c := &clock{now: time.Unix(1000, 0)}
	a, b := newManager(t, db, "A", c), newManager(t, db, "B", c)
	if h, err := b.HeldElsewhere(t.Context(), "www"); h != nil || err != nil {
		t.Errorf("free: %v %v", h, err)
	}
	if _, err := a.Take(t.Context(), "www"); err != nil {
		t.Fatal(err)
	}
	if h, err := b.HeldElsewhere(t.Context(), "www"); err != nil || h == nil || h.Holder != "A" {
		t.Errorf("held by A: %v %v", h, err)
	}
	if h, _ := a.HeldElsewhere(t.Context(), "www"); h != nil {
		t.Errorf("A's own lease reported as elsewhere: %v", h)
	}
	c.Add(2 * time.Minute)
	if h, _ := b.HeldElsewhere(t.Context(), "www"); h != nil {
		t.Errorf("expired lease reported: %v", h)
	}
}

// TestKeepLost: Keep cancels its context with ErrLost once the lease is taken over,
// and once renewals have failed until the lease expired.
func TestKeepLost(t *testing.T) {
	t.Parallel()
	const beat = 10 * time.Millisecond
	for _, tc := range []struct {
		name  string
		spoil func(db *fakeDDB, c *clock)
	}{
		{"taken over", func(db *fakeDDB, _ *clock) {
			db.mu.Lock()
			db.items["www"] = fakeItem{holder: "B", expires: 1 << 40, gen: 9}
			db.mu.Unlock()
		}},
		{"renewals fail past the expiry", func(db *fakeDDB, c *clock) {
			db.mu.Lock()
			db.err = errors.New("timeout")
			db.mu.Unlock()
			c.Add(2 * time.Minute)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := &fakeDDB{items: map[string]fakeItem{}}
			c := &clock{now: time.Unix(1000, 0)}
			m, err := New(Options{Client: db, Table: "leases", Duration: time.Minute, Heartbeat: beat, Holder: "A", Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			l, err := m.Take(t.Context(), "www")
			if err != nil {
				t.Fatal(err)
			}
			kept, stop := l.Keep(t.Context())
			defer stop()
			tc.spoil(db, c)
			select {
			case <-kept.Done():
			case <-time.After(testwait.For(2 * beat)):
				t.Fatal("Keep did not notice the lost lease")
			}
			if cause := context.Cause(kept); !errors.Is(cause, ErrLost) {
				t.Errorf("cause = %v, want ErrLost", cause)
			}
			stop()
		})
	}
}

// TestKeepRenews: while kept, the lease's expiry moves on; stop ends the renewals and
// waits for them.
func TestKeepRenews(t *testing.T) {
	t.Parallel()
	const beat = 10 * time.Millisecond
	db := &fakeDDB{items: map[string]fakeItem{}, renewed: make(chan struct{}, 1)}
	c := &clock{now: time.Unix(1000, 0)}
	m, err := New(Options{Client: db, Table: "leases", Duration: time.Minute, Heartbeat: beat, Holder: "A", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Take(t.Context(), "www")
	if err != nil {
		t.Fatal(err)
	}
	first := l.Expires()
	c.Add(10 * time.Second)
	kept, stop := l.Keep(t.Context())
	select {
	case <-db.renewed:
	case <-time.After(testwait.For(beat)):
		t.Fatal("the lease was not renewed")
	}
	stop()
	if !l.Expires().After(first) {
		t.Errorf("expiry %s did not move past %s", l.Expires(), first)
	}
	if context.Cause(kept) != context.Canceled {
		t.Errorf("cause after stop = %v, want context.Canceled", context.Cause(kept))
	}
}
