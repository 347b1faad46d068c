package acme

import (
	"context"
	"fmt"
	"strings"

	legoacme "github.com/go-acme/lego/v4/acme"
)

// OrderRecord is one dns-01 record that an order asked for.
type OrderRecord struct {
	Challenge
	// Pending: the authorization is still pending, so a runner still working on the
	// order may yet need the record. Otherwise (valid, invalid, deactivated, expired)
	// nobody needs it any more.
	Pending bool
}

// OrderRecords reads an order this account placed earlier, perhaps by a runner that
// died before it removed its records, and returns the dns-01 records of its
// authorizations: the TXT values are computed again from the challenges' tokens and the
// account key, so nothing secret needs to be kept to find them.
func (c *Client) OrderRecords(ctx context.Context, orderURL string) ([]OrderRecord, error) {
	core, ct, err := c.newCore(ctx)
	if err != nil {
		return nil, fmt.Errorf("acme: read order %s: %w", orderURL, err)
	}
	ord, err := core.Orders.Get(orderURL)
	if err != nil {
		return nil, fmt.Errorf("acme: read order %s: %w", orderURL, ct.classify(err))
	}
	var out []OrderRecord
	for _, u := range ord.Authorizations {
		authz, err := core.Authorizations.Get(u)
		if err != nil {
			return nil, fmt.Errorf("acme: read order %s: authorization %s: %w", orderURL, u, ct.classify(err))
		}
		domain := authz.Identifier.Value
		if authz.Wildcard {
			domain = "*." + domain
		}
		for _, ch := range authz.Challenges {
			if ch.Type != "dns-01" {
				continue
			}
			keyAuth, err := core.GetKeyAuthorization(ch.Token)
			if err != nil {
				return nil, fmt.Errorf("acme: read order %s: key authorization for %s: %w", orderURL, domain, err)
			}
			out = append(out, OrderRecord{
				Challenge: Challenge{Domain: domain, FQDN: "_acme-challenge." + strings.TrimSuffix(authz.Identifier.Value, ".") + ".", Value: txtValue(keyAuth)},
				Pending:   authz.Status == legoacme.StatusPending,
			})
		}
	}
	return out, nil
}
