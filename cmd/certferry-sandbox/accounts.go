package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/certferry/certferry/internal/sandbox"
)

// accountFlags adds the flags of the sandbox's other AWS accounts and CNAMEs:
//
//	--account-zone 210987654321:example.org   a zone owned by that account (repeatable)
//	--external-id 210987654321:secret         what the account's role requires
//	--cname _acme-challenge.www.example.com=www.acme.example.org   (repeatable)
func accountFlags(fs *flag.FlagSet, opts *sandbox.Options) {
	account := func(id string) *sandbox.Account {
		for i := range opts.Accounts {
			if opts.Accounts[i].ID == id {
				return &opts.Accounts[i]
			}
		}
		opts.Accounts = append(opts.Accounts, sandbox.Account{ID: id})
		return &opts.Accounts[len(opts.Accounts)-1]
	}
	split := func(v, what string) (string, string, error) {
		id, rest, ok := strings.Cut(v, ":")
		if !ok || len(id) != 12 || strings.Trim(id, "0123456789") != "" || rest == "" {
			return "", "", fmt.Errorf("%q: write <12-digit account>:<%s>", v, what)
		}
		return id, rest, nil
	}
	fs.Func("account-zone", "`ACCOUNT:ZONE`: a public hosted zone owned by another AWS account, written only through its role arn:aws:iam::ACCOUNT:role/certferry-dns (repeatable)", func(v string) error {
		id, zone, err := split(v, "zone")
		if err != nil {
			return err
		}
		a := account(id)
		a.Zones = append(a.Zones, zone)
		return nil
	})
	fs.Func("external-id", "`ACCOUNT:ID`: the external ID that account's role requires", func(v string) error {
		id, ext, err := split(v, "external id")
		if err != nil {
			return err
		}
		account(id).ExternalID = ext
		return nil
	})
	fs.Func("cname", "`NAME=TARGET`: a CNAME created at start in the zone that holds NAME, whichever account owns it (repeatable)", func(v string) error {
		name, target, ok := strings.Cut(v, "=")
		if !ok || name == "" || target == "" {
			return fmt.Errorf("%q: write NAME=TARGET", v)
		}
		if opts.CNAMEs == nil {
			opts.CNAMEs = map[string]string{}
		}
		opts.CNAMEs[name] = target
		return nil
	})
}
