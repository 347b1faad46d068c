package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/sinks/file"
)

// Checks of "certferry validate" beyond what config.Load checks: what a configuration
// that parses can still get wrong. Offline reads only local files and the environment;
// Online (App.Online) asks the CA and AWS. See README.md, "validate, --plan and
// --dry-run".

// letsEncryptNameLimits are the names per certificate Let's Encrypt accepts by profile;
// any other profile (classic, the default) takes 100, which config.Load enforces for
// every CA.
var letsEncryptNameLimits = map[string]int{"shortlived": 25, "tlsserver": 25}

// Offline checks what can be checked without AWS or the CA: the files the configuration
// names exist and parse (acme.ca_bundle, acme.issuer_roots, the account store's
// directory), every exec hook's program exists and is executable (and, run as root, only
// root can change it: TrustProblems), no file sink directory is world-writable, every certificate's
// names fit its profile's limit and its secret the 64 KiB limit, and an AWS region is known (aws.region, AWS_REGION,
// AWS_DEFAULT_REGION or the shared AWS configuration). Each error names the field.
func Offline(ctx context.Context, cfg *config.Config) []error {
	var errs []error
	if cfg.ACME.CABundle != "" {
		if _, err := readRoots("acme.ca_bundle", cfg.ACME.CABundle); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.ACME.IssuerRoots != "" {
		if _, err := readRoots("acme.issuer_roots", cfg.ACME.IssuerRoots); err != nil {
			errs = append(errs, err)
		}
	}
	if s := cfg.ACME.AccountStore; s.Kind == config.AccountStoreFile {
		errs = append(errs, checkAccountDir(ctx, s.Dir)...)
	}
	for i, c := range cfg.Certificates {
		for _, h := range []struct {
			kind  string
			hooks []config.Hook
		}{{"on_renew", c.Hooks.OnRenew}, {"on_failure", c.Hooks.OnFailure}} {
			for j, hk := range h.hooks {
				if len(hk.Exec) == 0 {
					continue
				}
				if err := checkProgram(hk.Exec[0]); err != nil {
					errs = append(errs, fmt.Errorf("certificates[%d].hooks.%s[%d].exec[0] (%s): %q %w", i, h.kind, j, c.Name, hk.Exec[0], err))
				}
			}
		}
		if n := renew.EstimateSecretSize(c.Domains, string(c.KeyType)); c.Sinks.SecretsManager != nil && n > certs.MaxSecretSize {
			errs = append(errs, fmt.Errorf("certificates[%d].domains (%s): its secret would be up to %d bytes (%d names, key type %s), over the Secrets Manager limit of %d: split the names over several certificates or use an EC key",
				i, c.Name, n, len(c.Domains), c.KeyType, certs.MaxSecretSize))
		}
		if limit, ok := letsEncryptNameLimits[c.Profile]; ok && isLetsEncrypt(cfg.ACME.Directory) && len(c.Domains) > limit {
			errs = append(errs, fmt.Errorf("certificates[%d].domains (%s): %d names; Let's Encrypt's %q profile takes at most %d per certificate: split it, or use the classic profile (100)",
				i, c.Name, len(c.Domains), c.Profile, limit))
		}
	}
	trust, _ := TrustProblems(cfg, os.Geteuid())
	errs = append(errs, trust...)
	if _, err := LoadAWS(ctx, cfg.AWS); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// isLetsEncrypt reports whether directory is one of Let's Encrypt's.
func isLetsEncrypt(directory string) bool {
	return directory == config.LetsEncryptURL || directory == config.LetsEncryptStagingURL
}

// checkAccountDir checks the file account store's directory: absent (created at the
// first registration), or a directory whose account files parse.
func checkAccountDir(ctx context.Context, dir string) []error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return []error{fmt.Errorf("acme.account_store: %w", err)}
	case !fi.IsDir():
		return []error{fmt.Errorf("acme.account_store: %s is not a directory", dir)}
	}
	if _, err := file.NewAccountStore(dir).List(ctx); err != nil {
		return []error{fmt.Errorf("acme.account_store: %w", err)}
	}
	return nil
}

// checkProgram checks that path is an executable regular file (after symbolic links).
func checkProgram(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("does not exist")
	case err != nil:
		return fmt.Errorf("cannot be read: %w", errors.Unwrap(err))
	case fi.IsDir():
		return errors.New("is a directory")
	case !fi.Mode().IsRegular():
		return fmt.Errorf("is not a regular file (mode %s)", fi.Mode())
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("is not executable (mode %s)", fi.Mode().Perm())
	}
	return nil
}

// LambdaProblems lists what a valid configuration asks for that a Lambda cannot keep:
// nothing under /tmp survives, so the ACME account must live in Secrets Manager and
// certificates cannot be kept (nor inventoried) as files.
func LambdaProblems(cfg *config.Config) []error {
	var errs []error
	if cfg.ACME.AccountStore.Kind == config.AccountStoreFile {
		errs = append(errs, fmt.Errorf("acme.account_store: %q keeps the ACME account on the Lambda's local disk, which does not survive the invocation (every cold start would register a new account): use account_store: secretsmanager", cfg.ACME.AccountStore.String()))
	}
	for i, c := range cfg.Certificates {
		if c.Sinks.File != nil {
			errs = append(errs, fmt.Errorf("certificates[%d].sinks.file (%s): a Lambda's disk does not survive the invocation; store the certificate in Secrets Manager only (sinks.secretsmanager)", i, c.Name))
		}
	}
	return errs
}

// maxDirectory bounds the CA's directory document (Let's Encrypt's is under 1 KB).
const maxDirectory = 1 << 20

// directoryTimeout bounds fetching the CA's directory.
const directoryTimeout = 30 * time.Second

// validateLeaseKey is the lease key validate --online reads: not a certificate name
// (names have no "/").
const validateLeaseKey = "certferry/validate"

// Online runs the checks that need the CA and AWS, and orders and writes nothing: the
// CA's directory answers (and offers every configured profile, when it lists its
// profiles), every name's hosted zone is found, every secret is readable and can take
// its certificate (renew.Runner.Check), the lease table answers (coordination), and the
// account store is readable. problems are the configuration's;
// unreachable are the checks that could not run (the CA or AWS did not answer, no
// credentials).
func (a *App) Online(ctx context.Context) (problems, unreachable []error) {
	if p, u := a.checkDirectory(ctx); u != nil {
		unreachable = append(unreachable, u)
	} else {
		problems = append(problems, p...)
	}
	p, err := a.Runner.Check(ctx, renew.Options{})
	if err != nil {
		unreachable = append(unreachable, err)
	}
	// The lease table answers (one read of a key no certificate can have).
	if a.leases != nil {
		if _, err := a.leases.HeldElsewhere(ctx, validateLeaseKey); err != nil {
			p = append(p, fmt.Errorf("coordination.dynamodb_table: %w", err))
		}
	}
	// The ACME accounts: readable, and each one parses (none yet is fine).
	if _, err := a.AccountStore().List(ctx); err != nil {
		p = append(p, fmt.Errorf("acme.account_store: %w", err))
	}
	for _, err := range p {
		if notAnswered(err) {
			unreachable = append(unreachable, err)
		} else {
			problems = append(problems, err)
		}
	}
	return problems, unreachable
}

// notAnswered reports whether err is a request that got no answer (a connection
// refused, a timeout, no credentials to sign it, a stop by a signal) or the service's own
// failure (a 5xx): not a finding about the configuration. An AWS outage answering 500
// made validate --online exit 2, blaming the secret and acme.account_store.
func notAnswered(err error) bool {
	var send *smithyhttp.RequestSendError
	var op *net.OpError
	var status interface{ HTTPStatusCode() int }
	return errors.As(err, &send) || errors.As(err, &op) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) || errors.As(err, &status) && status.HTTPStatusCode() >= 500
}

// checkDirectory fetches the CA's directory. The error is set when the CA could not be
// reached; problems are what its answer says about the configuration.
func (a *App) checkDirectory(ctx context.Context) (problems []error, unreachable error) {
	dir := a.Config.ACME.Directory
	ctx, cancel := context.WithTimeout(ctx, directoryTimeout)
	defer cancel()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: a.roots, MinVersion: tls.VersionTLS12}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, dir, nil)
	if err != nil {
		return []error{fmt.Errorf("acme.directory: %q: %w", dir, err)}, nil
	}
	req.Header.Set("User-Agent", "certferry/"+a.version)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("acme.directory: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDirectory+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("acme.directory: read %s: %w", dir, err)
	case resp.StatusCode != http.StatusOK:
		return []error{fmt.Errorf("acme.directory: %s answered %s: not an ACME directory", dir, resp.Status)}, nil
	case len(body) > maxDirectory:
		return []error{fmt.Errorf("acme.directory: %s answered more than %d bytes: not an ACME directory", dir, maxDirectory)}, nil
	}
	var d struct {
		NewNonce   string `json:"newNonce"`
		NewAccount string `json:"newAccount"`
		NewOrder   string `json:"newOrder"`
		Meta       struct {
			Profiles                map[string]any `json:"profiles"`
			ExternalAccountRequired bool           `json:"externalAccountRequired"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(body, &d); err != nil || d.NewNonce == "" || d.NewAccount == "" || d.NewOrder == "" {
		return []error{fmt.Errorf("acme.directory: %s is not an ACME directory (no newNonce, newAccount and newOrder)", dir)}, nil
	}
	if d.Meta.ExternalAccountRequired && a.Config.ACME.EAB == nil {
		problems = append(problems, fmt.Errorf("acme.eab: %s requires an external account binding: set acme.eab.kid and acme.eab.hmac_key", dir))
	}
	if d.Meta.Profiles != nil {
		for i, c := range a.Config.Certificates {
			if _, ok := d.Meta.Profiles[c.Profile]; c.Profile != "" && !ok {
				problems = append(problems, fmt.Errorf("certificates[%d].profile (%s): %q: %s offers %s", i, c.Name, c.Profile, dir, strings.Join(slices.Sorted(maps.Keys(d.Meta.Profiles)), ", ")))
			}
		}
	}
	return problems, nil
}
