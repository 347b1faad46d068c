// Package sandbox wires the local stand-ins into one running sandbox (docs/sandbox.md):
// Pebble in-process (acmesim), one AWS endpoint answering Route 53 (r53sim), Secrets
// Manager (smsim), DynamoDB (ddbsim), Auto Scaling instance refreshes (asgsim), ECS service updates
// (ecssim) and KMS key states (kmssim), and an authoritative DNS server (dnssim) serving the Route 53 zones' INSYNC
// state, which Pebble asks to validate DNS-01. cmd/certferry-sandbox serves it; no
// production binary links it.
//
// Everything listens on 127.0.0.1 on ports chosen by the OS. One calls.Registry counts
// every AWS call and every ACME request (service "acme", operations such as NewOrder,
// Finalize, RenewalInfo), so tests and benchmarks can assert how many calls a pass made;
// faults injected for "acme" are answered as ACME problem documents (see countACME).
//
// The package never reads flags, files or the environment of its own accord (Pebble's
// knobs are passed through the environment only while Pebble is constructed; see
// acmesim), and it never logs secret values.
package sandbox

import (
	"github.com/certferry/certferry/internal/awshttp"

	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/internal/sandbox/asgsim"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/ddbsim"
	"github.com/certferry/certferry/internal/sandbox/dnssim"
	"github.com/certferry/certferry/internal/sandbox/ecssim"
	"github.com/certferry/certferry/internal/sandbox/kmssim"
	"github.com/certferry/certferry/internal/sandbox/limitsim"
	"github.com/certferry/certferry/internal/sandbox/r53sim"
	"github.com/certferry/certferry/internal/sandbox/smsim"
	"github.com/certferry/certferry/internal/sandbox/stssim"
)

// Region is the AWS region the sandbox answers for.
const Region = "us-east-1"

// AccountID is the AWS account that the sandbox's ARNs name.
const AccountID = "123456789012"

// Credentials are the static access key and secret the sandbox hands out. The stand-ins
// do not check signatures; any credentials work.
const Credentials = "sandbox"

// Options configure Start. The zero value is a working sandbox with no hosted zone.
type Options struct {
	Zones        []string // public hosted zones created at start, served by the DNS server
	PrivateZones []string // private hosted zones created at start (API only, never served)
	// Accounts are more AWS accounts, each owning its public zones (served by the DNS
	// server like the others) and reachable only through its role (STS AssumeRole).
	// Zones and PrivateZones are AccountID's; its credentials get AccessDenied on
	// these accounts' zones, as on AWS.
	Accounts []Account
	// CNAMEs are created at start (name -> target), each in the longest zone of any
	// account that holds its name: the operator's delegation of _acme-challenge names.
	CNAMEs map[string]string

	InsyncAfter  time.Duration // a Route 53 change is PENDING this long, then INSYNC (0: at once)
	Route53Rate  float64       // Route 53 requests per second before Throttling (0: unlimited)
	Route53Burst int           // Route 53 token bucket size

	NonceRejectPercent int           // Pebble's share of good nonces rejected as bad (0-99)
	ValidationSleep    bool          // Pebble sleeps a random 0-5 s before each validation
	AuthzReusePercent  int           // how often Pebble reuses a valid authorization (0-100)
	CertValidity       time.Duration // validity of Pebble's "default" profile (0: 90 days)
	RandomProfile      bool          // orders naming no ACME profile get a random one (Pebble's own behaviour), not "default"
	// PersistIssuer is the issuer domain name of Pebble's dns-persist-01 challenges
	// (acmesim.DefaultPersistIssuer when empty); NoDNSPersist hides those challenges,
	// as a CA that does not offer the method.
	PersistIssuer string
	NoDNSPersist  bool

	EABKeys    map[string]string // External Account Binding key ID -> HMAC key (base64url) the CA knows
	RequireEAB bool              // the CA refuses new accounts without an external account binding

	// Limits are issuance limits the CA enforces, as Let's Encrypt does (limitsim): new
	// orders per account, certificates per registered domain, per exact set of names.
	// Zero: none (Pebble has none).
	Limits limitsim.Limits
	// LeaseTable is the DynamoDB table created at start for certferry's per-certificate
	// leases (hash key "key", a string); empty: DefaultLeaseTable. NoLeaseTable creates
	// none.
	LeaseTable   string
	NoLeaseTable bool

	Dir string           // where the CA writes its PEM files, created if missing (empty: a temp dir removed by Close)
	Now func() time.Time // clock of the AWS stand-ins (Pebble always uses the real clock)

	Logger *log.Logger // Pebble's log; nil discards it
}

// DefaultLeaseTable is the lease table a sandbox creates unless told otherwise.
const DefaultLeaseTable = "certferry-leases"

// LeaseKey is the hash key of the lease table, as deploy/terraform creates it.
const LeaseKey = "key"

// Account is another AWS account of the sandbox.
type Account struct {
	ID         string   // 12 digits
	Zones      []string // public hosted zones it owns
	Role       string   // role name AssumeRole answers for (default "certferry-dns")
	ExternalID string   // required by the role's trust policy when set
}

// RoleARN is the ARN of the account's role.
func (a Account) RoleARN() string {
	role := a.Role
	if role == "" {
		role = "certferry-dns"
	}
	return "arn:aws:iam::" + a.ID + ":role/" + role
}

// AccountInfo describes another account in Info.
type AccountInfo struct {
	ID         string   `json:"id"`
	RoleARN    string   `json:"role_arn"`
	ExternalID string   `json:"external_id,omitempty"`
	Zones      []string `json:"zones"`
}

// Info is the JSON line `certferry-sandbox serve` prints: how to reach the sandbox
// (docs/sandbox.md).
type Info struct {
	ACMEDirectory string            `json:"acme_directory"`
	ACMECABundle  string            `json:"acme_ca_bundle"`
	IssuerRoots   string            `json:"issuer_roots"`
	AWSEndpoint   string            `json:"aws_endpoint"`
	Region        string            `json:"region"`
	DNS           string            `json:"dns"`
	Zones         map[string]string `json:"zones"` // public zone apex (FQDN, lowercase) -> hosted zone ID, every account's
	// PersistIssuer is the issuer domain name Pebble's dns-persist-01 challenges name;
	// empty when the CA offers no dns-persist-01 (Options.NoDNSPersist).
	PersistIssuer string `json:"persist_issuer,omitempty"`
	// Accounts are the other accounts (Options.Accounts): their roles and zones.
	Accounts []AccountInfo `json:"accounts,omitempty"`
	// LeaseTable is the DynamoDB table created for leases (coordination.dynamodb_table).
	LeaseTable string `json:"lease_table,omitempty"`
}

// Sandbox is a running sandbox. Its methods are safe for concurrent use.
type Sandbox struct {
	calls *calls.Registry
	r53   *r53sim.Service
	sts   *stssim.Service
	sm    *smsim.Service
	kms   *kmssim.Service
	ddb   *ddbsim.Service
	asg   *asgsim.Service
	ecs   *ecssim.Service
	dns   *dnssim.Server
	ca    *acmesim.CA
	srv   *http.Server
	info  Info

	closeOnce sync.Once
	closeErr  error
}

// Start creates the zones and starts the DNS server, the CA and the AWS endpoint. ctx
// bounds the start; the sandbox runs until Close.
func Start(ctx context.Context, opts Options) (*Sandbox, error) {
	s := &Sandbox{calls: calls.New()}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()

	leaseTable, err := s.startServices(opts)
	if err != nil {
		return nil, err
	}
	zones, accounts, err := s.createZones(opts)
	if err != nil {
		return nil, err
	}
	if err := s.startCA(ctx, opts); err != nil {
		return nil, err
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	s.info = Info{
		ACMEDirectory: s.ca.DirectoryURL(),
		ACMECABundle:  s.ca.TLSRootsFile(),
		IssuerRoots:   s.ca.IssuerRootsFile(),
		AWSEndpoint:   "http://" + ln.Addr().String(),
		Region:        Region,
		DNS:           s.dns.Addr(),
		Zones:         zones,
		Accounts:      accounts,
		LeaseTable:    leaseTable,
	}
	if !opts.NoDNSPersist {
		s.info.PersistIssuer = s.ca.PersistIssuer()
	}
	s.srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	ok = true
	return s, nil
}

// startServices makes the AWS stand-ins and, unless told not to, the lease table.
func (s *Sandbox) startServices(opts Options) (leaseTable string, err error) {
	var roles []stssim.Role
	for _, a := range opts.Accounts {
		if len(a.ID) != 12 || strings.Trim(a.ID, "0123456789") != "" || a.ID == AccountID {
			return "", fmt.Errorf("sandbox: start: account %q: want 12 digits, not %s", a.ID, AccountID)
		}
		roles = append(roles, stssim.Role{ARN: a.RoleARN(), ExternalID: a.ExternalID})
	}
	s.sts = stssim.New(stssim.Options{Calls: s.calls, DefaultAccount: AccountID, Roles: roles, Now: opts.Now})
	s.r53 = r53sim.New(r53sim.Options{
		Calls:          s.calls,
		InsyncAfter:    opts.InsyncAfter,
		RequestRate:    opts.Route53Rate,
		Burst:          opts.Route53Burst,
		Now:            opts.Now,
		DefaultAccount: AccountID,
		AccountOf:      s.sts.AccountOf,
	})
	s.sm = smsim.New(smsim.Options{Calls: s.calls, Region: Region, AccountID: AccountID, Now: opts.Now})
	s.kms = kmssim.New(kmssim.Options{Calls: s.calls, Region: Region, AccountID: AccountID})
	s.ddb = ddbsim.New(ddbsim.Options{Calls: s.calls, Region: Region, AccountID: AccountID, Now: opts.Now})
	if !opts.NoLeaseTable {
		leaseTable = cmp.Or(opts.LeaseTable, DefaultLeaseTable)
		if err := s.ddb.CreateTable(leaseTable, LeaseKey); err != nil {
			return "", fmt.Errorf("sandbox: start: %w", err)
		}
	}
	s.asg = asgsim.New(asgsim.Options{Calls: s.calls, Now: opts.Now})
	s.ecs = ecssim.New(ecssim.Options{Calls: s.calls, Region: Region, AccountID: AccountID, Now: opts.Now})

	return leaseTable, nil
}

// createZones creates the hosted zones (the sandbox's account's and those of the other
// accounts) and the CNAMEs.
func (s *Sandbox) createZones(opts Options) (map[string]string, []AccountInfo, error) {
	zones := make(map[string]string, len(opts.Zones))
	for _, z := range opts.Zones {
		id, err := s.r53.CreateZone(z, false)
		if err != nil {
			return nil, nil, fmt.Errorf("sandbox: start: %w", err)
		}
		zones[fqdn(z)] = id
	}
	for _, z := range opts.PrivateZones {
		if _, err := s.r53.CreateZone(z, true); err != nil {
			return nil, nil, fmt.Errorf("sandbox: start: %w", err)
		}
	}
	var accounts []AccountInfo
	for _, a := range opts.Accounts {
		ai := AccountInfo{ID: a.ID, RoleARN: a.RoleARN(), ExternalID: a.ExternalID, Zones: []string{}}
		for _, z := range a.Zones {
			id, err := s.r53.CreateZoneIn(a.ID, z, false)
			if err != nil {
				return nil, nil, fmt.Errorf("sandbox: start: account %s: %w", a.ID, err)
			}
			zones[fqdn(z)] = id
			ai.Zones = append(ai.Zones, fqdn(z))
		}
		accounts = append(accounts, ai)
	}
	if err := s.createCNAMEs(opts.CNAMEs, zones); err != nil {
		return nil, nil, err
	}

	return zones, accounts, nil
}

// startCA starts the DNS server and the CA, which validates through it.
func (s *Sandbox) startCA(ctx context.Context, opts Options) error {
	var limiter *limitsim.Limiter
	if opts.Limits.Any() {
		limiter = limitsim.New(opts.Limits, time.Now) // Pebble's clock: the real one
	}
	var err error
	if s.dns, err = dnssim.Start(ctx, "127.0.0.1:0", s.r53); err != nil {
		return fmt.Errorf("sandbox: start DNS: %w", err)
	}
	if s.ca, err = acmesim.Start(ctx, acmesim.Options{
		DNSResolver:        s.dns.Addr(),
		Dir:                opts.Dir,
		NonceRejectPercent: opts.NonceRejectPercent,
		ValidationSleep:    opts.ValidationSleep,
		AuthzReusePercent:  opts.AuthzReusePercent,
		CertValidity:       opts.CertValidity,
		RandomProfile:      opts.RandomProfile,
		PersistIssuer:      opts.PersistIssuer,
		NoDNSPersist:       opts.NoDNSPersist,
		EABKeys:            opts.EABKeys,
		RequireEAB:         opts.RequireEAB,
		Middleware:         countACME(s.calls, limiter),
		Logger:             opts.Logger,
	}); err != nil {
		return fmt.Errorf("sandbox: start CA: %w", err)
	}

	return nil
}

func fqdn(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// Info says how to reach the sandbox.
func (s *Sandbox) Info() Info {
	info := s.info
	info.Accounts = append([]AccountInfo(nil), s.info.Accounts...)
	info.Zones = make(map[string]string, len(s.info.Zones))
	for k, v := range s.info.Zones {
		info.Zones[k] = v
	}
	return info
}

// Calls is the registry counting every AWS call, and holding injected faults.
func (s *Sandbox) Calls() *calls.Registry { return s.calls }

// Route53 is the Route 53 stand-in.
func (s *Sandbox) Route53() *r53sim.Service { return s.r53 }

// STS is the STS stand-in (AssumeRole for Options.Accounts' roles).
func (s *Sandbox) STS() *stssim.Service { return s.sts }

// SecretsManager is the Secrets Manager stand-in.
func (s *Sandbox) SecretsManager() *smsim.Service { return s.sm }

// KMS returns the KMS stand-in (DescribeKey), to set a key's state.
func (s *Sandbox) KMS() *kmssim.Service { return s.kms }

// DynamoDB is the DynamoDB stand-in (the lease table is Info().LeaseTable).
func (s *Sandbox) DynamoDB() *ddbsim.Service { return s.ddb }

// AutoScaling is the Auto Scaling stand-in (instance refreshes; groups are created with
// CreateGroup).
func (s *Sandbox) AutoScaling() *asgsim.Service { return s.asg }

// ECS is the ECS stand-in (services are created with CreateService).
func (s *Sandbox) ECS() *ecssim.Service { return s.ecs }

// CA is the in-process Pebble.
func (s *Sandbox) CA() *acmesim.CA { return s.ca }

// AWSConfig returns a configuration for aws-sdk-go-v2 clients that talk to the sandbox:
// static credentials, region us-east-1 and the sandbox endpoint. It reads no
// environment variable or shared config file; ctx is unused and kept for symmetry with
// config.LoadDefaultConfig.
func (s *Sandbox) AWSConfig(ctx context.Context) aws.Config {
	_ = ctx
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(Credentials, Credentials, ""),
		BaseEndpoint: aws.String(s.info.AWSEndpoint),
		HTTPClient:   awshttp.Client(),
	}
}

// Close stops the AWS endpoint, the CA and the DNS server. It is idempotent.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.srv != nil {
			if err := s.srv.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if s.ca != nil {
			if err := s.ca.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if s.dns != nil {
			if err := s.dns.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sandbox: close: %w", err)
		}
	})
	return s.closeErr
}
