// Package lease is a per-certificate lease in DynamoDB, taken and kept with conditional
// writes, so that several runners (a daemon, a Lambda, an operator's one-shot renew, two
// bastions) on the same certificates order each due one exactly once
// (docs/coordination.md).
//
// One item per key: {key, holder, expires (epoch seconds, the table's TTL attribute),
// generation}. Take writes it when it is absent or expired, or already this runner's,
// and raises the generation; Renew and Release succeed only while the item still names
// this holder and generation, so a runner that lost its lease (it paused past the
// expiry, its network was cut) learns it on its next write and never extends or
// deletes the new holder's lease.
//
// The package never logs; it makes no call until asked, and every call is bounded in
// time.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The item's attributes. KeyAttribute is the table's hash key (a string) and
// ExpiresAttribute its TTL attribute: deploy/terraform creates the table so.
const (
	KeyAttribute        = "key"
	ExpiresAttribute    = "expires"
	holderAttribute     = "holder"
	generationAttribute = "generation"
)

// Client is the part of the DynamoDB API a lease uses (*dynamodb.Client).
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ Client = (*dynamodb.Client)(nil)

// Options configure a Manager.
type Options struct {
	Client   Client
	Table    string
	Duration time.Duration // how long a lease lasts unless renewed (1s to MaxDuration)
	// Holder names this runner in the item and in other runners' "renewing elsewhere"
	// (NewHolder). It must differ between runners: two runners with one name would share
	// their leases.
	Holder string
	// Heartbeat is how often Keep renews a lease; default a third of Duration, so that two
	// renewals can fail before the lease expires.
	Heartbeat time.Duration
	Now       func() time.Time // default time.Now
}

// Manager takes and keeps leases for one runner. It is safe for concurrent use.
type Manager struct {
	opts Options
}

// New checks opts and returns a Manager.
func New(opts Options) (*Manager, error) {
	switch {
	case opts.Client == nil:
		return nil, errors.New("lease: new: no DynamoDB client")
	case opts.Table == "":
		return nil, errors.New("lease: new: no table")
	case opts.Holder == "":
		return nil, errors.New("lease: new: no holder name")
	case opts.Duration < time.Second || opts.Duration > MaxDuration:
		return nil, fmt.Errorf("lease: new: duration %s: must be 1s to %s", opts.Duration, MaxDuration)
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = opts.Duration / 3
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Manager{opts: opts}, nil
}

// NewHolder names a runner: its host, its process and a random part, so two processes on
// one host, or one restarted with the same pid, never share a name.
func NewHolder(host string, pid int) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return host + "/" + strconv.Itoa(pid) + "/" + hex.EncodeToString(b[:])
}

// Holder is this runner's name.
func (m *Manager) Holder() string { return m.opts.Holder }

// Duration is how long a lease lasts unless renewed.
func (m *Manager) Duration() time.Duration { return m.opts.Duration }

// HeldError says another runner holds a live lease: the certificate is being renewed
// elsewhere.
type HeldError struct {
	Key    string
	Holder string
	Until  time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("lease: %s: renewing elsewhere (%s, until %s)", e.Key, e.Holder, e.Until.UTC().Format(time.RFC3339))
}

// ErrLost is returned when a lease this runner held has been taken over (it expired) or
// is gone: the runner must stop working on the certificate.
var ErrLost = errors.New("lease lost: another runner took it over after it expired")

// Lease is a lease this runner holds.
type Lease struct {
	m          *Manager
	key        string
	generation string // as DynamoDB holds it: the fencing checks compare it as written

	mu      sync.Mutex
	expires time.Time // as last written
}

// Key is the leased key.
func (l *Lease) Key() string { return l.key }

// Generation is the fencing number of this tenure: it grows with every take, so a
// write can be checked against it (Renew does).
//
// A generation a hand edit left fractional or beyond int64 still fences (the checks
// compare the number DynamoDB holds); Generation then reports its integer part, or 0.
func (l *Lease) Generation() int64 {
	if g, err := strconv.ParseInt(l.generation, 10, 64); err == nil {
		return g
	}
	g, _ := strconv.ParseFloat(l.generation, 64)
	return int64(g)
}

// Expires is when the lease ends unless renewed, as last written.
func (l *Lease) Expires() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expires
}

// MinCallTimeout keeps a very short lease's calls from timing out on a slow network;
// such a lease is then only known lost later (at its expiry, by Keep).
const MinCallTimeout = 10 * time.Second

// callTimeout bounds one DynamoDB call: a heartbeat, or MinCallTimeout for a short lease.
func (m *Manager) callTimeout() time.Duration { return max(m.opts.Heartbeat, MinCallTimeout) }

func epoch(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// expiry is the expiry written for a lease taken or renewed at now: whole seconds,
// rounded up, so the lease lasts at least its duration.
func (m *Manager) expiry(now time.Time) time.Time {
	return now.Add(m.opts.Duration + time.Second - 1).Truncate(time.Second)
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// MaxDuration is the longest lease a runner writes. An item whose expiry lies further
// ahead than MaxDuration plus maxSkew was not written by a runner (a hand edit, another
// tool): it is taken like an expired one, so that it cannot hold a certificate forever.
const MaxDuration = time.Hour

// maxSkew is how far ahead of this runner's clock another runner's may be before a
// lease it wrote looks too far in the future to be one.
const maxSkew = 5 * time.Minute

// takeCondition allows a take when nobody holds the item, when it is this runner's, or
// when no live runner can hold it: its expiry has passed, is not a number, or lies
// beyond any lease a runner writes; or its holder is missing, empty or not a string
// (no runner writes such an item: New refuses an empty holder).
const takeCondition = "attribute_not_exists(#k) OR #h = :h OR #e < :now OR #e > :horizon OR " +
	"NOT attribute_type(#e, :typeN) OR NOT attribute_type(#h, :typeS) OR #h = :empty"

// Take takes the lease on key: when nobody holds it, its holder's lease has expired, or
// it is already this runner's (see takeCondition). It returns a *HeldError when another
// runner holds it.
func (m *Manager) Take(ctx context.Context, key string) (*Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, m.callTimeout())
	defer cancel()
	now := m.opts.Now()
	expires := m.expiry(now)
	out, err := m.opts.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(m.opts.Table),
		Key:                 map[string]types.AttributeValue{KeyAttribute: s(key)},
		UpdateExpression:    aws.String("SET #h = :h, #e = :e, #g = if_not_exists(#g, :zero) + :one"),
		ConditionExpression: aws.String(takeCondition),
		ExpressionAttributeNames: map[string]string{
			"#k": KeyAttribute, "#h": holderAttribute, "#e": ExpiresAttribute, "#g": generationAttribute,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":h": s(m.opts.Holder), ":e": n(epoch(expires)), ":now": n(epoch(now)), ":zero": n("0"), ":one": n("1"),
			":horizon": n(epoch(horizon(now))), ":typeN": s("N"), ":typeS": s("S"), ":empty": s(""),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		holder, until := decode(ccf.Item)
		return nil, &HeldError{Key: key, Holder: holder, Until: until}
	}
	if err != nil {
		return nil, fmt.Errorf("lease: take %s: %w", key, err)
	}
	gen, ok := out.Attributes[generationAttribute].(*types.AttributeValueMemberN)
	if !ok {
		return nil, fmt.Errorf("lease: take %s: the answer holds no numeric generation", key)
	}
	return &Lease{m: m, key: key, generation: gen.Value, expires: expires}, nil
}

// HeldElsewhere returns who holds a live lease on key other than this runner, and until when;
// ok is false when nobody else does. It reads the item once (strongly consistent).
func (m *Manager) HeldElsewhere(ctx context.Context, key string) (*HeldError, error) {
	ctx, cancel := context.WithTimeout(ctx, m.callTimeout())
	defer cancel()
	out, err := m.opts.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(m.opts.Table),
		Key:            map[string]types.AttributeValue{KeyAttribute: s(key)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("lease: read %s: %w", key, err)
	}
	holder, until := decode(out.Item)
	now := m.opts.Now()
	if holder == "" || holder == m.opts.Holder || until.Unix() < now.Unix() || until.After(horizon(now)) {
		return nil, nil // Take would take it (takeCondition)
	}
	return &HeldError{Key: key, Holder: holder, Until: until}, nil
}

// horizon is the furthest expiry a live lease can have at now (MaxDuration, maxSkew).
func horizon(now time.Time) time.Time { return now.Add(MaxDuration + maxSkew) }

// decode reads holder and expiry from an item; missing or malformed values are zero.
func decode(item map[string]types.AttributeValue) (string, time.Time) {
	var holder string
	if v, ok := item[holderAttribute].(*types.AttributeValueMemberS); ok {
		holder = v.Value
	}
	var until time.Time
	if e, err := number(item[ExpiresAttribute]); err == nil {
		until = time.Unix(e, 0)
	}
	return holder, until
}

func number(v types.AttributeValue) (int64, error) {
	nv, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, errors.New("not a number")
	}
	return strconv.ParseInt(nv.Value, 10, 64)
}

// mine is the condition that the item is still this tenure's.
func (l *Lease) mine() (string, map[string]string, map[string]types.AttributeValue) {
	return "#h = :h AND #g = :g",
		map[string]string{"#h": holderAttribute, "#g": generationAttribute},
		map[string]types.AttributeValue{":h": s(l.m.opts.Holder), ":g": n(l.generation)}
}

// Renew extends the lease by its duration from now. It returns ErrLost when the lease
// is no longer this tenure's; it is also the fencing check before a write that only
// the holder may make.
func (l *Lease) Renew(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.m.callTimeout())
	defer cancel()
	expires := l.m.expiry(l.m.opts.Now())
	cond, names, values := l.mine()
	names["#e"] = ExpiresAttribute
	values[":e"] = n(epoch(expires))
	_, err := l.m.opts.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.m.opts.Table),
		Key:                       map[string]types.AttributeValue{KeyAttribute: s(l.key)},
		UpdateExpression:          aws.String("SET #e = :e"),
		ConditionExpression:       aws.String("attribute_exists(#h) AND " + cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("lease: renew %s: %w", l.key, ErrLost)
	}
	if err != nil {
		return fmt.Errorf("lease: renew %s: %w", l.key, err)
	}
	l.mu.Lock()
	l.expires = expires
	l.mu.Unlock()
	return nil
}

// Release deletes the lease if it is still this tenure's; a lease already taken over is
// left to its new holder (and reported as ErrLost).
func (l *Lease) Release(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.m.callTimeout())
	defer cancel()
	cond, names, values := l.mine()
	_, err := l.m.opts.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(l.m.opts.Table),
		Key:                       map[string]types.AttributeValue{KeyAttribute: s(l.key)},
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("lease: release %s: %w", l.key, ErrLost)
	}
	if err != nil {
		return fmt.Errorf("lease: release %s: %w", l.key, err)
	}
	return nil
}
