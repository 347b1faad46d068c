// Package ddbsim is the DynamoDB stand-in of the local AWS sandbox. It speaks the JSON
// 1.0 protocol (X-Amz-Target: DynamoDB_20120810.<Operation>) well enough for the real
// aws-sdk-go-v2 dynamodb client and botocore: CreateTable, DescribeTable, GetItem,
// PutItem, UpdateItem and DeleteItem, with ConditionExpression and UpdateExpression
// evaluated as AWS documents them (attribute_exists, attribute_not_exists, comparisons,
// BETWEEN, IN, AND/OR/NOT, ExpressionAttributeNames and ExpressionAttributeValues, every
// placeholder used) and ConditionalCheckFailedException when a condition fails.
//
// Tables have a hash key and an optional range key; items live in memory behind one
// mutex; every write is strongly consistent (DynamoDB's single-item writes are atomic,
// and a conditional write sees the latest item, which is all a lease needs). Items whose
// TTL attribute has passed are kept, as DynamoDB keeps them until its background sweep:
// a reader must compare the expiry itself. The package starts no goroutines; every request
// is counted in the shared calls.Registry under "dynamodb.<Operation>" before anything
// else, and an injected fault is answered before any state changes.
package ddbsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/internal/wire"
)

const (
	serviceName = "dynamodb"
	// TargetPrefix is the X-Amz-Target prefix of DynamoDB operations.
	TargetPrefix = "DynamoDB_20120810."

	maxBody     = 1 << 20
	maxItemSize = 400 << 10 // DynamoDB's item size limit, 400 KB
)

// Options configures a Service.
type Options struct {
	Calls     *calls.Registry // required
	Region    string          // default us-east-1
	AccountID string          // default 123456789012
	Now       func() time.Time
}

// Service is the in-memory DynamoDB. It is safe for concurrent use.
type Service struct {
	calls *calls.Registry
	opts  Options

	mu     sync.Mutex
	tables map[string]*table
}

type keyDef struct{ name, kind string }

type table struct {
	name, arn, id string
	created       time.Time
	hash          keyDef
	rng           *keyDef
	items         map[string]map[string]attr
}

// New returns a Service with no table. It panics if opts.Calls is nil.
func New(opts Options) *Service {
	if opts.Calls == nil {
		panic("ddbsim: New: Options.Calls is required")
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{calls: opts.Calls, opts: opts, tables: map[string]*table{}}
}

// CreateTable creates a table with a string hash key named hashKey, as a deployment's
// Terraform would; it is what the sandbox calls at start for its lease table.
func (s *Service) CreateTable(name, hashKey string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := validTableName(name); err != nil {
		return fmt.Errorf("ddbsim: create table %q: %s", name, err.msg)
	}
	if _, ok := s.tables[name]; ok {
		return fmt.Errorf("ddbsim: create table %q: it exists", name)
	}
	s.tables[name] = s.newTable(name, keyDef{hashKey, "S"}, nil)
	return nil
}

func (s *Service) newTable(name string, hash keyDef, rng *keyDef) *table {
	return &table{
		name: name, arn: fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", s.opts.Region, s.opts.AccountID, name),
		id: wire.RequestID(), created: s.opts.Now(), hash: hash, rng: rng, items: map[string]map[string]attr{},
	}
}

// Items returns how many items a table holds (-1: no such table).
func (s *Service) Items(tableName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[tableName]
	if t == nil {
		return -1
	}
	return len(t.items)
}

// CheckTableName says why name cannot be a DynamoDB table's name, or nil.
func CheckTableName(name string) error {
	if err := validTableName(name); err != nil {
		return errors.New(err.msg)
	}
	return nil
}

func validTableName(name string) *apiError {
	if len(name) < 3 || len(name) > 255 {
		return validation("TableName must be at least 3 characters long and at most 255 characters long")
	}
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return validation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", name)
		}
	}
	return nil
}

// apiError is an error answered in DynamoDB's JSON 1.0 error shape.
type apiError struct {
	code   string // the shape's name, qualified as DynamoDB qualifies it
	msg    string
	status int
	item   map[string]attr // ConditionalCheckFailedException with ALL_OLD
}

const (
	nsDynamoDB   = "com.amazonaws.dynamodb.v20120810#"
	nsValidation = "com.amazon.coral.validate#"
	nsCoral      = "com.amazon.coral.service#"
)

func validation(format string, args ...any) *apiError {
	return &apiError{code: nsValidation + "ValidationException", msg: fmt.Sprintf(format, args...), status: http.StatusBadRequest}
}

func notFound() *apiError {
	return &apiError{code: nsDynamoDB + "ResourceNotFoundException", msg: "Requested resource not found", status: http.StatusBadRequest}
}

func conditionFailed(old map[string]attr) *apiError {
	return &apiError{code: nsDynamoDB + "ConditionalCheckFailedException", msg: "The conditional request failed", status: http.StatusBadRequest, item: old}
}

// faultStatuses are the HTTP statuses DynamoDB answers these codes with (injected faults
// with no status of their own); its other errors are 400s.
var faultStatuses = map[string]int{
	"InternalServerError": http.StatusInternalServerError,
	"InternalFailure":     http.StatusInternalServerError,
	"ServiceUnavailable":  http.StatusServiceUnavailable,
}

type handlerFunc func(s *Service, body []byte) (any, *apiError)

var operations = map[string]handlerFunc{
	"CreateTable":   (*Service).createTable,
	"DescribeTable": (*Service).describeTable,
	"GetItem":       (*Service).getItem,
	"PutItem":       (*Service).putItem,
	"UpdateItem":    (*Service).updateItem,
	"DeleteItem":    (*Service).deleteItem,
}

// ServeHTTP answers one JSON 1.0 request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, TargetPrefix)
	if !ok {
		op = target
	}
	if f, faulted := s.calls.Record(serviceName, op); faulted {
		if !f.Hold(r) {
			return
		}
		if f.Code != "" {
			f.SetRetryAfter(w.Header())
			writeError(w, &apiError{code: nsDynamoDB + f.Code, msg: f.Text(), status: f.StatusFor(faultStatuses)})
			return
		}
	}
	handler, known := operations[op]
	if !ok || !known || r.Method != http.MethodPost {
		writeError(w, &apiError{code: nsCoral + "UnknownOperationException", status: http.StatusBadRequest})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, &apiError{code: nsCoral + "SerializationException", msg: "could not read the request body", status: http.StatusBadRequest})
		return
	}
	out, aerr := handler(s, body)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	buf, err := json.Marshal(out)
	if err != nil {
		writeError(w, &apiError{code: nsDynamoDB + "InternalServerError", msg: "ddbsim: encode response", status: http.StatusInternalServerError})
		return
	}
	write(w, http.StatusOK, buf)
}

// write sends a JSON 1.0 body with the CRC32 that DynamoDB sends and its SDKs check.
func write(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", wire.RequestID())
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	out := map[string]any{"__type": e.code}
	if e.msg != "" {
		out["message"] = e.msg
	}
	if e.item != nil {
		out["Item"] = e.item
	}
	body, _ := json.Marshal(out)
	write(w, e.status, body)
}

func decode(body []byte, v any) *apiError {
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return &apiError{code: nsCoral + "SerializationException", msg: "Unexpected value type in field " + ute.Field, status: http.StatusBadRequest}
		}
		return &apiError{code: nsCoral + "SerializationException", msg: "Malformed JSON request body", status: http.StatusBadRequest}
	}
	return nil
}

// epoch marshals a time as JSON 1.0 does: seconds since the epoch, as a number.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(e).UnixMilli())/1000, 'f', -1, 64)), nil
}
