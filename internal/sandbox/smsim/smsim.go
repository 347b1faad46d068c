// Package smsim is the Secrets Manager stand-in of the local AWS sandbox. It speaks the
// JSON 1.1 protocol (X-Amz-Target: secretsmanager.<Operation>) well enough for the real
// aws-sdk-go-v2 secretsmanager client, and follows AWS's documented behaviour (staging
// labels, ClientRequestToken idempotency, version quota, deletion windows, ListSecrets
// filters) so that a test passing against it also passes against AWS, moto or LocalStack.
//
// State lives in memory behind one mutex; the package starts no goroutines. Every request
// is counted in the shared calls.Registry before anything else, and an injected fault is
// answered before any state changes. The service never logs secret values.
package smsim

import (
	"github.com/certferry/certferry/internal/sandbox/internal/wire"

	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certferry/certferry/internal/sandbox/calls"
)

const (
	serviceName = "secretsmanager"

	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"

	maxSecretValue = 65536 // characters of SecretString / bytes of SecretBinary
	maxTags        = 50
	// deprecatedKeep is how long an unlabelled version is kept even above the quota:
	// "Secrets Manager keeps 100 of the most recent versions, but it keeps all secret
	// versions created in the last 24 hours."
	deprecatedKeep = 24 * time.Hour

	maxBody = 4 << 20
)

// Options configures a Service.
type Options struct {
	// Calls counts every request and holds injected faults. Required.
	Calls *calls.Registry
	// Region goes into ARNs; default us-east-1.
	Region string
	// AccountID goes into ARNs; default 123456789012.
	AccountID string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxVersions is the number of versions a secret may hold (AWS: 100). When a new
	// version would exceed it, unlabelled (deprecated) versions older than 24 hours are
	// removed oldest first, as AWS documents; if that is not enough the write fails with
	// LimitExceededException.
	MaxVersions int
}

// Service is the in-memory Secrets Manager. It is safe for concurrent use.
type Service struct {
	calls     *calls.Registry
	region    string
	account   string
	now       func() time.Time
	maxVers   int
	mu        sync.Mutex
	secrets   map[string]*secret // by name
	seq       int64
	denied    []string
	operation map[string]func(*Service, time.Time, []byte) (any, *apiError)
}

type secret struct {
	name, arn    string
	description  *string
	kmsKeyID     *string
	created      time.Time
	lastChanged  time.Time
	lastAccessed time.Time // day granularity, zero if never read
	deletionDate time.Time // zero unless scheduled for deletion
	seq          int64
	tags         []tag
	versions     []*version // creation order, oldest first
}

type version struct {
	id           string
	str          *string
	bin          []byte
	stages       []string
	created      time.Time
	lastAccessed time.Time
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// New returns an empty Service. It panics if opts.Calls is nil.
func New(opts Options) *Service {
	if opts.Calls == nil {
		panic("smsim: New: Options.Calls is required")
	}
	s := &Service{
		calls:   opts.Calls,
		region:  opts.Region,
		account: opts.AccountID,
		now:     opts.Now,
		maxVers: opts.MaxVersions,
		secrets: map[string]*secret{},
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.account == "" {
		s.account = "123456789012"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxVers <= 0 {
		s.maxVers = 100
	}
	s.operation = map[string]func(*Service, time.Time, []byte) (any, *apiError){
		"CreateSecret":             (*Service).createSecret,
		"PutSecretValue":           (*Service).putSecretValue,
		"GetSecretValue":           (*Service).getSecretValue,
		"DescribeSecret":           (*Service).describeSecret,
		"ListSecrets":              (*Service).listSecrets,
		"ListSecretVersionIds":     (*Service).listSecretVersionIds,
		"TagResource":              (*Service).tagResource,
		"UntagResource":            (*Service).untagResource,
		"UpdateSecretVersionStage": (*Service).updateSecretVersionStage,
		"DeleteSecret":             (*Service).deleteSecret,
		"RestoreSecret":            (*Service).restoreSecret,
	}
	return s
}

// DenyAccess makes every call that names a secret whose name or ARN starts with prefix
// answer AccessDeniedException, as an IAM policy without the permission would.
// ListSecrets is not affected (it is not a resource-level action in IAM).
func (s *Service) DenyAccess(secretNameOrARNPrefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied = append(s.denied, secretNameOrARNPrefix)
}

// faultStatuses are the HTTP statuses Secrets Manager answers these codes with (injected
// faults with no status of their own); its other errors are 400s.
var faultStatuses = map[string]int{
	"InternalServiceError": http.StatusInternalServerError,
	"InternalFailure":      http.StatusInternalServerError,
	"ServiceUnavailable":   http.StatusServiceUnavailable,
}

// apiError is an error answered in AWS's JSON 1.1 error shape.
type apiError struct {
	code   string
	msg    string
	status int
}

func errf(code, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...), status: http.StatusBadRequest}
}

// ServeHTTP answers one JSON 1.1 request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, serviceName+".")
	if !ok {
		op = target
	}
	if f, faulted := s.calls.Record(serviceName, op); faulted && wire.HoldJSON11Fault(w, r, f, faultStatuses, "Message") {
		return
	}
	handler, known := s.operation[op]
	if !ok || !known || r.Method != http.MethodPost {
		writeError(w, errf("UnknownOperationException", "Unknown operation %s", target))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, errf("SerializationException", "could not read the request body"))
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	s.mu.Lock()
	now := s.now()
	s.purge(now)
	out, aerr := handler(s, now, body)
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	buf, err := json.Marshal(out)
	if err != nil {
		writeError(w, &apiError{code: "InternalServiceError", msg: "smsim: encode response", status: http.StatusInternalServerError})
		return
	}
	wire.WriteJSON11(w, http.StatusOK, buf)
}

func writeError(w http.ResponseWriter, e *apiError) {
	// AWS Secrets Manager names the member "Message".
	wire.WriteJSON11Error(w, e.status, e.code, "Message", e.msg)
}

func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return errf("SerializationException", "Unexpected value type in field %s", ute.Field)
		}
		return errf("SerializationException", "Malformed JSON request body")
	}
	return nil
}

// purge removes secrets whose recovery window has ended.
func (s *Service) purge(now time.Time) {
	for name, sec := range s.secrets {
		if !sec.deletionDate.IsZero() && !now.Before(sec.deletionDate) {
			delete(s.secrets, name)
		}
	}
}

func newUUID() string { return wire.RequestID() }

const suffixAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = suffixAlphabet[int(b[i])%len(suffixAlphabet)]
	}
	return string(b[:])
}

// epoch marshals a time as JSON 1.1 does: seconds since the epoch, as a number.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(e).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

func ts(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
