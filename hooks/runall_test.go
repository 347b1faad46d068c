package hooks_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
)

// fake records the order in which hooks ran.
type fake struct {
	name string
	err  error
	ran  *[]string
}

func (f fake) Name() string { return f.name }
func (f fake) Run(_ context.Context, _ hooks.Event) error {
	*f.ran = append(*f.ran, f.name)
	return f.err
}

func TestRunAll(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name     string
		kind     string
		fail     string   // the hook that fails
		done     []string // already succeeded for this version
		wantRan  []string
		wantStat []string
	}{
		{"all succeed in order", hooks.KindRenew, "", nil, []string{"a", "b", "c"}, []string{"ok", "ok", "ok"}},
		{"done ones are skipped", hooks.KindRenew, "", []string{"a", "c"}, []string{"b"}, []string{"done", "ok", "done"}},
		{"renew stops at the first failure", hooks.KindRenew, "b", nil, []string{"a", "b"}, []string{"ok", "failed", "blocked"}},
		{"next pass: retried hook first, then the rest", hooks.KindRenew, "", []string{"a"}, []string{"b", "c"}, []string{"done", "ok", "ok"}},
		{"a done hook after a failure stays done", hooks.KindRenew, "a", []string{"c"}, []string{"a"}, []string{"failed", "blocked", "done"}},
		{"failure hooks all run", hooks.KindFailure, "a", nil, []string{"a", "b", "c"}, []string{"failed", "ok", "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ran []string
			var hs []hooks.Hook
			for _, n := range []string{"a", "b", "c"} {
				f := fake{name: n, ran: &ran}
				if n == tc.fail {
					f.err = boom
				}
				hs = append(hs, f)
			}
			res := hooks.RunAll(t.Context(), hs, hooks.Event{Kind: tc.kind}, func(n string) bool { return slices.Contains(tc.done, n) })
			if !slices.Equal(ran, tc.wantRan) {
				t.Errorf("ran %q, want %q", ran, tc.wantRan)
			}
			var stat []string
			for i, r := range res {
				stat = append(stat, r.Status)
				if r.Hook != hs[i].Name() || (r.Status == hooks.StatusFailed) != (r.Err != nil) {
					t.Errorf("result %d = %+v", i, r)
				}
			}
			if !slices.Equal(stat, tc.wantStat) {
				t.Errorf("statuses %q, want %q", stat, tc.wantStat)
			}
			if err := hooks.Err(res); (tc.fail != "") != errors.Is(err, boom) {
				t.Errorf("Err = %v", err)
			}
		})
	}
}

func TestRunAllCancelled(t *testing.T) {
	t.Parallel()
	var ran []string
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := hooks.RunAll(ctx, []hooks.Hook{fake{name: "a", ran: &ran}}, hooks.Event{Kind: hooks.KindFailure}, nil)
	if len(ran) != 0 || res[0].Status != hooks.StatusBlocked {
		t.Errorf("ran %q, results %+v", ran, res)
	}
}

// cancelling is a hook that the pass is stopped under: it returns the error a killed
// process gives once ctx is done.
type cancelling struct{ cancel context.CancelFunc }

func (cancelling) Name() string { return "stopped" }
func (c cancelling) Run(ctx context.Context, _ hooks.Event) error {
	c.cancel()
	<-ctx.Done()
	return ctx.Err()
}

// TestRunAllInterrupted: a hook killed because ctx was done (a clean stop of the pass) is
// interrupted, with no error to record, and the rest are blocked; it was "failed" with
// "context canceled" as its error.
func TestRunAllInterrupted(t *testing.T) {
	t.Parallel()
	var ran []string
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res := hooks.RunAll(ctx, []hooks.Hook{cancelling{cancel}, fake{name: "b", ran: &ran}}, hooks.Event{Kind: hooks.KindRenew}, nil)
	if len(ran) != 0 || res[0].Status != hooks.StatusInterrupted || res[0].Err != nil || res[1].Status != hooks.StatusBlocked || hooks.Err(res) != nil {
		t.Errorf("ran %q, results %+v", ran, res)
	}
}

// TestRunAllFailureHookPastBound: an on_failure hook killed because ctx ended (the
// bound its caller sets, never a stop) failed, with its error, rather than being
// interrupted with nothing recorded.
func TestRunAllFailureHookPastBound(t *testing.T) {
	t.Parallel()
	var ran []string
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res := hooks.RunAll(ctx, []hooks.Hook{cancelling{cancel}, fake{name: "b", ran: &ran}}, hooks.Event{Kind: hooks.KindFailure}, nil)
	if len(ran) != 0 || res[0].Status != hooks.StatusFailed || res[0].Err == nil || res[1].Status != hooks.StatusBlocked || hooks.Err(res) == nil {
		t.Errorf("ran %q, results %+v", ran, res)
	}
}

// TestFromConfigNames: names are stable, unique and hold no secret.
func TestFromConfigNames(t *testing.T) {
	t.Parallel()
	hs, err := hooks.FromConfig([]config.Hook{
		{Exec: []string{"/usr/local/bin/redeploy", "--all"}},
		{Webhook: &config.Webhook{URL: "https://user:pw@hooks.example.com/certferry?token=t0k", Secret: "s"}},
		{Exec: []string{"/usr/local/bin/redeploy", "--all"}},
		{Webhook: &config.Webhook{URL: "https://hooks.example.com/certferry", Secret: "other"}},
	}, hooks.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range hs {
		names = append(names, h.Name())
	}
	want := []string{
		"exec:/usr/local/bin/redeploy",
		"webhook:https://hooks.example.com",
		"exec:/usr/local/bin/redeploy#2",
		"webhook:https://hooks.example.com#2",
	}
	if !slices.Equal(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
}

// TestNamesHoldNoSecret: a token in an exec argument (config expands ${VAR} there) or anywhere
// in a webhook URL but the host (Slack and Discord keep it in the path) never reaches Name,
// which goes to logs, the /metrics label and the run summary.
func TestNamesHoldNoSecret(t *testing.T) {
	t.Parallel()
	const token = "tOpS3cretT0ken"
	tests := []struct {
		hook config.Hook
		want string
	}{
		{config.Hook{Exec: []string{"/usr/bin/curl", "-H", "Authorization: Bearer " + token, "https://api.example.com"}}, "exec:/usr/bin/curl"},
		{config.Hook{Exec: []string{"/usr/bin/curl", "https://api.example.com/?key=" + token}}, "exec:/usr/bin/curl"},
		{config.Hook{Webhook: &config.Webhook{URL: "https://hooks.slack.com/services/T000/B000/" + token, Secret: "s"}}, "webhook:https://hooks.slack.com"},
		{config.Hook{Webhook: &config.Webhook{URL: "https://discord.com/api/webhooks/123/" + token, Secret: "s"}}, "webhook:https://discord.com"},
		{config.Hook{Webhook: &config.Webhook{URL: "https://u:" + token + "@hooks.example.com:8443/x?t=" + token + "#" + token, Secret: "s"}}, "webhook:https://hooks.example.com:8443"},
		{config.Hook{Webhook: &config.Webhook{URL: "http://127.0.0.1:9/" + token, Secret: "s"}}, "webhook:http://127.0.0.1:9"},
	}
	for _, tt := range tests {
		hs, err := hooks.FromConfig([]config.Hook{tt.hook, tt.hook}, hooks.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range hs {
			want := tt.want
			if i == 1 {
				want += "#2"
			}
			if h.Name() != want || strings.Contains(h.Name(), token) {
				t.Errorf("Name = %q, want %q", h.Name(), want)
			}
		}
	}
}
