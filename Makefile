# certferry — see README.md. Every target works on a fresh machine with Go installed.
GO        ?= go
BIN       ?= bin
PKGS      ?= ./...
FUZZTIME  ?= 10s
# Tests that skip under the race detector because Pebble v2.10.3 races inside itself, and
# TestDaemonSoak, which measures the process's memory (the race detector's grows on its own).
NORACE_TESTS := ^(TestE2ELimitsARIRenewalsPass|TestE2ELimitsARIRenewalsPassTheCAStop|TestFaultARIWindowPast|TestFaultAlreadyReplaced|TestE2EAccountOnce|TestRenewalInfoAndReplaces|TestAccountConcurrentNewAgreeOnOne|TestConcurrentRolloversKeepAUsableAccount|TestTwoRunnersRace|TestE2ECoordinationOneOrderEach|TestE2EAlreadyReplacedRenewedElsewhere|TestE2ELostLeaseFailureAfterRenewalElsewhere|TestThreeRunnersTwelveCertificates|TestDaemonSoak)$$
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: all build build-sandbox demo test test-short vet fuzz bench soak clean help lambda tools readme-numbers package test-package

all: build

help:
	@echo "make demo   the whole job on a local sandbox (Pebble + Route 53 + Secrets Manager + DNS)"
	@echo "make test   vet and staticcheck, every test with the race detector, and a short fuzz run of each parser"
	@echo "make build  bin/certferry (make build-sandbox: bin/certferry-sandbox, the test stack and the demo)"
	@echo "make bench  the benchmarks (not run by make test)"
	@echo "make soak   2,000 passes of the daemon: its RSS must stay flat after the warm-up (make test runs 500)"
	@echo "make lambda dist/certferry-lambda-{arm64,amd64}.zip for AWS Lambda (provided.al2023)"
	@echo "make package dist/certferry_*.deb and dist/certferry-*.rpm (binary, systemd units, config, user)"
	@echo "make readme-numbers  builds the Lambda zips and writes their sizes into README.md"
	@echo "make tools  installs the Lambda Runtime Interface Emulator the tests run the function under"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/certferry ./cmd/certferry

# The sandbox and the demo are their own binary, so bin/certferry links no Pebble.
build-sandbox:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/certferry-sandbox ./cmd/certferry-sandbox

demo: build build-sandbox
	$(BIN)/certferry-sandbox demo

# staticcheck, pinned: `go run pkg@version` builds that version without touching go.mod,
# so `go mod tidy` stays clean. Its default checks; any finding fails make test.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	cd deploy/package && $(GO) vet ./...

test: tools vet
	@command -v terraform >/dev/null 2>&1 || echo "terraform is not installed: deploy/terraform's Terraform CLI checks (init, validate, plan) are skipped"
	$(GO) test -race -count=1 -parallel 8 -timeout 20m $(PKGS)
	$(MAKE) test-package
	@# Tests that drive Pebble into its own data races skip under -race; run them plainly.
	$(GO) test -count=1 -timeout 10m -run '$(NORACE_TESTS)' ./renew ./acme ./internal/faults ./cmd/certferry
	$(MAKE) fuzz

test-short:
	$(GO) test -count=1 -short $(PKGS)

# Each fuzz target runs for FUZZTIME on top of its seed corpus; crashers it finds are
# written to the package's testdata/fuzz and fail the run. scripts/fuzz.sh builds each
# package's instrumented test binary once and fuzzes FUZZ_JOBS packages at once (list the
# one with the most targets first); a run Go's fuzzer ends with "context deadline
# exceeded" and no crasher is tried once more.
FUZZ_JOBS ?= 2
FUZZ_TARGETS := \
	./sinks/secretsmanager:FuzzParseAccounts \
	./sinks/secretsmanager:FuzzParseRevocation \
	./sinks/secretsmanager:FuzzText \
	./sinks/secretsmanager:FuzzIssued \
	./sinks/secretsmanager:FuzzJournalEntry \
	./config:FuzzParse \
	./config:FuzzNormalizeDomain \
	./config:FuzzParseLimit \
	./certs:FuzzParseSecret \
	./internal/retryafter:FuzzParse \
	./acme:FuzzParsePersistValue \
	./internal/sandbox/ddbsim:FuzzExpressions \
	./internal/app:FuzzEnvProgram

fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZ_JOBS=$(FUZZ_JOBS) ./scripts/fuzz.sh $(FUZZ_TARGETS)

# The benchmarks of ./internal/bench against the sandbox, the lego and certbot loops next to them, and a table
# with the targets (scripts/bench.sh; builds lego v4.35.2 into ~/.cache once).
bench:
	GO=$(GO) ./scripts/bench.sh

# TestDaemonSoak at full length: the daemon as `certferry run` wires it, on a clock the test
# moves, for SOAK_PASSES passes against certferry-sandbox in a process of its own; its RSS
# must stay within 1 MB from the warm-up to the end. About 75 s on 2 idle cores; make test
# runs 500 passes. SOAK_PROFILES=DIR writes heap and goroutine profiles after the warm-up
# and at the end (go tool pprof -base DIR/heap-warm.pprof DIR/heap-end.pprof).
SOAK_PASSES ?= 2000
SOAK_PROFILES ?=
soak:
	$(GO) test -count=1 -timeout 30m -run '^TestDaemonSoak$$' -v ./cmd/certferry -args -soak.passes $(SOAK_PASSES) $(if $(SOAK_PROFILES),-soak.profiles $(SOAK_PROFILES))

clean:
	rm -rf $(BIN)

# The .deb and .rpm for Linux on PKG_ARCH (default: this machine's; `make package
# PKG_ARCH=arm64` for Graviton), with the binary built for it into $(BIN)/linux-PKG_ARCH/,
# by deploy/package: a small program using nfpm as a library, in a module of its own so
# nfpm's dependencies stay out of certferry's. The packages' version comes from VERSION
# (git describe by default; `make package VERSION=v1.2.3`).
PKG_ARCH ?= $(shell $(GO) env GOARCH)
package:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
		-o $(BIN)/linux-$(PKG_ARCH)/certferry ./cmd/certferry
	@# Only this build's packages in dist/, so `apt install ./dist/certferry_*.deb` picks it.
	rm -f dist/certferry_*.deb dist/certferry-*.rpm
	cd deploy/package && $(GO) run . -root $(CURDIR) -bin $(CURDIR)/$(BIN)/linux-$(PKG_ARCH)/certferry \
		-version '$(VERSION)' -arch $(PKG_ARCH) -out $(CURDIR)/dist

# The packaging module's tests (contents, modes, conffiles, maintainer scripts), then the
# README's "Install on a bastion" steps run as written (install, first renewal against the
# sandbox, upgrade, uninstall) in a throw-away overlay of this machine with systemctl
# stubbed (scripts/test-bastion.sh; about a minute; skips, saying why, without root or
# overlayfs).
test-package:
	cd deploy/package && $(GO) test -count=1 ./...
	./scripts/test-bastion.sh

# The AWS Lambda function: dist/lambda/<arch>/bootstrap, zipped into
# dist/certferry-lambda-<arch>.zip for provided.al2023 by aws-lambda-go's build-lambda-zip
# (its version is go.mod's, so no zip tool is needed; the same bootstrap makes the same zip).
LAMBDA_ARCHS ?= arm64 amd64
lambda:
	@set -e; for arch in $(LAMBDA_ARCHS); do \
		mkdir -p dist/lambda/$$arch; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -tags lambda.norpc \
			-o dist/lambda/$$arch/bootstrap ./cmd/certferry-lambda; \
		$(GO) run github.com/aws/aws-lambda-go/cmd/build-lambda-zip -o dist/certferry-lambda-$$arch.zip dist/lambda/$$arch/bootstrap; \
		echo "dist/certferry-lambda-$$arch.zip $$(wc -c < dist/certferry-lambda-$$arch.zip) bytes"; \
	done

# The numbers README.md gives that a build produces (the Lambda zips' sizes), measured
# and written in place by scripts/readme-numbers; without -w it only reports stale ones.
readme-numbers: lambda
	$(GO) run ./scripts/readme-numbers -w README.md

# The Lambda Runtime Interface Emulator, which cmd/certferry-lambda's tests run the
# function under; installed into $(go env GOPATH)/bin unless already there or on PATH.
RIE_VERSION ?= v0.0.0-20261030222936-bef5c4ba774d
tools:
	@command -v aws-lambda-rie >/dev/null 2>&1 || test -x "$$($(GO) env GOPATH)/bin/aws-lambda-rie" || \
		$(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
