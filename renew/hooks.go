package renew

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/hooks"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// HookResult is one hook's outcome in the summary.
type HookResult struct {
	Hook     string        `json:"hook"`
	Status   string        `json:"status"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// runRenewHooks runs the certificate's on_renew hooks that have not yet succeeded for
// version, records how far they got, and reports them in the result. A failed hook is
// retried on the next pass; the certificate is not issued again for it.
func (r *Runner) runRenewHooks(ctx context.Context, w *work, st smsink.HookProgress, ev hooks.Event) {
	hs := w.cert.OnRenew
	if len(hs) == 0 || st.Done >= len(hs) {
		return
	}
	index := map[string]int{}
	for i, h := range hs {
		index[h.Name()] = i
	}
	results := hooks.RunAll(ctx, hs, ev, func(name string) bool { return index[name] < st.Done })
	done := 0
	for _, res := range results {
		if res.Status != hooks.StatusOK && res.Status != hooks.StatusDone {
			break
		}
		done++
	}
	r.reportHooks(w, results)
	st.Done = done
	tags := map[string]string{smsink.TagHooks: st.String(), smsink.TagHookError: ""}
	herr := hooks.Err(results)
	if herr != nil {
		tags[smsink.TagHookError] = smsink.EncodeText(herr.Error())
	}
	if i := slices.IndexFunc(results, func(res hooks.Result) bool { return res.Status == hooks.StatusInterrupted }); i >= 0 {
		// Killed by a clean stop: the hook stays to run (the next pass runs it) and the
		// certificate is interrupted, not failing; an earlier pass's hook error, if any,
		// is left as it was rather than replaced by the stop's "context canceled".
		delete(tags, smsink.TagHookError)
		r.stop(w, fmt.Errorf("on_renew hook %s stopped with the pass; it runs again on the next pass: %w", results[i].Hook, context.Cause(ctx)))
	}
	w.state.set(tags) // written at the end of the pass
	if err := herr; err != nil {
		w.res.HookError = err.Error()
		r.log.Error("on_renew hook failed; it runs again on the next pass", zap.String("cert", w.cert.Name),
			zap.Int("hooks_done", done), zap.Int("hooks", len(hs)), zap.Error(err))
	}
}

// runFailureHooks tells the on_failure hooks that a certificate failed.
func (r *Runner) runFailureHooks(ctx context.Context, w *work, err error) {
	if len(w.cert.OnFailure) == 0 || w.dry {
		return
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	ev := hooks.Event{Name: w.cert.Name, Domains: w.cert.Domains, SecretARN: w.res.SecretARN,
		NotAfter: w.in.Stored.NotAfter, Error: err.Error(), Kind: hooks.KindFailure}
	results := hooks.RunAll(hctx, w.cert.OnFailure, ev, nil)
	r.reportHooks(w, results)
	if herr := hooks.Err(results); herr != nil {
		r.log.Error("on_failure hook failed", zap.String("cert", w.cert.Name), zap.Error(herr))
	}
}

func (r *Runner) reportHooks(w *work, results []hooks.Result) {
	for _, res := range results {
		hr := HookResult{Hook: res.Hook, Status: string(res.Status), Duration: res.Duration}
		if res.Err != nil {
			hr.Error = res.Err.Error()
		}
		w.res.Hooks = append(w.res.Hooks, hr)
		if res.Status == hooks.StatusOK || res.Status == hooks.StatusFailed {
			if r.deps.OnHook != nil {
				r.deps.OnHook(w.cert.Name, res.Hook, res.Err)
			}
			r.log.Info("hook ran", zap.String("cert", w.cert.Name), zap.String("hook", res.Hook),
				zap.String("status", string(res.Status)), zap.Duration("duration", res.Duration))
		}
	}
}
