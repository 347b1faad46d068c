// Command readme-numbers keeps the numbers in README.md that a build or a measurement
// produces (the Lambda zips' sizes) in step with the build, so none is typed by hand.
// `make readme-numbers` builds what it measures, then runs it with -w.
//
// A number lives between markers: <!-- number:NAME -->text<!-- /number -->. Without -w it
// prints every region whose text is out of date and exits 1; with -w it rewrites them.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
)

// regionRE matches one marked number: its name and its current text.
var regionRE = regexp.MustCompile(`<!-- number:([a-z0-9-]+) -->(.*?)<!-- /number -->`)

// producers compute the text of each named number; dist is the build's output directory.
var producers = map[string]func(dist string) (string, error){
	"lambda-zip-sizes": func(dist string) (string, error) {
		arm, err := size(dist + "/certferry-lambda-arm64.zip")
		if err != nil {
			return "", err
		}
		amd, err := size(dist + "/certferry-lambda-amd64.zip")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("about %s and %s zipped", mb(arm), mb(amd)), nil
	},
}

func size(p string) (int64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, fmt.Errorf("%w (run make lambda first)", err)
	}
	return fi.Size(), nil
}

// mb writes n bytes in megabytes (10^6 bytes) with one decimal.
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// Change is one marked number whose text differs from what its producer gives.
type Change struct{ Name, Old, New string }

// Update returns doc with every marked number recomputed, and the changes. A marker
// whose name has no producer is an error, as is a document with no marker at all.
func Update(doc []byte, dist string) ([]byte, []Change, error) {
	var changes []Change
	var firstErr error
	found := false
	out := regionRE.ReplaceAllFunc(doc, func(m []byte) []byte {
		found = true
		sub := regionRE.FindSubmatch(m)
		name, old := string(sub[1]), string(sub[2])
		p, ok := producers[name]
		if !ok {
			if firstErr == nil {
				firstErr = fmt.Errorf("number %q: no producer (known: lambda-zip-sizes)", name)
			}
			return m
		}
		text, err := p(dist)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("number %s: %w", name, err)
			}
			return m
		}
		if text != old {
			changes = append(changes, Change{name, old, text})
		}
		return []byte("<!-- number:" + name + " -->" + text + "<!-- /number -->")
	})
	if firstErr != nil {
		return nil, nil, firstErr
	}
	if !found {
		return nil, nil, errors.New("no <!-- number:NAME --> marker")
	}
	return out, changes, nil
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("readme-numbers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	write := fs.Bool("w", false, "rewrite the file (default: report what is out of date and exit 1)")
	dist := fs.String("dist", "dist", "directory of the build's output")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: readme-numbers [-w] [-dist DIR] README.md")
		return 2
	}
	path := fs.Arg(0)
	doc, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "readme-numbers: %v\n", err)
		return 2
	}
	out, changes, err := Update(doc, *dist)
	if err != nil {
		fmt.Fprintf(stderr, "readme-numbers: %s: %v\n", path, err)
		return 2
	}
	for _, c := range changes {
		fmt.Fprintf(stdout, "%s: %s: %q -> %q\n", path, c.Name, c.Old, c.New)
	}
	if len(changes) == 0 {
		fmt.Fprintf(stdout, "%s: every number is up to date\n", path)
		return 0
	}
	if !*write {
		return 1
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		fmt.Fprintf(stderr, "readme-numbers: %v\n", err)
		return 2
	}
	return 0
}
