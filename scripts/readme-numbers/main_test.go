package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeZips(t *testing.T, arm, amd int) string {
	t.Helper()
	dist := t.TempDir()
	for name, n := range map[string]int{"certferry-lambda-arm64.zip": arm, "certferry-lambda-amd64.zip": amd} {
		if err := os.WriteFile(filepath.Join(dist, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dist
}

func TestUpdate(t *testing.T) {
	dist := writeZips(t, 5_234_567, 5_789_000)
	doc := []byte("zips (<!-- number:lambda-zip-sizes -->about 4.6 MB and 5.1 MB zipped<!-- /number -->); end\n")
	out, changes, err := Update(doc, dist)
	if err != nil {
		t.Fatal(err)
	}
	if want := "zips (<!-- number:lambda-zip-sizes -->about 5.2 MB and 5.8 MB zipped<!-- /number -->); end\n"; string(out) != want {
		t.Errorf("out = %q, want %q", out, want)
	}
	if len(changes) != 1 || changes[0].Old != "about 4.6 MB and 5.1 MB zipped" {
		t.Errorf("changes = %+v", changes)
	}
	// Up to date: no change.
	if _, changes, err := Update(out, dist); err != nil || len(changes) != 0 {
		t.Errorf("second Update: %v %+v", err, changes)
	}
	for _, bad := range []string{"no marker", "<!-- number:nope -->x<!-- /number -->"} {
		if _, _, err := Update([]byte(bad), dist); err == nil {
			t.Errorf("Update(%q): no error", bad)
		}
	}
	if _, _, err := Update(doc, t.TempDir()); err == nil || !strings.Contains(err.Error(), "make lambda") {
		t.Errorf("without zips: %v", err)
	}
}

func TestRunCheckAndWrite(t *testing.T) {
	dist := writeZips(t, 1_000_000, 2_000_000)
	p := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(p, []byte("<!-- number:lambda-zip-sizes -->old<!-- /number -->\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"-dist", dist, p}, &out, &errOut); code != 1 || !strings.Contains(out.String(), `"old" -> "about 1.0 MB and 2.0 MB zipped"`) {
		t.Errorf("check: exit %d, out %q, stderr %q", code, out.String(), errOut.String())
	}
	if code := run([]string{"-w", "-dist", dist, p}, &out, &errOut); code != 0 {
		t.Errorf("-w: exit %d, stderr %q", code, errOut.String())
	}
	if code := run([]string{"-dist", dist, p}, &out, &errOut); code != 0 {
		t.Errorf("check after -w: exit %d", code)
	}
}

// TestReadmeNumbersMarked: the README's Lambda zip sizes are a marked number, which
// `make readme-numbers` rewrites, and the Makefile has that target.
func TestReadmeNumbersMarked(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regionRE.FindAllSubmatch(readme, -1)
	names := map[string]bool{}
	for _, x := range m {
		names[string(x[1])] = true
	}
	if !names["lambda-zip-sizes"] {
		t.Error("README.md gives the Lambda zip sizes without the <!-- number:lambda-zip-sizes --> marker")
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(makefile), "\nreadme-numbers:") {
		t.Error("the Makefile has no readme-numbers target")
	}
}
