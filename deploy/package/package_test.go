package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/blakesmith/ar"
	rpmutils "github.com/sassoftware/go-rpmutils"
)

// entry is one path of a package, as the package manager will create it.
type entry struct {
	mode  fs.FileMode // permission bits, plus fs.ModeDir for a directory
	owner string
	group string
	conf  bool   // a conffile (deb) / %config(noreplace) (rpm)
	data  []byte // a regular file's content
}

// pkg is what the test reads back out of a package.
type pkg struct {
	version string
	depends []string
	files   map[string]entry
	scripts map[string]string // preinstall, postinstall, preremove, postremove
}

// TestPackages builds the .deb and .rpm from the repository (with a stand-in binary, so
// the test stays fast) and reads both back with Go libraries: every installed path with
// its mode, owner and group; the conffiles; the maintainer scripts; the version.
func TestPackages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "certferry")
	binData := []byte("#!/bin/sh\necho certferry stand-in\n")
	if err := os.WriteFile(bin, binData, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dist")
	paths, err := Build(Options{Root: "../..", Bin: bin, Version: "v1.2.3-4-gabcdef0", Arch: "amd64", Out: out, Formats: []string{"deb", "rpm"}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	wantPaths := []string{filepath.Join(out, "certferry_1.2.3+git4.abcdef0-1_amd64.deb"), filepath.Join(out, "certferry-1.2.3+git4.abcdef0-1.x86_64.rpm")}
	if !slices.Equal(paths, wantPaths) {
		t.Fatalf("Build wrote %q, want %q", paths, wantPaths)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".package-*")); len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}

	doc := func(data []byte) entry {
		return entry{mode: 0o644, owner: "root", group: "root", data: data}
	}
	file := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join("../..", rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	example := file("config.example.yaml")
	installed := file("deploy/package/config.yaml")
	want := map[string]entry{
		"/usr/sbin/certferry-as-daemon":                     {mode: 0o755, owner: "root", group: "root", data: file("deploy/package/certferry-as-daemon")},
		"/usr/share/doc/certferry/copyright":                doc(file("deploy/package/copyright")),
		"/usr/bin/certferry":                                {mode: 0o755, owner: "root", group: "root", data: binData},
		"/usr/lib/systemd/system/certferry.service":         doc(file("deploy/systemd/certferry.service")),
		"/usr/lib/systemd/system/certferry-reload@.path":    doc(file("deploy/systemd/certferry-reload@.path")),
		"/usr/lib/systemd/system/certferry-reload@.service": doc(file("deploy/systemd/certferry-reload@.service")),
		"/etc/certferry":                                    {mode: fs.ModeDir | 0o755, owner: "root", group: "root"},
		"/usr/share/doc/certferry":                          {mode: fs.ModeDir | 0o755, owner: "root", group: "root"},
		"/etc/certferry/config.yaml":                        {mode: 0o640, owner: "root", group: "certferry", conf: true, data: installed},
		"/etc/default/certferry":                            {mode: 0o600, owner: "root", group: "root", conf: true, data: file("deploy/package/certferry.default")},
		"/usr/share/doc/certferry/config.example.yaml":      doc(example),
		"/usr/share/doc/certferry/README.md":                doc(file("README.md")),
	}
	// docs/, which README.md links to and the man pages name: every page there.
	want["/usr/share/doc/certferry/docs"] = entry{mode: fs.ModeDir | 0o755, owner: "root", group: "root"}
	docs, err := filepath.Glob("../../docs/*")
	if err != nil || len(docs) < 2 {
		t.Fatalf("docs: %q %v", docs, err)
	}
	for _, d := range docs {
		want["/usr/share/doc/certferry/docs/"+filepath.Base(d)] = doc(file("docs/" + filepath.Base(d)))
	}
	// The man pages, compressed (compared uncompressed below).
	pages, err := filepath.Glob("man/*.1")
	if err != nil || len(pages) < 2 {
		t.Fatalf("man pages: %q %v", pages, err)
	}
	for _, p := range pages {
		want["/usr/share/man/man1/"+filepath.Base(p)+".gz"] = doc(file("deploy/package/" + p))
	}
	wantScripts := map[string]string{}
	for _, s := range []string{"preinstall", "postinstall", "preremove", "postremove"} {
		wantScripts[s] = string(file("deploy/package/scripts/" + s + ".sh"))
	}

	for _, p := range paths {
		t.Run(filepath.Ext(p)[1:], func(t *testing.T) {
			var got *pkg
			var err error
			if strings.HasSuffix(p, ".deb") {
				got, err = readDeb(p)
			} else {
				got, err = readRPM(p)
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := "1.2.3+git4.abcdef0-1"; got.version != want {
				t.Errorf("version %q, want %q", got.version, want)
			}
			wantDep := "passwd"
			if strings.HasSuffix(p, ".rpm") {
				wantDep = "shadow-utils"
			}
			if !slices.Contains(got.depends, wantDep) {
				t.Errorf("depends %q, want %s (useradd/groupadd in the pre-install script)", got.depends, wantDep)
			}
			if !slices.Contains(got.depends, "util-linux") {
				t.Errorf("depends %q, want util-linux (setpriv in certferry-as-daemon)", got.depends)
			}
			for path, w := range want {
				g, ok := got.files[path]
				if !ok {
					t.Errorf("%s: missing", path)
					continue
				}
				if g.mode != w.mode || g.owner != w.owner || g.group != w.group || g.conf != w.conf {
					t.Errorf("%s: %v %s:%s conffile=%v, want %v %s:%s conffile=%v", path, g.mode, g.owner, g.group, g.conf, w.mode, w.owner, w.group, w.conf)
				}
				if strings.HasSuffix(path, ".gz") {
					g.data = gunzip(t, path, g.data)
				}
				if w.data != nil && !bytes.Equal(g.data, w.data) {
					t.Errorf("%s: content differs from the repository's (%d bytes, want %d)", path, len(g.data), len(w.data))
				}
			}
			// Nothing else but the parent directories of what is wanted.
			for path, g := range got.files {
				if _, ok := want[path]; ok {
					continue
				}
				if g.mode&fs.ModeDir == 0 || !isParent(path, want) {
					t.Errorf("%s: unexpected (%v)", path, g.mode)
				} else if g.mode != fs.ModeDir|0o755 || g.owner != "root" || g.group != "root" {
					t.Errorf("%s: %v %s:%s, want a 0755 root:root directory", path, g.mode, g.owner, g.group)
				}
			}
			for name, w := range wantScripts {
				if got.scripts[name] != w {
					t.Errorf("%s script differs from deploy/package/scripts/%s.sh:\n%s", name, name, got.scripts[name])
				}
			}
		})
	}
	// dpkg-deb, where installed, agrees (a package Go can read but dpkg cannot is no package).
	if dpkg, err := exec.LookPath("dpkg-deb"); err == nil {
		out, err := exec.Command(dpkg, "--field", paths[0], "Package", "Version", "Architecture").CombinedOutput()
		if want := "Package: certferry\nVersion: 1.2.3+git4.abcdef0-1\nArchitecture: amd64\n"; err != nil || string(out) != want {
			t.Errorf("dpkg-deb --field: %v\n%s\nwant\n%s", err, out, want)
		}
	} else {
		t.Log("dpkg-deb not installed: the .deb was checked with Go only")
	}
	// So does rpm, where installed (apt-get install rpm; .ci/run does).
	if rpm, err := exec.LookPath("rpm"); err == nil {
		out, err := exec.Command(rpm, "-qp", "--qf", "%{NAME} %{VERSION}-%{RELEASE} %{ARCH}\n", paths[1]).CombinedOutput()
		if want := "certferry 1.2.3+git4.abcdef0-1 x86_64\n"; err != nil || string(out) != want {
			t.Errorf("rpm -qp: %v\n%s\nwant %s", err, out, want)
		}
		out, err = exec.Command(rpm, "-qpc", paths[1]).CombinedOutput()
		if want := "/etc/certferry/config.yaml\n/etc/default/certferry\n"; err != nil || string(out) != want {
			t.Errorf("rpm -qpc (configuration files): %v\n%s\nwant\n%s", err, out, want)
		}
	} else {
		t.Log("rpm not installed: the .rpm was checked with Go only")
	}
}

// TestScriptsAreShell: the maintainer scripts are POSIX sh (dash runs them on Debian).
func TestScriptsAreShell(t *testing.T) {
	t.Parallel()
	scripts, err := filepath.Glob("scripts/*.sh")
	if err != nil || len(scripts) != 4 {
		t.Fatalf("scripts: %q %v", scripts, err)
	}
	for _, s := range scripts {
		if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
	}
}

func TestPackageVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"1.2.3", "1.2.3"},
		{"v1.2.3-rc.1", "1.2.3~rc.1"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"v1.2.3-4-gabcdef0", "1.2.3+git4.abcdef0"},
		{"v1.2.3-4-gabcdef0-dirty", "1.2.3+git4.abcdef0.dirty"},
		{"abcdef0", "0.0.0+git.abcdef0"},
		{"abcdef0-dirty", "0.0.0+git.abcdef0.dirty"},
		{"dev", "0.0.0+dev"},
		{"", ""},
		{"release one", ""},
		{"v1.2", ""},
		{"1.2.3;rm -rf /", ""},
	} {
		got, err := PackageVersion(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("PackageVersion(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestBuildRefusesMissingBinary: a clear error before any package is written.
func TestBuildRefusesMissingBinary(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	_, err := Build(Options{Root: "../..", Bin: filepath.Join(out, "nope"), Version: "v1.0.0", Arch: "amd64", Out: out, Formats: []string{"deb"}})
	if err == nil || !strings.Contains(err.Error(), "run make build first") {
		t.Fatalf("Build: %v", err)
	}
	if left, _ := os.ReadDir(out); len(left) > 0 {
		t.Errorf("wrote %d files", len(left))
	}
}

// gunzip returns a .gz file's content, failing the test when it is not gzip.
func gunzip(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return nil
	}
	out, err := io.ReadAll(io.LimitReader(zr, 16<<20))
	if err != nil {
		t.Errorf("%s: %v", name, err)
	}
	return out
}

func isParent(dir string, want map[string]entry) bool {
	for p := range want {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// readDeb reads a .deb: an ar archive of debian-binary, control.tar.gz and data.tar.gz.
func readDeb(path string) (*pkg, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := &pkg{files: map[string]entry{}, scripts: map[string]string{}}
	var conffiles []string
	r := ar.NewReader(f)
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: ar: %w", path, err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		switch name {
		case "debian-binary":
			continue
		case "control.tar.gz", "data.tar.gz":
		default:
			return nil, fmt.Errorf("%s: unexpected member %q (only gzip is read here)", path, name)
		}
		err = readTarGz(r, func(h *tar.Header, data []byte) {
			if name == "data.tar.gz" {
				mode := fs.FileMode(h.Mode).Perm()
				if h.Typeflag == tar.TypeDir {
					mode |= fs.ModeDir
				}
				p.files[strings.TrimSuffix(strings.TrimPrefix(h.Name, "."), "/")] = entry{mode: mode, owner: h.Uname, group: h.Gname, data: data}
				return
			}
			switch n := strings.TrimPrefix(h.Name, "./"); n {
			case "control":
				for _, l := range strings.Split(string(data), "\n") {
					if v, ok := strings.CutPrefix(l, "Version: "); ok {
						p.version = v
					}
					if v, ok := strings.CutPrefix(l, "Depends: "); ok {
						p.depends = strings.Split(v, ", ")
					}
				}
			case "conffiles":
				conffiles = strings.Fields(string(data))
			case "preinst", "postinst", "prerm", "postrm":
				p.scripts[map[string]string{"preinst": "preinstall", "postinst": "postinstall", "prerm": "preremove", "postrm": "postremove"}[n]] = string(data)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
	}
	for _, c := range conffiles {
		e, ok := p.files[c]
		if !ok {
			return nil, fmt.Errorf("%s: conffile %s is not in the package", path, c)
		}
		e.conf = true
		p.files[c] = e
	}
	return p, nil
}

func readTarGz(r io.Reader, each func(*tar.Header, []byte)) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return err
		}
		each(h, data)
	}
}

// readRPM reads an .rpm's header (version, requirements, scripts, file flags) and its
// cpio payload.
func readRPM(path string) (*pkg, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rpm, err := rpmutils.ReadRpm(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p := &pkg{files: map[string]entry{}, scripts: map[string]string{}}
	nevra, err := rpm.Header.GetNEVRA()
	if err != nil {
		return nil, err
	}
	p.version = nevra.Version + "-" + nevra.Release
	if p.depends, err = rpm.Header.GetStrings(rpmutils.REQUIRENAME); err != nil {
		return nil, err
	}
	for tag, name := range map[int]string{rpmutils.PREIN: "preinstall", rpmutils.POSTIN: "postinstall", rpmutils.PREUN: "preremove", rpmutils.POSTUN: "postremove"} {
		if s, err := rpm.Header.GetString(tag); err == nil {
			p.scripts[name] = s
		}
	}
	pr, err := rpm.PayloadReaderExtended()
	if err != nil {
		return nil, err
	}
	for {
		fi, err := pr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: payload: %w", path, err)
		}
		mode := fs.FileMode(fi.Mode()).Perm()
		if fi.Mode()&0o170000 == 0o040000 {
			mode |= fs.ModeDir
		}
		var data []byte
		if mode&fs.ModeDir == 0 && !pr.IsLink() {
			if data, err = io.ReadAll(io.LimitReader(pr, 64<<20)); err != nil {
				return nil, err
			}
		}
		conf := fi.Flags()&rpmutils.RPMFILE_CONFIG != 0
		if conf && fi.Flags()&rpmutils.RPMFILE_NOREPLACE == 0 {
			return nil, fmt.Errorf("%s: %s is %%config without noreplace: an upgrade would move the operator's edits aside", path, fi.Name())
		}
		p.files[fi.Name()] = entry{mode: mode, owner: fi.UserName(), group: fi.GroupName(), conf: conf, data: data}
	}
	return p, nil
}
