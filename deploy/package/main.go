// Command package builds certferry's .deb and .rpm with nfpm (github.com/goreleaser/nfpm/v2)
// used as a library: `make package` runs it after building bin/certferry.
//
//	go run . -root ../.. -bin ../../bin/certferry -version "$(git describe)" -arch amd64 -out ../../dist
//
// What the packages hold is nfpm.yaml (the format the nfpm command reads too); this
// program only fills in the version, the architecture and the paths, and turns a
// `git describe` string into a version dpkg and rpm order correctly. It is a module of its
// own, so nfpm and its dependencies never enter certferry's module graph.
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Root, "root", "../..", "the repository's root directory")
	fs.StringVar(&o.Config, "config", "", "the nfpm configuration (default ROOT/deploy/package/nfpm.yaml)")
	fs.StringVar(&o.Bin, "bin", "", "the certferry binary to package (default ROOT/bin/certferry)")
	fs.StringVar(&o.Version, "version", "", "the version (a `git describe` string: v1.2.3, v1.2.3-4-gabcdef0, abcdef0-dirty)")
	fs.StringVar(&o.Arch, "arch", "amd64", "the GOARCH the binary was built for")
	fs.StringVar(&o.Out, "out", "dist", "the directory to write the packages to")
	formats := fs.String("formats", "deb,rpm", "the package formats, comma-separated")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o.Formats = strings.Split(*formats, ",")
	paths, err := Build(o)
	if err != nil {
		fmt.Fprintf(stderr, "package: %v\n", err)
		return 1
	}
	for _, p := range paths {
		fmt.Fprintln(stdout, p)
	}
	return 0
}

// Options say what to build.
type Options struct {
	Root, Config, Bin string
	Version, Arch     string
	Out               string
	Formats           []string
}

// Build writes one package per format into o.Out and returns their paths.
func Build(o Options) ([]string, error) {
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, err
	}
	if o.Config == "" {
		o.Config = filepath.Join(root, "deploy", "package", "nfpm.yaml")
	}
	if o.Bin == "" {
		o.Bin = filepath.Join(root, "bin", "certferry")
	}
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("binary %s: not an executable file (run make build first): %v", bin, err)
	}
	version, err := PackageVersion(o.Version)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{"VERSION": version, "ARCH": o.Arch, "BIN": bin}
	cfg, err := nfpm.ParseFileWithEnvMapping(o.Config, func(k string) string { return vars[k] })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Config, err)
	}
	// nfpm resolves relative paths against the working directory; resolve them against
	// the repository instead, so the program runs from anywhere (make, tests).
	for _, c := range cfg.Contents {
		if c.Source != "" && !filepath.IsAbs(c.Source) {
			c.Source = filepath.Join(root, c.Source)
		}
	}
	// Man pages are installed compressed, as Debian and Fedora ship them.
	tmp, err := os.MkdirTemp("", "certferry-package-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := gzipSources(cfg.Contents, tmp); err != nil {
		return nil, err
	}
	for _, s := range []*string{&cfg.Scripts.PreInstall, &cfg.Scripts.PostInstall, &cfg.Scripts.PreRemove, &cfg.Scripts.PostRemove} {
		if *s != "" && !filepath.IsAbs(*s) {
			*s = filepath.Join(root, *s)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Config, err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, format := range o.Formats {
		p, err := build(cfg, format, o.Out)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", format, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// gzipSources compresses, into dir, each file whose destination ends in .gz and whose
// source does not, and points the content at the compressed copy. The copies carry no
// name and no time, so the same sources make the same packages.
func gzipSources(contents files.Contents, dir string) error {
	for i, c := range contents {
		if !strings.HasSuffix(c.Destination, ".gz") || strings.HasSuffix(c.Source, ".gz") || c.Source == "" {
			continue
		}
		data, err := os.ReadFile(c.Source)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(data); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		out := filepath.Join(dir, fmt.Sprintf("%d-%s.gz", i, filepath.Base(c.Source)))
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			return err
		}
		c.Source = out
	}
	return nil
}

func build(cfg nfpm.Config, format, out string) (string, error) {
	info, err := cfg.Get(format)
	if err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", err
	}
	pkger, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	path := filepath.Join(out, pkger.ConventionalFileName(info))
	// Written beside the target and renamed, so a failed build leaves no truncated package.
	f, err := os.CreateTemp(out, ".package-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := pkger.Package(info, f); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(f.Name(), path)
}

var (
	semverRE   = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)(-[0-9A-Za-z.]+)?$`)
	describeRE = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)-(\d+)-g([0-9a-f]+)(-dirty)?$`)
	hashRE     = regexp.MustCompile(`^[0-9a-f]{4,40}(-dirty)?$`)
)

// PackageVersion turns the version certferry was built with (`git describe --tags
// --always --dirty`) into a version dpkg and rpm both accept and order correctly:
//
//	v1.2.3               1.2.3
//	v1.2.3-rc.1          1.2.3~rc.1             (before 1.2.3)
//	v1.2.3-4-gabcdef0    1.2.3+git4.abcdef0     (after 1.2.3)
//	abcdef0[-dirty]      0.0.0+git.abcdef0[.dirty]  (no tag yet)
//	dev                  0.0.0+dev
func PackageVersion(v string) (string, error) {
	if m := describeRE.FindStringSubmatch(v); m != nil {
		s := m[1] + "+git" + m[2] + "." + m[3]
		if m[4] != "" {
			s += ".dirty"
		}
		return s, nil
	}
	if m := semverRE.FindStringSubmatch(v); m != nil {
		if m[2] == "-dirty" {
			return m[1] + "+dirty", nil
		}
		return m[1] + strings.Replace(m[2], "-", "~", 1), nil
	}
	if hashRE.MatchString(v) {
		return "0.0.0+git." + strings.Replace(v, "-", ".", 1), nil
	}
	if v == "dev" {
		return "0.0.0+dev", nil
	}
	return "", fmt.Errorf("version %q: want a git describe string (v1.2.3, v1.2.3-4-gabcdef0, abcdef0) or dev", v)
}
