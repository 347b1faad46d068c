package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/certferry/certferry/config"
)

// EnvConfig names the environment variable that says where the configuration is.
//
//	CERTFERRY_CONFIG=ssm:/certferry/config          an SSM parameter (String or SecureString)
//	CERTFERRY_CONFIG=secretsmanager:certferry/config a Secrets Manager secret's SecretString
//	CERTFERRY_CONFIG=file:/opt/certferry.yaml        a file (also: any single-line absolute path)
//	CERTFERRY_CONFIG=<YAML text>                     the configuration itself
//	(unset or empty)                                 certferry.yaml next to the bootstrap in the zip
const EnvConfig = "CERTFERRY_CONFIG"

// DefaultConfigFile is read, next to the bootstrap, when CERTFERRY_CONFIG is unset.
const DefaultConfigFile = "certferry.yaml"

// Source kinds.
const (
	sourceInline         = "inline"
	sourceFile           = "file"
	sourceSSM            = "ssm"
	sourceSecretsManager = "secretsmanager"
)

// source says where the configuration comes from. String never shows inline content
// (it may hold an EAB key).
type source struct {
	kind string
	ref  string // parameter name, secret id, path, or the YAML itself
}

func (s source) String() string {
	if s.kind == sourceInline {
		return fmt.Sprintf("inline (%s, %d bytes)", EnvConfig, len(s.ref))
	}
	return s.kind + ":" + s.ref
}

// parseSource interprets CERTFERRY_CONFIG; dir is where the bootstrap lives.
func parseSource(value, dir string) (source, error) {
	v := strings.TrimSpace(value)
	switch {
	case v == "":
		return source{kind: sourceFile, ref: filepath.Join(dir, DefaultConfigFile)}, nil
	case strings.HasPrefix(v, "ssm:"):
		name := strings.TrimPrefix(v, "ssm:")
		if name == "" || strings.ContainsAny(name, " \t\n") {
			return source{}, fmt.Errorf("%s: %q: write ssm:/parameter/name (or ssm:name, or the parameter's ARN)", EnvConfig, v)
		}
		return source{kind: sourceSSM, ref: name}, nil
	case strings.HasPrefix(v, "secretsmanager:"):
		id := strings.TrimPrefix(v, "secretsmanager:")
		if id == "" || strings.ContainsAny(id, " \t\n") {
			return source{}, fmt.Errorf("%s: %q: write secretsmanager:<secret name or ARN>", EnvConfig, v)
		}
		return source{kind: sourceSecretsManager, ref: id}, nil
	case strings.HasPrefix(v, "file:"):
		p := strings.TrimPrefix(v, "file:")
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return source{kind: sourceFile, ref: p}, nil
	case strings.HasPrefix(v, "/") && !strings.ContainsAny(v, "\n:"):
		// The CLI reads CERTFERRY_CONFIG as a path: accept that here too.
		return source{kind: sourceFile, ref: v}, nil
	}
	return source{kind: sourceInline, ref: value}, nil
}

// ssmAPI and secretsAPI are the calls the sources make.
type ssmAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

type secretsAPI interface {
	GetSecretValue(ctx context.Context, in *awssm.GetSecretValueInput, optFns ...func(*awssm.Options)) (*awssm.GetSecretValueOutput, error)
}

var (
	_ ssmAPI     = (*ssm.Client)(nil)
	_ secretsAPI = (*awssm.Client)(nil)
)

// clients opens the AWS clients a source needs, only when it needs them.
type clients struct {
	ssm     func(ctx context.Context) (ssmAPI, error)
	secrets func(ctx context.Context) (secretsAPI, error)
}

// fetch returns the configuration's bytes.
func (s source) fetch(ctx context.Context, c clients) ([]byte, error) {
	switch s.kind {
	case sourceInline:
		return []byte(s.ref), nil
	case sourceFile:
		b, err := config.ReadFile(s.ref)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config: %s does not exist: put %s next to the bootstrap in the zip, or set %s (ssm:/name, secretsmanager:name or the YAML itself)", s.ref, DefaultConfigFile, EnvConfig)
		}
		if err != nil {
			return nil, err // names the file; a FIFO, a device or an oversized file is refused unread
		}
		return b, nil
	case sourceSSM:
		api, err := c.ssm(ctx)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", s, err)
		}
		out, err := api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.ref), WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("config: ssm get parameter %s: %w", s.ref, err)
		}
		if out.Parameter == nil || aws.ToString(out.Parameter.Value) == "" {
			return nil, fmt.Errorf("config: ssm parameter %s is empty", s.ref)
		}
		return []byte(aws.ToString(out.Parameter.Value)), nil
	case sourceSecretsManager:
		api, err := c.secrets(ctx)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", s, err)
		}
		out, err := api.GetSecretValue(ctx, &awssm.GetSecretValueInput{SecretId: aws.String(s.ref)})
		if err != nil {
			return nil, fmt.Errorf("config: secretsmanager get secret value %s: %w", s.ref, err)
		}
		if out.SecretString != nil {
			if *out.SecretString == "" {
				return nil, fmt.Errorf("config: secret %s is empty", s.ref)
			}
			return []byte(*out.SecretString), nil
		}
		if len(out.SecretBinary) > 0 {
			return out.SecretBinary, nil
		}
		return nil, fmt.Errorf("config: secret %s is empty", s.ref)
	}
	return nil, fmt.Errorf("config: unknown source kind %q", s.kind)
}
