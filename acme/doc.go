// Package acme is certferry's only door to the ACME protocol and to lego
// (github.com/go-acme/lego/v4): no other package imports lego, so a move to lego v5
// touches this package alone.
//
// # Why not lego's resolver
//
// lego's high-level resolver (challenge/resolver) solves a certificate's
// authorizations one after another, sleeps between fixed 5-second polls, and calls a
// DNS provider once per name. It cannot share one Route 53 change and one INSYNC wait
// across all the certificates of a pass. certferry therefore drives each order itself,
// in two steps, on lego's protocol layer only:
//
//   - github.com/go-acme/lego/v4/acme/api: api.Core (JWS signing, nonces, badNonce
//     retries, the directory);
//   - github.com/go-acme/lego/v4/acme: the wire types and ProblemDetails;
//   - github.com/go-acme/lego/v4/certcrypto: key generation and the CSR.
//
// A pass calls [Client.Begin] for every due certificate, presents all the TXT records
// of every [Order] in one batch per zone, calls [Client.Complete] for each order, and
// then removes the records. When DNS fails, [Client.Abandon] deactivates the order's
// authorizations.
//
// The TXT value is computed here (RFC 8555 §8.4: base64url(SHA-256(key authorization)))
// rather than with lego's dns01.GetRecord: GetRecord follows CNAMEs with a live DNS
// lookup through the system resolver and reads LEGO_DISABLE_CNAME_SUPPORT from the
// environment, neither of which belongs in a library call without a context. The tests
// check that both give the same value.
//
// # Contexts
//
// lego's api.Core takes no context. Every call here is nevertheless cancellable: each
// Begin, Complete, Abandon or RenewalInfo builds its own api.Core over an http.Client
// whose RoundTripper attaches that call's context to every request. The RoundTripper is
// shared by all the Cores of a Client for three things, so that a new Core costs no
// request at all:
//
//   - the directory document, fetched once and then served from memory (for an hour);
//   - a pool of nonces: every Replay-Nonce the CA sends is taken out of the response
//     and pooled, and lego's HEAD newNonce is answered from the pool when it holds one
//     (a nonce is therefore never handed to two Cores); a fresh one is fetched only
//     while fewer than the newNonce burst are in use, otherwise the HEAD waits for an
//     answer to bring one back;
//   - the request pacing, one token bucket per endpoint class (Config.RateLimits,
//     golang.org/x/time/rate; docs/pacing.md), plus the optional overall cap
//     (Config.RequestsPerSecond).
//
// A shared Core with a context smuggled per call is not possible (requests are built
// inside lego with context.Background), and a Core per call without the cache would
// cost a directory GET and a nonce HEAD per call.
//
// # Global state
//
// lego v4 logs through a package-level logger (github.com/go-acme/lego/v4/log). This
// package sets it, once, in init, to a logger that discards everything: the only thing
// lego's protocol layer logs is its badNonce retry, which the shared RoundTripper sees
// and logs at debug level on the Client's own zap logger. That is the only global this
// package touches.
//
// # Secrets
//
// Private keys (the account key and every certificate key) are generated in memory,
// travel as certs.PrivateKeyPEM, which prints "[REDACTED]" by every route (fmt, JSON, zap),
// and are never logged. Certificate keys are never written anywhere by this package;
// the account key is written only to the [AccountStore].
package acme
