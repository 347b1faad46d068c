package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/awshttp"
	"github.com/certferry/certferry/providers/route53"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/sinks/file"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// configPath returns the --config value, else $CERTFERRY_CONFIG, else ./certferry.yaml.
func defaultConfigPath() string {
	if p := os.Getenv("CERTFERRY_CONFIG"); p != "" {
		return p
	}
	return "certferry.yaml"
}

// loadConfig reads and validates the configuration; its errors name every bad field.
func loadConfig(path string) (*config.Config, error) {
	return config.Load(path, os.LookupEnv)
}

// newFlagSet returns a FlagSet that prints its usage to stderr and never exits.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("certferry "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: certferry %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// app holds what a command built from the configuration.
type app struct {
	cfg     *config.Config
	log     *zap.Logger
	aws     aws.Config
	sm      *awssm.Client
	r53     *awsroute53.Client
	secrets *smsink.Sink
	files   *file.Sink
	runner  *renew.Runner
	roots   *x509.CertPool
}

// loadAWS builds the AWS configuration: the default credential chain, the configured
// region, profile, endpoint (LocalStack, moto, the sandbox; AWS_ENDPOINT_URL works too)
// and an optional role to assume.
func loadAWS(ctx context.Context, c config.AWS) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithHTTPClient(awshttp.Client())}
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.Profile))
	}
	if c.EndpointURL != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(c.EndpointURL))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws: load configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("aws: no region: set aws.region in the configuration or AWS_REGION")
	}
	if c.AssumeRoleARN != "" {
		p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), c.AssumeRoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "certferry"
			if c.ExternalID != "" {
				o.ExternalID = aws.String(c.ExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(p)
	}
	return cfg, nil
}

// readRoots returns the system roots plus the PEM certificates in path (if any).
func readRoots(path string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if path == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("acme.ca_bundle: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("acme.ca_bundle: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// newApp builds every collaborator of a pass. Nothing here calls AWS or the CA: the
// ACME account is opened on first use, so a pass with nothing due makes no ACME request.
//
// awsOverride, when not nil, replaces the AWS configuration the standard chain would
// build (the demo's sandbox credentials).
func newApp(ctx context.Context, cfg *config.Config, log *zap.Logger, awsOverride *aws.Config) (*app, error) {
	a := &app{cfg: cfg, log: log}
	var awsCfg aws.Config
	var err error
	if awsOverride != nil {
		awsCfg = *awsOverride
	} else if awsCfg, err = loadAWS(ctx, cfg.AWS); err != nil {
		return nil, err
	}
	a.aws = awsCfg
	a.sm = awssm.NewFromConfig(awsCfg)
	a.r53 = awsroute53.NewFromConfig(awsCfg)
	roots, err := readRoots(cfg.ACME.CABundle)
	if err != nil {
		return nil, err
	}
	a.roots = roots
	verifyRoots := roots
	if cfg.ACME.IssuerRoots != "" {
		if verifyRoots, err = readRoots(cfg.ACME.IssuerRoots); err != nil {
			return nil, fmt.Errorf("acme.issuer_roots: %w", err)
		}
		if pem, err := os.ReadFile(cfg.ACME.CABundle); err == nil {
			verifyRoots.AppendCertsFromPEM(pem)
		}
	}
	a.secrets = smsink.New(a.sm, log.Named("secretsmanager"), smsink.Options{})
	a.files = file.New(log.Named("file"))
	dns := route53.New(a.r53, route53.Options{
		InsyncTimeout: cfg.Route53.InsyncTimeout,
		Logger:        log.Named("route53"),
	})

	var certList []renew.Cert
	for _, c := range cfg.Certificates {
		rc := renew.Cert{Name: c.Name, Domains: c.Domains, KeyType: string(c.KeyType), Profile: c.Profile, ZoneID: c.HostedZoneID, RenewBefore: c.RenewBefore}
		if rc.Profile == "" {
			rc.Profile = cfg.ACME.Profile
		}
		if rc.RenewBefore == 0 {
			rc.RenewBefore = cfg.RenewBefore
		}
		if s := c.Sinks.SecretsManager; s != nil {
			rc.Secret = &smsink.Target{Secret: s.Secret, KMSKeyID: s.KMSKeyID, Description: s.Description, Tags: s.Tags}
		}
		if f := c.Sinks.File; f != nil {
			rc.File = &file.Target{Dir: f.Dir, Owner: f.Owner, Group: f.Group}
		}
		certList = append(certList, rc)
	}

	openACME := sync.OnceValues(func() (renew.ACME, error) {
		return a.openACME(ctx)
	})
	a.runner = renew.New(certList, renew.Settings{
		Concurrency: cfg.Concurrency,
		Guard:       cfg.IssuanceGuard,
		Interval:    cfg.Schedule.Interval,
		ARI:         cfg.ACME.ARI,
		Roots:       verifyRoots,
	}, renew.Deps{
		ACME:    func(context.Context) (renew.ACME, error) { return openACME() },
		DNS:     dns,
		Secrets: a.secrets,
		Files:   a.files,
		Logger:  log,
	})
	return a, nil
}

// openACME loads (or registers, once) the ACME account and returns the client.
func (a *app) openACME(ctx context.Context) (*acme.Client, error) {
	cfg := a.cfg.ACME
	var store acme.AccountStore
	switch cfg.AccountStore.Kind {
	case config.AccountStoreFile:
		store = acme.NewFileStore(cfg.AccountStore.Dir)
	default:
		store = acme.NewSecretsManagerStore(a.sm, cfg.AccountSecret)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: a.roots, MinVersion: tls.VersionTLS12}
	var eab *acme.EAB
	if cfg.EAB != nil {
		eab = &acme.EAB{KID: cfg.EAB.KID, HMACKey: cfg.EAB.HMACKey}
	}
	return acme.New(ctx, acme.Config{
		DirectoryURL:      cfg.Directory,
		Email:             cfg.Email,
		HTTPClient:        &http.Client{Transport: tr, Timeout: 2 * time.Minute},
		UserAgent:         "certferry/" + version,
		EAB:               eab,
		RequestsPerSecond: cfg.RequestsPerSecond,
		Store:             store,
		Logger:            a.log.Named("acme"),
	})
}
