package config

import (
	"errors"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the field path, e.g. "certificates[1].domains[0]"; empty for the document itself.
	Path string
	// Line is the 1-based line in the file, or 0 when unknown (Validate on a Config built in code).
	Line int
	Msg  string
}

// Error formats the problem as "line 12: certificates[1].domains[0]: message".
func (p Problem) Error() string { return p.format("") }

func (p Problem) format(file string) string {
	var b strings.Builder
	switch {
	case file != "" && p.Line > 0:
		b.WriteString(file + ":" + strconv.Itoa(p.Line) + ": ")
	case file != "":
		b.WriteString(file + ": ")
	case p.Line > 0:
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ValidationError holds every problem found in a configuration, in file order. Its text is that of
// errors.Join over the problems (one per line), and errors.As reaches each Problem.
type ValidationError struct {
	// File is the file name when the configuration came from Load; it then prefixes every line
	// ("config.yaml:12: ...").
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	return errors.Join(e.Unwrap()...).Error()
}

// Unwrap returns the problems, each as an error (with File folded into its text).
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		if e.File == "" {
			errs[i] = p
		} else {
			errs[i] = fileProblem{p, e.File}
		}
	}
	return errs
}

type fileProblem struct {
	Problem
	file string
}

func (p fileProblem) Error() string { return p.format(p.file) }
func (p fileProblem) Unwrap() error { return p.Problem }
