package acme_test

import (
	"time"

	"github.com/certferry/certferry/internal/testwait"
)

// pebbleRetryAfter is the Retry-After the test CA answers on processing authorizations
// and orders (sandbox/acmesim).
const pebbleRetryAfter = time.Second

// orderBound bounds one order against the test CA with validation answered at once: a
// Retry-After on its authorization and one on the order, plus a step of work
// (internal/testwait).
var orderBound = testwait.For(2 * pebbleRetryAfter)

// step bounds a wait on work with no timer to hit, such as a request reaching the CA.
var step = testwait.For(0)
