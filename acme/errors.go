package acme

import (
	"errors"
	"fmt"
	"strings"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"

	"github.com/certferry/certferry/internal/retryafter"
)

// ACME problem types (RFC 8555 §6.7, RFC 9773 §7.4) that callers tell apart.
const (
	problemNS                     = "urn:ietf:params:acme:error:"
	ProblemCAA                    = problemNS + "caa"
	ProblemRejectedIdentifier     = problemNS + "rejectedIdentifier"
	ProblemUnsupportedIdentifier  = problemNS + "unsupportedIdentifier"
	ProblemUnauthorized           = problemNS + "unauthorized"
	ProblemRateLimited            = problemNS + "rateLimited"
	ProblemAlreadyReplaced        = problemNS + "alreadyReplaced"
	ProblemBadNonce               = problemNS + "badNonce"
	ProblemExternalAccountNeeded  = problemNS + "externalAccountRequired"
	ProblemInvalidContact         = problemNS + "invalidContact"
	ProblemUnsupportedContact     = problemNS + "unsupportedContact"
	ProblemUserActionRequired     = problemNS + "userActionRequired"
	ProblemAccountDoesNotExist    = problemNS + "accountDoesNotExist"
	ProblemCompound               = problemNS + "compound"
	ProblemDNS                    = problemNS + "dns"
	ProblemMalformed              = problemNS + "malformed"
	ProblemBadCSR                 = problemNS + "badCSR"
	ProblemServerInternal         = problemNS + "serverInternal"
	ProblemIncorrectResponse      = problemNS + "incorrectResponse"
	ProblemConnection             = problemNS + "connection"
	ProblemBadSignatureAlgorithm  = problemNS + "badSignatureAlgorithm"
	ProblemBadRevocationReason    = problemNS + "badRevocationReason"
	ProblemAlreadyRevoked         = problemNS + "alreadyRevoked"
	ProblemOrderNotReady          = problemNS + "orderNotReady"
	ProblemBadPublicKey           = problemNS + "badPublicKey"
	ProblemTLS                    = problemNS + "tls"
	ProblemInvalidProfile         = problemNS + "invalidProfile"
	ProblemExternalAccountBinding = problemNS + "externalAccountBinding"
)

// Sentinels matched by errors.Is against a *ProblemError of that type (or with a
// subproblem of that type).
var (
	ErrCAA                = errors.New("acme: CAA records forbid issuance")
	ErrRejectedIdentifier = errors.New("acme: the CA will not issue for this identifier")
	ErrUnauthorized       = errors.New("acme: unauthorized")
	ErrAlreadyReplaced    = errors.New("acme: the certificate named in replaces is already replaced")
)

// ErrNoRenewalInfo is returned by RenewalInfo when the CA offers no ARI (its directory
// has no renewalInfo) or has none for this certificate (404). It is always wrapped by the
// call ("acme: renewal info ID: ..."), so its text names no package.
var ErrNoRenewalInfo = errors.New("no renewal information (ARI)")

var problemSentinels = map[string]error{
	ProblemCAA:                ErrCAA,
	ProblemRejectedIdentifier: ErrRejectedIdentifier,
	ProblemUnauthorized:       ErrUnauthorized,
	ProblemAlreadyReplaced:    ErrAlreadyReplaced,
}

// permanentProblems are the problem types that retrying without a change of
// configuration (names, DNS, CAA, account) will not fix.
var permanentProblems = map[string]bool{
	ProblemCAA:                   true,
	ProblemRejectedIdentifier:    true,
	ProblemUnsupportedIdentifier: true,
	// Not unauthorized: it is what a CA answers when a dns-01 validation found no or
	// the wrong TXT record (Let's Encrypt and Pebble alike), which the next attempt fixes
	// once DNS has caught up; it backs off step by step like any other failure.
	ProblemExternalAccountNeeded: true,
	ProblemInvalidContact:        true,
	ProblemUnsupportedContact:    true,
	ProblemUserActionRequired:    true,
	ProblemInvalidProfile:        true,
}

// Subproblem is one entry of a problem's subproblems (RFC 8555 §6.7.1).
type Subproblem struct {
	Type       string
	Detail     string
	Identifier string // the identifier's value, if the CA named one
}

// ProblemError is an ACME problem document (RFC 7807) answered by the CA, or found in a
// failed challenge or order.
type ProblemError struct {
	Type        string // full URN, for example ProblemCAA
	Detail      string
	Status      int // HTTP status; 0 when the problem came inside a challenge or order
	Subproblems []Subproblem

	err error // the lego error, kept for the chain
}

func (e *ProblemError) Error() string {
	var b strings.Builder
	b.WriteString("acme problem ")
	b.WriteString(strings.TrimPrefix(e.Type, problemNS))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for _, sp := range e.Subproblems {
		fmt.Fprintf(&b, "; %s", strings.TrimPrefix(sp.Type, problemNS))
		if sp.Identifier != "" {
			fmt.Fprintf(&b, " for %s", sp.Identifier)
		}
		if sp.Detail != "" {
			fmt.Fprintf(&b, ": %s", sp.Detail)
		}
	}
	return b.String()
}

// Is matches the sentinel of the problem's type or of any subproblem's type.
func (e *ProblemError) Is(target error) bool {
	if problemSentinels[e.Type] == target {
		return true
	}
	for _, sp := range e.Subproblems {
		if problemSentinels[sp.Type] == target {
			return true
		}
	}
	return false
}

func (e *ProblemError) Unwrap() error { return e.err }

// hasType reports whether the problem or any subproblem has one of the types in set.
func (e *ProblemError) hasType(set map[string]bool) bool {
	if set[e.Type] {
		return true
	}
	for _, sp := range e.Subproblems {
		if set[sp.Type] {
			return true
		}
	}
	return false
}

// RateLimitedError is the CA's rateLimited problem. RetryAfter is from the response's
// Retry-After header (seconds or an HTTP date), zero when the CA sent none.
type RateLimitedError struct {
	RetryAfter time.Duration
	Detail     string

	problem *ProblemError
}

// Error carries no "acme:" prefix: the error is always returned wrapped in the
// operation that met it ("acme: begin order web: new order: rate limited, ..."), which
// names the package once.
func (e *RateLimitedError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("rate limited, retry after %s: %s", e.RetryAfter, e.Detail)
	}
	return "rate limited: " + e.Detail
}

// Unwrap returns the problem; nil for a RateLimitedError built without one (a typed nil
// would make errors.Is call a method on a nil *ProblemError).
func (e *RateLimitedError) Unwrap() error {
	if e.problem == nil {
		return nil
	}
	return e.problem
}

// IsPermanent reports whether err is a problem that retrying without a change (of names,
// DNS, CAA records or account) will not fix: caa, rejectedIdentifier,
// unsupportedIdentifier, externalAccountRequired, invalidContact,
// unsupportedContact, userActionRequired, invalidProfile, in the problem or a
// subproblem.
func IsPermanent(err error) bool {
	if _, ok := errors.AsType[*accountRefusedError](err); ok {
		return true
	}
	pe, ok := errors.AsType[*ProblemError](err)
	return ok && pe.hasType(permanentProblems)
}

// accountRefusedError is an account that cannot be registered as configured: a CA's 4xx
// refusal (a wrong EAB key or kid, a refused contact address), a binding the CA requires
// and the configuration lacks, or a malformed one. Permanent, whatever the problem type
// (Pebble and others answer a bad binding with "unauthorized", elsewhere transient).
type accountRefusedError struct{ err error }

func (e *accountRefusedError) Error() string { return e.err.Error() }
func (e *accountRefusedError) Unwrap() error { return e.err }

// problemFromLego converts lego's problem document; err is kept as the cause.
func problemFromLego(pd *legoacme.ProblemDetails, err error) *ProblemError {
	pe := &ProblemError{Type: pd.Type, Detail: pd.Detail, Status: pd.HTTPStatus, err: err}
	if pe.err == nil {
		pe.err = pd
	}
	for _, sp := range pd.SubProblems {
		pe.Subproblems = append(pe.Subproblems, Subproblem{Type: sp.Type, Detail: sp.Detail, Identifier: sp.Identifier.Value})
	}
	return pe
}

// classify turns a lego error into this package's types: *RateLimitedError (which
// unwraps to a *ProblemError), *ProblemError, or err unchanged. retryAfter looks up the
// Retry-After header of the failed request's response when lego dropped it.
func classify(err error, retryAfter func(url string) string, now time.Time) error {
	if err == nil {
		return nil
	}
	pd, ok := errors.AsType[*legoacme.ProblemDetails](err)
	if !ok {
		return err
	}
	pe := problemFromLego(pd, err)
	if pd.Type != ProblemRateLimited {
		return pe
	}
	ra := ""
	if rl, ok := errors.AsType[*legoacme.RateLimitedError](err); ok {
		ra = rl.RetryAfter
	}
	if ra == "" && retryAfter != nil {
		ra = retryAfter(pd.URL)
	}
	return &RateLimitedError{RetryAfter: retryafter.Parse(ra, now), Detail: pd.Detail, problem: pe}
}
