package acme_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/internal/accountstore/storetest"
)

func TestAccountNeverPrintsItsKey(t *testing.T) {
	t.Parallel()
	k := certs.NewPrivateKeyPEM([]byte(storetest.Key))
	a := acme.Account{Directory: storetest.Dir, Key: k}
	j, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		k.String(), fmt.Sprint(k), fmt.Sprintf("%s %v %x %q %#v %+v", k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v", a, a, a), string(j),
	} {
		if strings.Contains(s, "PRIVATE") || strings.Contains(s, "MHcC") {
			t.Errorf("key material printed: %s", s)
		}
	}
}
