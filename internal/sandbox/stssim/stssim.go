// Package stssim is a local stand-in for AWS STS (Query protocol, API version
// 2011-06-15) that the real aws-sdk-go-v2 sts client, and so stscreds, can talk to:
// AssumeRole and GetCallerIdentity.
//
// It is what makes the sandbox's several accounts work: AssumeRole on a role it knows
// answers temporary credentials whose access key id belongs to the role's account
// (AccountOf), and the other stand-ins tell callers apart by that key, as AWS does. A
// role may require an external ID; a wrong or missing one is AccessDenied, as with a
// trust policy's sts:ExternalId condition. Trust is otherwise open: any caller may
// assume any configured role. Signatures are not checked.
package stssim

import (
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/internal/wire"
)

// Version is the STS API version; the sandbox routes Query requests by it.
const Version = "2011-06-15"

const xmlns = "https://sts.amazonaws.com/doc/2011-06-15/"

// Role is a role that AssumeRole answers for: its account is the ARN's.
type Role struct {
	ARN        string // arn:aws:iam::<account>:role/<name>
	ExternalID string // required by the trust policy when set
}

// Options configure a Service.
type Options struct {
	Calls          *calls.Registry // required
	DefaultAccount string          // the account of callers whose key is not one handed out here
	Roles          []Role
	// Duration of credentials when the caller asks none (AWS: 1h).
	Duration time.Duration
	Now      func() time.Time
}

// Service is the STS stand-in; safe for concurrent use.
type Service struct {
	calls    *calls.Registry
	def      string
	roles    map[string]Role
	duration time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]string // access key id -> account
}

// New returns a Service for the roles.
func New(opts Options) *Service {
	if opts.Calls == nil {
		panic("stssim: New: Options.Calls is required")
	}
	s := &Service{calls: opts.Calls, def: opts.DefaultAccount, roles: map[string]Role{}, duration: opts.Duration,
		now: opts.Now, keys: map[string]string{}}
	for _, r := range opts.Roles {
		s.roles[r.ARN] = r
	}
	if s.duration <= 0 {
		s.duration = time.Hour
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// AccountOf returns the account of an access key id handed out by AssumeRole.
func (s *Service) AccountOf(accessKeyID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.keys[accessKeyID]
	return a, ok
}

// RoleAccount returns the account of a role ARN ("arn:aws:iam::<account>:role/<name>").
func RoleAccount(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") || len(parts[4]) != 12 {
		return "", false
	}
	return parts[4], true
}

const maxBody = 64 << 10

// faultStatuses are the HTTP statuses STS answers its error codes with (the fault
// injection's default for a code; 400 otherwise).
var faultStatuses = map[string]int{
	"AccessDenied":            http.StatusForbidden,
	"InvalidClientTokenId":    http.StatusForbidden,
	"RegionDisabledException": http.StatusForbidden,
	"InternalFailure":         http.StatusInternalServerError,
	"ServiceUnavailable":      http.StatusServiceUnavailable,
}

// ServeHTTP answers STS Query requests (form-encoded POST, or GET with a query).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := wire.RequestID()
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeError(w, reqID, http.StatusBadRequest, "InvalidInput", "could not read the request: "+err.Error())
		return
	}
	op := r.Form.Get("Action")
	if f, ok := s.calls.Record("sts", op); ok {
		if !f.Hold(r) {
			return // the client gave up: a hung endpoint answers nothing
		}
		if f.Code != "" {
			f.SetRetryAfter(w.Header())
			writeError(w, reqID, f.StatusFor(faultStatuses), f.Code, f.Text())
			return
		}
	}
	caller := s.def
	if a, ok := s.AccountOf(wire.AccessKeyID(r)); ok {
		caller = a
	}
	switch op {
	case "AssumeRole":
		s.assumeRole(w, r, reqID, caller)
	case "GetCallerIdentity":
		var resp getCallerIdentityResponse
		resp.Xmlns = xmlns
		resp.Result.Account = caller
		resp.Result.Arn = "arn:aws:iam::" + caller + ":user/sandbox"
		resp.Result.UserID = "AIDASANDBOX"
		resp.Metadata.RequestID = reqID
		writeXML(w, http.StatusOK, resp)
	default:
		writeError(w, reqID, http.StatusBadRequest, "InvalidAction", "Could not find operation "+op+" for version "+Version)
	}
}

func (s *Service) assumeRole(w http.ResponseWriter, r *http.Request, reqID, caller string) {
	arn, session := r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName")
	if arn == "" || session == "" {
		writeError(w, reqID, http.StatusBadRequest, "ValidationError", "RoleArn and RoleSessionName are required")
		return
	}
	duration := s.duration
	if v := r.Form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 43200 {
			writeError(w, reqID, http.StatusBadRequest, "ValidationError",
				"1 validation error detected: Value '"+v+"' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")
			return
		}
		duration = time.Duration(n) * time.Second
	}
	role, ok := s.roles[arn]
	account, _ := RoleAccount(arn)
	if !ok || account == "" || (role.ExternalID != "" && r.Form.Get("ExternalId") != role.ExternalID) {
		writeError(w, reqID, http.StatusForbidden, "AccessDenied",
			fmt.Sprintf("User: arn:aws:iam::%s:user/sandbox is not authorized to perform: sts:AssumeRole on resource: %s", caller, arn))
		return
	}
	key := "ASIA" + random(16)
	s.mu.Lock()
	s.keys[key] = account
	s.mu.Unlock()
	name := arn[strings.LastIndex(arn, "/")+1:]
	var resp assumeRoleResponse
	resp.Xmlns = xmlns
	resp.Result.Credentials = credentials{AccessKeyID: key, SecretAccessKey: random(40), SessionToken: random(64),
		Expiration: s.now().Add(duration).UTC().Format(time.RFC3339)}
	resp.Result.User.Arn = "arn:aws:sts::" + account + ":assumed-role/" + name + "/" + session
	resp.Result.User.ID = "AROA" + random(17) + ":" + session
	resp.Metadata.RequestID = reqID
	writeXML(w, http.StatusOK, resp)
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

type credentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials credentials `xml:"Credentials"`
		User        struct {
			Arn string `xml:"Arn"`
			ID  string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
	} `xml:"AssumeRoleResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func writeError(w http.ResponseWriter, reqID string, status int, code, msg string) {
	var e errorResponse
	e.Xmlns = xmlns
	e.Error.Type = "Sender"
	if status >= 500 {
		e.Error.Type = "Receiver"
	}
	e.Error.Code, e.Error.Message, e.RequestID = code, msg, reqID
	w.Header().Set("x-amzn-RequestId", reqID)
	writeXML(w, status, e)
}

func writeXML(w http.ResponseWriter, status int, body any) {
	out, err := xml.Marshal(body)
	if err != nil {
		http.Error(w, "stssim: marshal response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}
