package route53_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"
	awsr53 "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/certferry/certferry/providers/route53"
)

// A renewal pass presents every challenge of the pass at once, completes the orders,
// and cleans up under a context that outlives the pass's cancellation.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return
	}
	p := route53.New(awsr53.NewFromConfig(cfg), route53.Options{})
	recs := []route53.Record{
		{FQDN: "_acme-challenge.www.example.com.", Value: "token-1"},
		{FQDN: "_acme-challenge.example.com.", Value: "token-2"}, // example.com
		{FQDN: "_acme-challenge.example.com.", Value: "token-3"}, // *.example.com: same name, merged
	}
	errs := p.Present(ctx, recs)
	// ... complete the ACME orders whose records have a nil error ...
	cleanupErrs := p.CleanUp(context.WithoutCancel(ctx), recs)
	fmt.Println(errors.Join(errs...), errors.Join(cleanupErrs...))
}
