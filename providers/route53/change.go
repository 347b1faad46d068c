package route53

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"go.uber.org/zap"

	"github.com/certferry/certferry/internal/waitlog"
)

// ErrInsyncTimeout is wrapped by the error of records whose change did not become
// INSYNC within Options.InsyncTimeout.
var ErrInsyncTimeout = errors.New("change not INSYNC before the timeout")

// applied is a change Route 53 accepted and the units it carries.
type applied struct {
	id    string
	units []*unit
}

// readSets reads the current TXT set of every name of the zone. It picks the
// cheaper way in API calls: one ListResourceRecordSets per name (MaxItems=1,
// starting at the name) costs one call per name; listing the whole zone costs one
// call per 300 record sets. The zone's size comes from discovery
// (ResourceRecordSetCount); when it is unknown (an explicit zone id that discovery
// has not seen) the per-name reads are used, whose cost is known. Both are
// snapshots: the compare-and-swap write catches anything that moved since.
func (p *Provider) readSets(ctx context.Context, g *zoneGroup, log *zap.Logger) {
	if g.snap.fill(g) {
		return // resolving the targets just read them (see zoneSnap)
	}
	if z, ok := p.zoneByID(g.id); ok && z.records >= 0 {
		pages := int((z.records + listPageSize - 1) / listPageSize)
		if pages < len(g.units) {
			sets, bad, err := p.listZone(ctx, g.id, log)
			if err == nil {
				for _, u := range g.units {
					u.old, u.err = sets[u.fqdn], bad[u.fqdn]
				}
				return
			}
			for _, u := range g.units {
				u.err = err
			}
			return
		}
	}
	for _, u := range g.units {
		if err := ctx.Err(); err != nil {
			u.err = err
			continue
		}
		u.old, u.err = p.readSet(ctx, g.id, u.fqdn, log)
	}
}

// readSet reads the TXT set at fqdn, nil if there is none.
func (p *Provider) readSet(ctx context.Context, zoneID, fqdn string, log *zap.Logger) (*rrset, error) {
	in := &route53.ListResourceRecordSetsInput{
		HostedZoneId:    aws.String(zoneID),
		StartRecordName: aws.String(fqdn),
		StartRecordType: types.RRTypeTxt,
		MaxItems:        aws.Int32(1),
	}
	out, err := p.api.ListResourceRecordSets(ctx, in, p.retryOpt)
	if err != nil {
		return nil, fmt.Errorf("read record set: %w", err)
	}
	for _, s := range out.ResourceRecordSets {
		if s.Type == types.RRTypeTxt && canonicalName(deref(s.Name)) == fqdn {
			return toRRSet(s)
		}
	}
	return nil, nil
}

// listZone reads every TXT set of the zone, keyed by canonical name.
// A set that cannot be merged into gets an error instead.
func (p *Provider) listZone(ctx context.Context, zoneID string, log *zap.Logger) (map[string]*rrset, map[string]error, error) {
	s := newZoneSnap()
	if err := p.listSnap(ctx, zoneID, s, log); err != nil {
		return nil, nil, fmt.Errorf("list record sets: %w", err)
	}
	return s.txt, s.bad, nil
}

// toRRSet keeps what a compare-and-swap needs of a set. Sets with a routing policy
// (a set identifier) are not ours to merge into: writing a simple set next to them
// is refused by Route 53 anyway.
func toRRSet(s types.ResourceRecordSet) (*rrset, error) {
	if s.SetIdentifier != nil {
		return nil, fmt.Errorf("the TXT set has a routing policy (set identifier %q): not supported", *s.SetIdentifier)
	}
	if s.AliasTarget != nil {
		return nil, errors.New("the TXT set is an alias: not supported")
	}
	set := &rrset{ttl: deref(s.TTL)}
	for _, rr := range s.ResourceRecords {
		set.values = append(set.values, deref(rr.Value))
	}
	return set, nil
}

// applyBatch writes one batch. When Route 53 rejects it with InvalidChangeBatch the
// batch is bisected until the rejected units are alone; a unit alone is read again:
// if its set moved, that was a lost compare-and-swap and it is re-planned and
// retried (bounded by maxCAS); if not, the unit itself is bad and gets AWS's
// message. So one bad name costs about 2*log2(batch) extra calls and the good
// names are still written.
func (p *Provider) applyBatch(ctx context.Context, zoneID string, batch []*unit, o op, log *zap.Logger, done *[]applied) {
	if len(batch) == 0 {
		return
	}
	if err := ctx.Err(); err != nil {
		for _, u := range batch {
			u.err = err
		}
		return
	}
	id, err := p.change(ctx, zoneID, batch, log)
	if err == nil {
		*done = append(*done, applied{id: id, units: batch})
		return
	}
	var icb *types.InvalidChangeBatch
	if !errors.As(err, &icb) {
		for _, u := range batch {
			u.err = err
		}
		return
	}
	if len(batch) > 1 {
		log.Debug("change batch rejected: bisecting", zap.Int("names", len(batch)), zap.String("reason", rejection(icb)))
		mid := len(batch) / 2
		p.applyBatch(ctx, zoneID, batch[:mid], o, log, done)
		p.applyBatch(ctx, zoneID, batch[mid:], o, log, done)
		return
	}
	u := batch[0]
	ulog := log.With(zap.String("fqdn", u.fqdn))
	cur, rerr := p.readSet(ctx, zoneID, u.fqdn, ulog)
	if rerr == nil && !sameSet(cur, u.old) {
		// Lost a compare-and-swap: someone wrote the set since we read it. (For
		// CleanUp this also covers a set already gone: the new plan is empty.)
		if u.cas >= maxCAS {
			u.err = fmt.Errorf("the record set kept changing under us: gave up after %d attempts: %w", u.cas+1, err)
			return
		}
		u.cas++
		ulog.Info("record set changed since read: retrying", zap.Int("attempt", u.cas+1))
		u.old = cur
		u.plan(o, p.opts.TTL)
		if len(u.changes) == 0 {
			return // the set already is what we want
		}
		p.applyBatch(ctx, zoneID, batch, o, log, done)
		return
	}
	ulog.Warn("record rejected by Route 53", zap.String("reason", rejection(icb)))
	u.err = fmt.Errorf("rejected: %s: %w", rejection(icb), err)
}

// rejection is Route 53's reason for an InvalidChangeBatch: the listed messages,
// or the single one.
func rejection(icb *types.InvalidChangeBatch) string {
	if len(icb.Messages) > 0 {
		return strings.Join(icb.Messages, "; ")
	}
	if msg := icb.ErrorMessage(); msg != "" {
		return msg
	}
	return "invalid change batch"
}

// change sends one ChangeResourceRecordSets for the batch and returns the change id.
func (p *Provider) change(ctx context.Context, zoneID string, batch []*unit, log *zap.Logger) (string, error) {
	var changes []types.Change
	for _, u := range batch {
		changes = append(changes, u.changes...)
	}
	in := &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch:  &types.ChangeBatch{Comment: aws.String("certferry DNS-01"), Changes: changes},
	}
	out, err := p.api.ChangeResourceRecordSets(ctx, in, p.retryOpt)
	if err != nil {
		return "", err
	}
	id := ""
	if out.ChangeInfo != nil {
		id = strings.TrimPrefix(deref(out.ChangeInfo.Id), "/change/")
	}
	log.Info("change submitted", zap.String("change_id", id), zap.Int("names", len(batch)), zap.Int("changes", len(changes)))
	return id, nil
}

// waitInsync waits until the change is INSYNC, with the SDK's
// ResourceRecordSetsChangedWaiter: GetChange at once (a change Route 53 applies quickly
// is seen without a pause), then every PollInterval (MinDelay = MaxDelay: the waiter's
// own backoff would leave a change already INSYNC unseen for several PollIntervals),
// until the deadline. A wait that lasts is reported at info level (internal/waitlog).
func (p *Provider) waitInsync(ctx context.Context, id string, deadline time.Time, log *zap.Logger) error {
	log = log.With(zap.String("change_id", id))
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	progress := waitlog.New(log, "waiting for Route 53 to report the change INSYNC", deadline, p.opts.Now)
	var mu sync.Mutex
	var status types.ChangeStatus
	w := route53.NewResourceRecordSetsChangedWaiter(p.api, func(o *route53.ResourceRecordSetsChangedWaiterOptions) {
		o.MinDelay, o.MaxDelay = p.opts.PollInterval, p.opts.PollInterval
		o.ClientOptions = append(o.ClientOptions, p.retryOpt)
		insync := o.Retryable
		o.Retryable = func(ctx context.Context, in *route53.GetChangeInput, out *route53.GetChangeOutput, err error) (bool, error) {
			again, err := insync(ctx, in, out, err)
			if out != nil && out.ChangeInfo != nil {
				mu.Lock()
				status = out.ChangeInfo.Status
				mu.Unlock()
				log.Debug("change status", zap.String("status", string(out.ChangeInfo.Status)))
			}
			if again {
				progress.Before(p.opts.PollInterval, zap.String("status", string(status)))
			}
			return again, err
		}
	})
	// The waiter's own bound is a poll later than wctx's, so that wctx ends the wait and
	// a timeout is told apart from a failed call. The waiter gives up as soon as less than
	// a poll is left of its bound, that is once the deadline has passed, and on a loaded
	// machine that can come before wctx's timer has fired: a passed deadline is a timeout
	// whichever of the two noticed it first.
	err := w.Wait(wctx, &route53.GetChangeInput{Id: aws.String(id)}, time.Until(deadline)+p.opts.PollInterval)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("wait for change %s: %w", id, ctx.Err())
	case wctx.Err() != nil || time.Until(deadline) <= 0:
		mu.Lock()
		defer mu.Unlock()
		if status == "" {
			status = types.ChangeStatusPending
		}
		return fmt.Errorf("change %s still %s after %s: %w", id, status, p.opts.InsyncTimeout, ErrInsyncTimeout)
	}
	return fmt.Errorf("wait for change %s: %w", id, err)
}

// newRetryer is the retryer of every Route 53 call the provider makes, passed per call
// (Provider.retryOpt) so that the client's own, which serves every other call of the
// caller's AWS configuration, is left alone. It is the SDK's standard retryer (it
// retries Throttling and PriorRequestNotComplete among others, and honours the
// context) with the provider's settings: MaxAttempts attempts, pauses from RetryDelay
// doubling with jitter up to 20 s, and no client-side retry quota. The quota protects
// a failing service from retry storms; Route 53's throttling is the account's shared
// request rate, which a streak of Throttling answers in a row says is busy, and waiting
// it out is the only way the change gets written (TestThrottlingStreakOutlastsTheClientRetryer:
// the SDK's defaults give up after three).
func newRetryer(opts Options) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = opts.MaxAttempts
		o.MaxBackoff = maxRetryDelay
		o.Backoff = doubling{first: opts.RetryDelay}
		o.RateLimiter = ratelimit.None
	})
}

// doubling is the pause before retry attempt+1: first, doubled per attempt up to
// maxRetryDelay, with jitter.
type doubling struct{ first time.Duration }

func (b doubling) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	d := b.first
	for i := 1; i < attempt && d < maxRetryDelay; i++ {
		d *= 2
	}
	return jitter(min(d, maxRetryDelay)), nil
}

// jitter returns a duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}
