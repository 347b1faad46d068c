package wire

import (
	"net/http"
	"strings"
)

// AccessKeyID returns the access key id a request was signed with: the first part of
// the Credential of its SigV4 Authorization header ("AWS4-HMAC-SHA256
// Credential=AKID/date/region/service/aws4_request, ..."), or of the X-Amz-Credential
// query parameter of a presigned request. "" when there is none. Stand-ins tell
// accounts apart by it, as AWS does; signatures are not checked.
func AccessKeyID(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "AWS4-HMAC-SHA256") {
		for _, part := range strings.Split(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256"), ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
				cred = v
				break
			}
		}
	}
	id, _, _ := strings.Cut(cred, "/")
	return id
}
