// Package kmssim is a local stand-in for AWS KMS (JSON 1.1, X-Amz-Target
// TrentService.*) that the real aws-sdk-go-v2 kms client can talk to. It answers
// DescribeKey only, which is what certferry's preflight asks (the state of a secret's
// customer managed key); tests set a key's state with SetKeyState. A key never set is
// NotFoundException, as for a key id that does not exist. Signatures are not checked.
package kmssim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/internal/wire"
)

// TargetPrefix is the X-Amz-Target prefix of KMS requests; the sandbox routes by it.
const TargetPrefix = "TrentService."

const serviceName = "kms"

// maxBody bounds a request body (a DescribeKey is a few hundred bytes).
const maxBody = 64 << 10

// Options configure a Service.
type Options struct {
	Calls     *calls.Registry // required
	Region    string
	AccountID string
}

// Service is the KMS stand-in; safe for concurrent use.
type Service struct {
	calls             *calls.Registry
	region, accountID string

	mu   sync.Mutex
	keys map[string]string // key id -> KeyState
}

// New returns a Service with no keys.
func New(opts Options) *Service {
	return &Service{calls: opts.Calls, region: opts.Region, accountID: opts.AccountID, keys: map[string]string{}}
}

// SetKeyState creates key id (a key id, an ARN or an alias/ name, as a secret may name
// it), or changes its state: Enabled, Disabled, PendingDeletion, ...
func (s *Service) SetKeyState(id, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[id] = state
}

// ServeHTTP answers one KMS request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, TargetPrefix)
	if f, faulted := s.calls.Record(serviceName, op); faulted && wire.HoldJSON11Fault(w, r, f, nil, "message") {
		return
	}
	if !ok || op != "DescribeKey" || r.Method != http.MethodPost {
		wire.WriteJSON11Error(w, http.StatusBadRequest, "UnknownOperationException", "message", "Unknown operation "+target)
		return
	}
	var in struct{ KeyId string }
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil || in.KeyId == "" {
		wire.WriteJSON11Error(w, http.StatusBadRequest, "ValidationException", "message", "KeyId is required")
		return
	}
	s.mu.Lock()
	state, known := s.keys[in.KeyId]
	s.mu.Unlock()
	if !known {
		wire.WriteJSON11Error(w, http.StatusBadRequest, "NotFoundException", "message", "Key '"+in.KeyId+"' does not exist")
		return
	}
	id := in.KeyId[strings.LastIndex(in.KeyId, "/")+1:]
	out, _ := json.Marshal(map[string]any{"KeyMetadata": map[string]any{
		"KeyId": id, "Arn": "arn:aws:kms:" + s.region + ":" + s.accountID + ":key/" + id,
		"KeyState": state, "Enabled": state == "Enabled", "KeyManager": "CUSTOMER",
	}})
	wire.WriteJSON11(w, http.StatusOK, out)
}
