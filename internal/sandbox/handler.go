package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/certferry/certferry/internal/sandbox/asgsim"
	"github.com/certferry/certferry/internal/sandbox/ddbsim"
	"github.com/certferry/certferry/internal/sandbox/ecssim"
	"github.com/certferry/certferry/internal/sandbox/kmssim"
	"github.com/certferry/certferry/internal/sandbox/stssim"
)

// A route sends the requests it matches to one service. Routes are tried in order; the
// first match wins, so more specific routes come first. Matchers look at the method, path
// and headers; only queryVersion reads the body, and it puts back what it read.
type route struct {
	name    string
	match   func(*http.Request) bool
	handler http.Handler
}

func pathPrefix(p string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, p) }
}

func targetPrefix(p string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.HasPrefix(r.Header.Get("X-Amz-Target"), p) }
}

// queryVersion matches AWS Query-protocol requests (Action=...&Version=v, form-encoded in a
// POST body to "/", or in the URL's query) for the API version v. Query services differ only
// by Version (Auto Scaling 2011-01-01, STS 2011-06-15, ...), so the matcher has to read the
// form: it reads at most maxQueryPeek bytes and puts them back in front of the rest of the
// body, so the service still reads the whole request.
func queryVersion(v string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if r.URL.Path != "/" || r.Header.Get("X-Amz-Target") != "" {
			return false
		}
		if r.URL.Query().Get("Version") == v {
			return true
		}
		if r.Method != http.MethodPost || r.Body == nil {
			return false
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
			return false
		}
		peek, err := io.ReadAll(io.LimitReader(r.Body, maxQueryPeek))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(peek), r.Body), r.Body}
		if err != nil {
			return false
		}
		// A body longer than the peek is cut mid-pair; the complete pairs still parse.
		form, _ := url.ParseQuery(string(peek))
		return form.Get("Version") == v
	}
}

const maxQueryPeek = 64 << 10

// routes is the dispatch table of the AWS endpoint.
func (s *Sandbox) routes() []route {
	return []route{
		{"sandbox", pathPrefix("/_sandbox/"), s.controlHandler()},
		{"route53", pathPrefix("/2013-04-01/"), s.r53},
		{"secretsmanager", targetPrefix("secretsmanager."), s.sm},
		{"dynamodb", targetPrefix(ddbsim.TargetPrefix), s.ddb},
		{"kms", targetPrefix(kmssim.TargetPrefix), s.kms},
		{"ecs", targetPrefix(ecssim.TargetPrefix), s.ecs},
		{"autoscaling", queryVersion(asgsim.Version), s.asg},
		{"sts", queryVersion(stssim.Version), s.sts},
	}
}

func (s *Sandbox) handler() http.Handler {
	routes := s.routes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, rt := range routes {
			if rt.match(r) {
				rt.handler.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"__type":  "UnknownOperationException",
			"message": "sandbox: no service answers " + r.Method + " " + r.URL.Path + " (X-Amz-Target " + r.Header.Get("X-Amz-Target") + ")",
		})
	})
}

// controlHandler serves the sandbox's own endpoints:
//
//	GET    /_sandbox/calls          call counters (see calls.Registry.Handler)
//	DELETE /_sandbox/calls          reset counters and faults
//	POST   /_sandbox/faults         inject faults
//	GET    /_sandbox/info           the JSON line certferry-sandbox prints (docs/sandbox.md)
//	POST   /_sandbox/renewal-info   {"certificate": PEM, "start": RFC 3339, "end": RFC 3339}
//	                                or {"certificate": PEM, "ari_response": "<verbatim body>"}:
//	                                set the CA's ARI answer for a certificate it issued
func (s *Sandbox) controlHandler() http.Handler {
	mux := http.NewServeMux()
	callsHandler := s.calls.Handler()
	mux.Handle("/_sandbox/calls", callsHandler)
	mux.Handle("/_sandbox/faults", callsHandler)
	mux.HandleFunc("GET /_sandbox/info", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Info())
	})
	mux.HandleFunc("POST /_sandbox/renewal-info", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Certificate string    `json:"certificate"`
			Start       time.Time `json:"start"`
			End         time.Time `json:"end"`
			ARIResponse *string   `json:"ari_response"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			http.Error(w, "renewal-info: bad request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if in.Certificate == "" {
			http.Error(w, "renewal-info: certificate is required", http.StatusBadRequest)
			return
		}
		var err error
		switch {
		case in.ARIResponse != nil:
			err = s.ca.SetRenewalInfoRaw(r.Context(), []byte(in.Certificate), *in.ARIResponse)
		case in.Start.IsZero() || in.End.IsZero():
			http.Error(w, "renewal-info: start and end (or ari_response) are required", http.StatusBadRequest)
			return
		default:
			err = s.ca.SetRenewalInfo(r.Context(), []byte(in.Certificate), in.Start, in.End)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
