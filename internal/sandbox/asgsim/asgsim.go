// Package asgsim is the Auto Scaling stand-in of the local AWS sandbox: the instance refresh
// operations (StartInstanceRefresh, DescribeInstanceRefreshes, CancelInstanceRefresh) over
// AWS's Query protocol (a form-encoded POST with Action and Version=2011-01-01, XML answers in
// the https://autoscaling.amazonaws.com/doc/2011-01-01/ namespace, errors in the
// <ErrorResponse> shape), well enough for the real aws-sdk-go-v2 autoscaling client.
//
// Groups are created from Go (CreateGroup); they have no instances. A refresh is Pending for
// Options.PendingFor, InProgress for Options.InProgressFor, then Successful; a cancelled one
// is Cancelling for Options.CancellingFor, then Cancelled. Status follows the injected clock,
// so tests move time instead of sleeping. The package starts no goroutines; every request is
// counted in the shared calls.Registry first, and an injected fault changes no state.
package asgsim

import (
	"github.com/certferry/certferry/internal/sandbox/internal/wire"

	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certferry/certferry/internal/sandbox/calls"
)

const (
	serviceName = "autoscaling"
	// Version is the Auto Scaling API version of the Query protocol.
	Version = "2011-01-01"
	// Namespace is the XML namespace of Auto Scaling answers.
	Namespace = "https://autoscaling.amazonaws.com/doc/" + Version + "/"

	maxBody = 1 << 20
)

// Options configures a Service.
type Options struct {
	Calls *calls.Registry // required
	Now   func() time.Time
	// PendingFor, InProgressFor and CancellingFor are how long a refresh stays in each
	// state (defaults 10s, 10m and 0: a cancel completes at once).
	PendingFor, InProgressFor, CancellingFor time.Duration
}

// Service is the in-memory Auto Scaling. It is safe for concurrent use.
type Service struct {
	calls *calls.Registry
	now   func() time.Time
	opts  Options

	mu     sync.Mutex
	groups map[string]*group
}

type group struct {
	name      string
	refreshes []*Refresh // oldest first
}

// Refresh is one instance refresh as the stand-in keeps it.
type Refresh struct {
	ID                   string
	Group                string
	Start                time.Time
	Cancelled            time.Time // zero unless cancelled
	MinHealthyPercentage int
	SkipMatching         bool
	DesiredConfiguration bool // the request carried a DesiredConfiguration
}

// New returns a Service with no group. It panics if opts.Calls is nil.
func New(opts Options) *Service {
	if opts.Calls == nil {
		panic("asgsim: New: Options.Calls is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PendingFor == 0 {
		opts.PendingFor = 10 * time.Second
	}
	if opts.InProgressFor == 0 {
		opts.InProgressFor = 10 * time.Minute
	}
	return &Service{calls: opts.Calls, now: opts.Now, opts: opts, groups: map[string]*group{}}
}

// CreateGroup creates an Auto Scaling group (no error if it exists).
func (s *Service) CreateGroup(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[name] == nil {
		s.groups[name] = &group{name: name}
	}
}

// AddRefresh records a refresh that someone else started at start (for tests of what a
// client does with a refresh already running). It returns the refresh's ID.
func (s *Service) AddRefresh(r Refresh) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[r.Group]
	if g == nil {
		return "", fmt.Errorf("asgsim: add refresh: no group %q", r.Group)
	}
	if r.ID == "" {
		r.ID = newUUID()
	}
	g.refreshes = append(g.refreshes, &r)
	return r.ID, nil
}

// Refreshes returns a copy of the group's refreshes, oldest first.
func (s *Service) Refreshes(groupName string) []Refresh {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupName]
	if g == nil {
		return nil
	}
	out := make([]Refresh, len(g.refreshes))
	for i, r := range g.refreshes {
		out[i] = *r
	}
	return out
}

// status returns the refresh's status at now, its end time (zero while active) and its
// percentage complete.
func (s *Service) status(r *Refresh, now time.Time) (status string, end time.Time, pct int) {
	if !r.Cancelled.IsZero() {
		end := r.Cancelled.Add(s.opts.CancellingFor)
		if now.Before(end) {
			return "Cancelling", time.Time{}, s.progress(r, r.Cancelled)
		}
		return "Cancelled", end, s.progress(r, r.Cancelled)
	}
	pendingEnd := r.Start.Add(s.opts.PendingFor)
	doneAt := pendingEnd.Add(s.opts.InProgressFor)
	switch {
	case now.Before(pendingEnd):
		return "Pending", time.Time{}, 0
	case now.Before(doneAt):
		return "InProgress", time.Time{}, s.progress(r, now)
	default:
		return "Successful", doneAt, 100
	}
}

func (s *Service) progress(r *Refresh, at time.Time) int {
	el := at.Sub(r.Start.Add(s.opts.PendingFor))
	if el <= 0 || s.opts.InProgressFor <= 0 {
		return 0
	}
	return min(int(el*100/s.opts.InProgressFor), 100)
}

func active(status string) bool {
	switch status {
	case "Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking":
		return true
	}
	return false
}

// apiError is an error answered in the Query protocol's <ErrorResponse> shape.
type apiError struct {
	status int
	code   string
	msg    string
}

// faultStatuses are the HTTP statuses Auto Scaling answers these codes with (injected
// faults with no status of their own); its other errors are 400s.
var faultStatuses = map[string]int{
	"InternalFailure":    http.StatusInternalServerError,
	"ResourceContention": http.StatusInternalServerError,
	"ServiceUnavailable": http.StatusServiceUnavailable,
	"AccessDenied":       http.StatusForbidden,
}

func sender(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers one Query-protocol request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newUUID()
	form, err := readForm(w, r)
	if err != nil {
		// Counted as an unknown action: the request could not be read.
		s.calls.Record(serviceName, "Unknown")
		writeError(w, reqID, sender("MalformedQueryString", "could not read the request"))
		return
	}
	action := form.Get("Action")
	if f, faulted := s.calls.Record(serviceName, action); faulted {
		if !f.Hold(r) {
			return // the client gave up: a hung endpoint answers nothing
		}
		if f.Code != "" {
			f.SetRetryAfter(w.Header())
			writeError(w, reqID, &apiError{status: f.StatusFor(faultStatuses), code: f.Code, msg: f.Text()})
			return
		}
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		writeError(w, reqID, sender("InvalidAction", "method %s is not supported", r.Method))
		return
	}
	if v := form.Get("Version"); v != Version {
		writeError(w, reqID, sender("NoSuchVersion", "Could not find API version %q", v))
		return
	}
	var out any
	var aerr *apiError
	s.mu.Lock()
	now := s.now()
	switch action {
	case "StartInstanceRefresh":
		out, aerr = s.start(now, form)
	case "DescribeInstanceRefreshes":
		out, aerr = s.describe(now, form)
	case "CancelInstanceRefresh":
		out, aerr = s.cancel(now, form)
	default:
		aerr = sender("InvalidAction", "The action %s is not valid for this web service.", action)
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, reqID, aerr)
		return
	}
	writeResult(w, reqID, action, out)
}

func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			return nil, err
		}
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		for k, v := range bf {
			form[k] = append(form[k], v...)
		}
	}
	return form, nil
}

func (s *Service) lookup(form url.Values) (*group, *apiError) {
	name := form.Get("AutoScalingGroupName")
	if name == "" {
		return nil, sender("ValidationError", "1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null")
	}
	g := s.groups[name]
	if g == nil {
		return nil, sender("ValidationError", "AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
	}
	return g, nil
}

func (s *Service) activeRefresh(g *group, now time.Time) *Refresh {
	for i := len(g.refreshes) - 1; i >= 0; i-- {
		if st, _, _ := s.status(g.refreshes[i], now); active(st) {
			return g.refreshes[i]
		}
	}
	return nil
}

func (s *Service) start(now time.Time, form url.Values) (any, *apiError) {
	g, aerr := s.lookup(form)
	if aerr != nil {
		return nil, aerr
	}
	minHealthy := 90
	if v := form.Get("Preferences.MinHealthyPercentage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			return nil, sender("ValidationError", "1 validation error detected: Value '%s' at 'preferences.minHealthyPercentage' failed to satisfy constraint: Member must have value between 0 and 100", v)
		}
		minHealthy = n
	}
	if s.activeRefresh(g, now) != nil {
		return nil, sender("InstanceRefreshInProgress", "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.")
	}
	desired := false
	for k := range form {
		if strings.HasPrefix(k, "DesiredConfiguration.") {
			desired = true
		}
	}
	r := &Refresh{
		ID: newUUID(), Group: g.name, Start: now, MinHealthyPercentage: minHealthy,
		SkipMatching: form.Get("Preferences.SkipMatching") == "true", DesiredConfiguration: desired,
	}
	g.refreshes = append(g.refreshes, r)
	return struct {
		InstanceRefreshID string `xml:"InstanceRefreshId"`
	}{r.ID}, nil
}

func (s *Service) cancel(now time.Time, form url.Values) (any, *apiError) {
	g, aerr := s.lookup(form)
	if aerr != nil {
		return nil, aerr
	}
	r := s.activeRefresh(g, now)
	if r == nil || !r.Cancelled.IsZero() {
		return nil, sender("ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found for Auto Scaling group %s", g.name)
	}
	r.Cancelled = now
	return struct {
		InstanceRefreshID string `xml:"InstanceRefreshId"`
	}{r.ID}, nil
}

type xmlRefresh struct {
	AutoScalingGroupName string  `xml:"AutoScalingGroupName"`
	InstanceRefreshID    string  `xml:"InstanceRefreshId"`
	Status               string  `xml:"Status"`
	StartTime            string  `xml:"StartTime"`
	EndTime              string  `xml:"EndTime,omitempty"`
	PercentageComplete   int     `xml:"PercentageComplete"`
	InstancesToUpdate    int     `xml:"InstancesToUpdate"`
	Preferences          xmlPref `xml:"Preferences"`
	DesiredConfiguration *struct {
		LaunchTemplate struct {
			Version string `xml:"Version"`
		} `xml:"LaunchTemplate"`
	} `xml:"DesiredConfiguration,omitempty"`
	Strategy string `xml:"Strategy"`
}

type xmlPref struct {
	MinHealthyPercentage int  `xml:"MinHealthyPercentage"`
	SkipMatching         bool `xml:"SkipMatching"`
}

func (s *Service) describe(now time.Time, form url.Values) (any, *apiError) {
	g, aerr := s.lookup(form)
	if aerr != nil {
		return nil, aerr
	}
	maxRecords := 50
	if v := form.Get("MaxRecords"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, sender("ValidationError", "1 validation error detected: Value '%s' at 'maxRecords' failed to satisfy constraint: Member must have value between 1 and 100", v)
		}
		maxRecords = n
	}
	var ids map[string]bool
	for k, v := range form {
		if strings.HasPrefix(k, "InstanceRefreshIds.member.") {
			if ids == nil {
				ids = map[string]bool{}
			}
			ids[v[0]] = true
		}
	}
	// Most recent first, as AWS lists them.
	var list []*Refresh
	for i := len(g.refreshes) - 1; i >= 0; i-- {
		if ids == nil || ids[g.refreshes[i].ID] {
			list = append(list, g.refreshes[i])
		}
	}
	offset := 0
	if tok := form.Get("NextToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(list) {
			return nil, sender("InvalidNextToken", "The token '%s' is invalid.", tok)
		}
		offset = n
	}
	out := struct {
		InstanceRefreshes []xmlRefresh `xml:"InstanceRefreshes>member"`
		NextToken         string       `xml:"NextToken,omitempty"`
	}{InstanceRefreshes: []xmlRefresh{}}
	end := min(offset+maxRecords, len(list))
	for _, r := range list[offset:end] {
		st, endT, pct := s.status(r, now)
		x := xmlRefresh{
			AutoScalingGroupName: r.Group, InstanceRefreshID: r.ID, Status: st,
			StartTime: isoTime(r.Start), EndTime: isoTime(endT), PercentageComplete: pct,
			Preferences: xmlPref{MinHealthyPercentage: r.MinHealthyPercentage, SkipMatching: r.SkipMatching},
			Strategy:    "Rolling",
		}
		if r.DesiredConfiguration {
			x.DesiredConfiguration = &struct {
				LaunchTemplate struct {
					Version string `xml:"Version"`
				} `xml:"LaunchTemplate"`
			}{}
			x.DesiredConfiguration.LaunchTemplate.Version = "$Latest"
		}
		out.InstanceRefreshes = append(out.InstanceRefreshes, x)
	}
	if end < len(list) {
		out.NextToken = strconv.Itoa(end)
	}
	return out, nil
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func writeResult(w http.ResponseWriter, reqID, action string, result any) {
	type meta struct {
		RequestID string `xml:"RequestId"`
	}
	body, err := xml.Marshal(struct {
		XMLName  xml.Name
		Xmlns    string `xml:"xmlns,attr"`
		Result   any    `xml:"RESULT"`
		Metadata meta   `xml:"ResponseMetadata"`
	}{XMLName: xml.Name{Local: action + "Response"}, Xmlns: Namespace, Result: result, Metadata: meta{reqID}})
	if err != nil {
		writeError(w, reqID, &apiError{status: http.StatusInternalServerError, code: "InternalFailure", msg: "asgsim: encode response"})
		return
	}
	// encoding/xml cannot name a field after the action at run time; rename the placeholder.
	b := strings.Replace(string(body), "<RESULT>", "<"+action+"Result>", 1)
	b = strings.Replace(b, "</RESULT>", "</"+action+"Result>", 1)
	write(w, reqID, http.StatusOK, xml.Header+b)
}

func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	body, _ := xml.Marshal(struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
		RequestID string `xml:"RequestId"`
	}{Xmlns: Namespace, Error: struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}{typ, e.code, e.msg}, RequestID: reqID})
	write(w, reqID, e.status, xml.Header+string(body))
}

func write(w http.ResponseWriter, reqID string, status int, body string) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func newUUID() string { return wire.RequestID() }

// Groups returns the group names, sorted.
func (s *Service) Groups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.groups))
	for n := range s.groups {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
