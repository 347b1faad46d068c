package certs_test

import (
	"testing"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/certs/certstest"
)

// TestNewBundleErrorWithoutName: a bundle read back from files has no name yet; its
// error says so without an empty quoted name ("certs: new bundle \"\": ...").
func TestNewBundleErrorWithoutName(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	full, _ := ca.Issue(t, certstest.Leaf{})
	_, otherKey := ca.Issue(t, certstest.Leaf{})
	_, err := certs.NewBundle("", nil, full, certs.NewPrivateKeyPEM(otherKey), "")
	if want := "certs: new bundle: key: does not match the certificate's public key"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}
