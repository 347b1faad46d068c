package acmesim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"

	pebbledb "github.com/letsencrypt/pebble/v2/db"
)

// newOrderPath is Pebble v2.10.3's newOrder endpoint.
const newOrderPath = "/order-plz"

// maxOrderBody bounds the newOrder request read ahead of Pebble (Pebble's own limit is
// larger; a bigger body is passed on unread and left to Pebble).
const maxOrderBody = 64 << 10

// resolveDefaultProfile returns the profile that orders naming none get, or "" when
// Pebble's random choice is kept (RandomProfile).
func resolveDefaultProfile(opts Options) (string, error) {
	if opts.RandomProfile {
		if opts.DefaultProfile != "" {
			return "", fmt.Errorf("acmesim: DefaultProfile %q and RandomProfile exclude each other", opts.DefaultProfile)
		}
		return "", nil
	}
	switch {
	case opts.DefaultProfile == "" && len(opts.Profiles) == 0:
		return ProfileDefault, nil
	case opts.DefaultProfile == "" && len(opts.Profiles) == 1:
		for name := range opts.Profiles {
			return name, nil
		}
	case opts.DefaultProfile == "":
		return "", fmt.Errorf("acmesim: %d Profiles and no DefaultProfile: name the one that orders without a profile get, or set RandomProfile", len(opts.Profiles))
	}
	if len(opts.Profiles) == 0 {
		switch opts.DefaultProfile {
		case ProfileDefault, ProfileShortLived, ProfileTLSServer:
			return opts.DefaultProfile, nil
		}
	} else if _, ok := opts.Profiles[opts.DefaultProfile]; ok {
		return opts.DefaultProfile, nil
	}
	return "", fmt.Errorf("acmesim: DefaultProfile %q is not one of the CA's profiles", opts.DefaultProfile)
}

// withDefaultProfile gives every order that names no profile the profile name. Pebble
// picks a random profile for such orders and has no setting to change that; the request
// is signed by the account key and cannot be edited, so the order Pebble created is
// corrected before its client sees it: the stored order's Profile is set (the profile
// finalize issues with) and the "profile" member of the response is rewritten. The
// client cannot reach the order before it has the response, so nobody sees the random
// choice.
func withDefaultProfile(db *pebbledb.MemoryStore, name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != newOrderPath {
			next.ServeHTTP(w, r)
			return
		}
		head, err := io.ReadAll(io.LimitReader(r.Body, maxOrderBody+1))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		if err != nil || len(head) > maxOrderBody || orderNamesProfile(head) {
			next.ServeHTTP(w, r)
			return
		}
		rec := &bufferedResponse{header: make(http.Header)}
		next.ServeHTTP(rec, r)
		if rec.status == http.StatusCreated {
			if o := db.GetOrderByID(path.Base(rec.header.Get("Location"))); o != nil {
				o.Lock()
				o.Profile = name
				o.Unlock()
				rec.body = *bytes.NewBuffer(setProfile(rec.body.Bytes(), name))
			}
		}
		rec.flush(w)
	})
}

// orderNamesProfile reports whether a newOrder request (a flattened JWS) names a
// profile. A body it cannot read counts as naming one: it is left to Pebble to refuse.
func orderNamesProfile(body []byte) bool {
	var jws struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(body, &jws) != nil {
		return true
	}
	payload, err := base64.RawURLEncoding.DecodeString(jws.Payload)
	if err != nil {
		return true
	}
	var order struct {
		Profile string `json:"profile"`
	}
	if json.Unmarshal(payload, &order) != nil {
		return true
	}
	return order.Profile != ""
}

// setProfile returns the order JSON with its "profile" member set to name; a body that
// is not a JSON object is returned as it is.
func setProfile(body []byte, name string) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	m["profile"], _ = json.Marshal(name)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return body
	}
	return out
}

// bufferedResponse holds a response until flush.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) flush(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(b.body.Len()))
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
