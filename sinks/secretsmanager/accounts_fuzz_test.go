package secretsmanager

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParseAccounts: the account secret parser never panics, and what it accepts
// survives the store's own write (marshal the list form, parse again) unchanged, apart
// from a legacy entry's missing kid, which stays missing.
func FuzzParseAccounts(f *testing.F) {
	f.Add([]byte(`{"accounts":[{"directory":"https://ca/dir","kid":"","email":"a@b.c","url":"https://ca/acct/1","key_pem":"k"}]}`))
	f.Add([]byte(`{"directory":"https://ca/dir","email":"a@b.c","url":"https://ca/acct/1","key_pem":"k"}`))
	f.Add([]byte(`{"accounts":[{"directory":"d","kid":"k1","key_pem":"x","next_key_pem":"y","deactivated":true}]}`))
	f.Add([]byte(`{"password":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := parseAccounts(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(accountsDoc{Accounts: list})
		if err != nil {
			t.Fatal(err)
		}
		list2, err := parseAccounts(again)
		if err != nil {
			t.Fatalf("the store cannot read what it wrote: %v\n%s", err, again)
		}
		if len(list) == 0 && len(list2) == 0 {
			return
		}
		if !reflect.DeepEqual(list, list2) {
			t.Fatalf("round trip changed the accounts:\n%+v\n%+v", list, list2)
		}
	})
}
