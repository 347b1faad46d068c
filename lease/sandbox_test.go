package lease_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/lease"
)

func startSandbox(t *testing.T) (*sandbox.Sandbox, *dynamodb.Client) {
	t.Helper()
	sb, err := sandbox.Start(t.Context(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return sb, dynamodb.NewFromConfig(sb.AWSConfig(t.Context()))
}

func manager(t *testing.T, db lease.Client, table, holder string, d time.Duration) *lease.Manager {
	t.Helper()
	m, err := lease.New(lease.Options{Client: db, Table: table, Duration: d, Holder: holder})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSandboxOneHolderPerKey: three runners race for twelve keys through the real SDK
// and the sandbox's DynamoDB; each key goes to exactly one of them, each take is one
// UpdateItem, and the others learn who holds it.
func TestSandboxOneHolderPerKey(t *testing.T) {
	t.Parallel()
	sb, db := startSandbox(t)
	table := sb.Info().LeaseTable
	var mu sync.Mutex
	won := map[string][]string{}
	var wg sync.WaitGroup
	for r := range 3 {
		m := manager(t, db, table, fmt.Sprintf("runner-%d", r), time.Minute)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 12 {
				key := fmt.Sprintf("cert-%02d", k)
				_, err := m.Take(t.Context(), key)
				var held *lease.HeldError
				switch {
				case err == nil:
					mu.Lock()
					won[key] = append(won[key], m.Holder())
					mu.Unlock()
				case errors.As(err, &held):
					if held.Holder == "" || held.Holder == m.Holder() || time.Until(held.Until) <= 0 {
						t.Errorf("%s: refusal %+v", key, held)
					}
				default:
					t.Errorf("%s: %v", key, err)
				}
			}
		}()
	}
	wg.Wait()
	if len(won) != 12 {
		t.Errorf("%d keys taken, want 12", len(won))
	}
	for k, h := range won {
		if len(h) != 1 {
			t.Errorf("%s taken by %v, want one runner", k, h)
		}
	}
	if got := sb.Calls().Count("dynamodb", "UpdateItem"); got != 36 {
		t.Errorf("dynamodb.UpdateItem = %d, want 36 (one per take)", got)
	}
	if got := sb.DynamoDB().Items(table); got != 12 {
		t.Errorf("items = %d, want 12", got)
	}
}

// TestSandboxTakeoverAfterExpiry: a holder that stops renewing (as one killed would)
// loses its lease once it expires; the next runner takes it with a higher generation,
// and the first one's late renewal and release are refused.
func TestSandboxTakeoverAfterExpiry(t *testing.T) {
	t.Parallel()
	sb, db := startSandbox(t)
	table := sb.Info().LeaseTable
	const d = time.Second
	a := manager(t, db, table, "a", d)
	b := manager(t, db, table, "b", d)
	la, err := a.Take(t.Context(), "www")
	if err != nil {
		t.Fatal(err)
	}
	var held *lease.HeldError
	if _, err := b.Take(t.Context(), "www"); !errors.As(err, &held) || held.Holder != "a" {
		t.Fatalf("take of a's live lease: %v", err)
	}
	// The expiry is in whole seconds: the lease is free once the clock passes it.
	deadline := time.Now().Add(testwait.For(d))
	var lb *lease.Lease
	for lb == nil {
		var err error
		if lb, err = b.Take(t.Context(), "www"); err != nil && !errors.As(err, &held) {
			t.Fatal(err)
		}
		if lb == nil {
			if time.Now().After(deadline) {
				t.Fatal("the expired lease was not taken over")
			}
			select {
			case <-time.After(time.Until(held.Until.Add(time.Second))):
			case <-t.Context().Done():
				return
			}
		}
	}
	if lb.Generation() != la.Generation()+1 {
		t.Errorf("generation %d after takeover of %d", lb.Generation(), la.Generation())
	}
	if err := la.Renew(t.Context()); !errors.Is(err, lease.ErrLost) {
		t.Errorf("late renewal: %v, want ErrLost", err)
	}
	if err := la.Release(t.Context()); !errors.Is(err, lease.ErrLost) {
		t.Errorf("late release: %v, want ErrLost", err)
	}
	if err := lb.Release(t.Context()); err != nil {
		t.Errorf("release: %v", err)
	}
	if got := sb.DynamoDB().Items(table); got != 0 {
		t.Errorf("items after release = %d", got)
	}
}

// TestSandboxHandEditedItems: an item no runner wrote (an operator's edit, another
// tool) never holds a certificate forever: an expiry that is not a number, is missing or
// lies beyond any lease a runner writes, and a holder that is empty, missing or not a
// string, are taken like an expired lease, and a plan does not show them as holders. A
// lease another runner really holds (its expiry up to the longest duration ahead) stays
// held.
func TestSandboxHandEditedItems(t *testing.T) {
	t.Parallel()
	sb, db := startSandbox(t)
	table := sb.Info().LeaseTable
	m := manager(t, db, table, "runner-1", time.Minute)
	now := time.Now()
	epoch := func(d time.Duration) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(d).Unix(), 10)}
	}
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	for _, tc := range []struct {
		name string
		item map[string]types.AttributeValue
		held bool
	}{
		{"expires a string", map[string]types.AttributeValue{"holder": str("ops"), "expires": str("tomorrow")}, false},
		{"expires missing", map[string]types.AttributeValue{"holder": str("ops"), "generation": &types.AttributeValueMemberN{Value: "7"}}, false},
		{"expires in the year 5138", map[string]types.AttributeValue{"holder": str("ops"), "expires": &types.AttributeValueMemberN{Value: "99999999999"}}, false},
		{"expires a day ahead", map[string]types.AttributeValue{"holder": str("ops"), "expires": epoch(24 * time.Hour)}, false},
		{"holder empty", map[string]types.AttributeValue{"holder": str(""), "expires": epoch(time.Minute)}, false},
		{"holder missing", map[string]types.AttributeValue{"expires": epoch(time.Minute)}, false},
		{"holder a number", map[string]types.AttributeValue{"holder": &types.AttributeValueMemberN{Value: "1"}, "expires": epoch(time.Minute)}, false},
		{"a live lease of the longest duration", map[string]types.AttributeValue{"holder": str("bastion-2"), "expires": epoch(lease.MaxDuration)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := strings.ReplaceAll(tc.name, " ", "-")
			tc.item["key"] = str(key)
			if _, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: tc.item}); err != nil {
				t.Fatal(err)
			}
			peek, err := m.HeldElsewhere(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			l, err := m.Take(t.Context(), key)
			var held *lease.HeldError
			switch {
			case tc.held && (!errors.As(err, &held) || peek == nil || peek.Holder != held.Holder):
				t.Errorf("take: %v, peek %v; want held by bastion-2 in both", err, peek)
			case !tc.held && (err != nil || peek != nil):
				t.Errorf("take: %v, peek %v; want taken and not shown held", err, peek)
			case !tc.held && l.Expires().After(time.Now().Add(time.Minute+time.Second)):
				t.Errorf("taken until %s", l.Expires())
			}
		})
	}
}

// TestSandboxHandEditedGeneration: an expired item whose generation a hand edit left
// fractional or beyond int64 is taken, and the lease still renews and releases (the
// checks compare the number as DynamoDB holds it); the take used to succeed in DynamoDB
// and then fail in the runner, leaving the item held under its name until it expired,
// on every pass.
func TestSandboxHandEditedGeneration(t *testing.T) {
	t.Parallel()
	sb, db := startSandbox(t)
	table := sb.Info().LeaseTable
	m := manager(t, db, table, "runner-1", time.Minute)
	for _, gen := range []string{"1.5", "99999999999999999999999"} {
		t.Run(gen, func(t *testing.T) {
			key := "gen-" + gen
			item := map[string]types.AttributeValue{"key": &types.AttributeValueMemberS{Value: key},
				"holder": &types.AttributeValueMemberS{Value: "ops"}, "expires": &types.AttributeValueMemberN{Value: "1"},
				"generation": &types.AttributeValueMemberN{Value: gen}}
			if _, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
				t.Fatal(err)
			}
			l, err := m.Take(t.Context(), key)
			if err != nil {
				t.Fatalf("take: %v", err)
			}
			if err := l.Renew(t.Context()); err != nil {
				t.Errorf("renew: %v", err)
			}
			if err := l.Release(t.Context()); err != nil {
				t.Errorf("release: %v", err)
			}
		})
	}
	if got := sb.DynamoDB().Items(table); got != 0 {
		t.Errorf("items after release = %d, want 0", got)
	}
}
