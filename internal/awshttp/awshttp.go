// Package awshttp builds the HTTP client certferry gives aws-sdk-go-v2.
//
// It works around a smithy-go v1.28.9 race seen against fast servers (the sandbox,
// LocalStack, moto on loopback): the request body the SDK sends is a reader whose WriteTo
// returns io.EOF once the SDK has closed it, which the SDK does as soon as the response
// headers arrive. net/http's write loop then reads the body once more (its extra-bytes
// check after a Content-Length copy), takes that io.EOF as an error and closes the
// connection while the response body is still being read: "deserialization failed ...
// use of closed network connection" on responses larger than the read buffer. Hiding
// WriteTo from net/http avoids it; nothing else changes.
package awshttp

import (
	"io"
	"net/http"
	"time"
)

// Transport wraps rt so request bodies expose only Read and Close.
func Transport(rt http.RoundTripper) http.RoundTripper { return plainBody{rt} }

// Client returns an HTTP client for the AWS SDK with its own connection pool (so that
// closing a test server elsewhere never closes these connections) and the wrapper above.
func Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	return &http.Client{Transport: Transport(tr), Timeout: 2 * time.Minute}
}

// HTTPClient is the client interface of aws-sdk-go-v2 (aws.HTTPClient).
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// WrapClient applies the same workaround to a client built elsewhere, such as the SDK's
// BuildableClient, which is the only client the SDK adds a custom CA bundle
// (AWS_CA_BUNDLE) to.
func WrapClient(c HTTPClient) HTTPClient { return plainBodyClient{c} }

type plainBodyClient struct{ c HTTPClient }

func (p plainBodyClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = readCloser{req.Body}
	}
	return p.c.Do(req)
}

type plainBody struct{ rt http.RoundTripper }

type readCloser struct{ io.ReadCloser }

func (p plainBody) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = readCloser{req.Body}
	}
	return p.rt.RoundTrip(req)
}
