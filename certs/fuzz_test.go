package certs_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/certs/certstest"
)

// FuzzParseSecret checks that ParseSecret never panics and that its errors never carry
// the key: neither a PEM header nor any line of the "key" field's text.
//
// Run it with a bounded minimization, or the workers seem to stall for a minute after
// each new input (the seeds are over a kilobyte and minimizing them is slow):
//
//	go test ./certs -run '^$' -fuzz FuzzParseSecret -fuzztime 60s -fuzzminimizetime 200x
func FuzzParseSecret(f *testing.F) {
	ca := certstest.NewCA(f)
	b := ca.Bundle(f, "fuzz", certstest.Leaf{Domains: []string{"a.example.com", "*.example.com"}})
	good, err := b.MarshalSecret()
	if err != nil {
		f.Fatal(err)
	}
	_, otherKey := ca.Issue(f, certstest.Leaf{})
	mismatched, _ := json.Marshal(map[string]string{"cert": string(b.CertPEM), "key": string(otherKey)})
	swapped, _ := json.Marshal(map[string]string{"cert": string(b.Key.Bytes()), "key": string(b.CertPEM)})
	for _, seed := range [][]byte{
		good, mismatched, swapped, good[:len(good)/2],
		[]byte(`{}`), []byte(`null`), []byte(`[]`), []byte(`{"cert":1}`), []byte(`{"cert":"x","key":"y"}`),
		[]byte(`{"cert":"","key":"","domains":[1]}`), []byte(`{"not_after":"x"}`), []byte("\xff\xfe"),
		[]byte(string(b.Key.Bytes())),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := certs.ParseSecret(data)
		if err == nil {
			if got == nil || got.Leaf == nil || got.Key.IsZero() {
				t.Fatalf("nil error but incomplete bundle")
			}
			return
		}
		msg := err.Error()
		if strings.Contains(msg, "PRIVATE KEY") {
			t.Fatalf("error names a key block: %s", msg)
		}
		var m map[string]any
		if json.Unmarshal(data, &m) == nil {
			if k, ok := m["key"].(string); ok {
				for _, line := range strings.Split(k, "\n") {
					if len(line) >= 8 && strings.Contains(msg, line) {
						t.Fatalf("error contains key text %q: %s", line, msg)
					}
				}
			}
		}
	})
}
