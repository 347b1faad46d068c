package repocheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function may be, from its func line to its closing
// brace, outside tests and generated code: a longer one does several things, which
// belong in functions of their own, named for what they do.
const maxFuncLines = 80

// funcLenPending are directories whose long functions are being split by a change in
// flight; each is checked again once it lands. Keep it empty.
var funcLenPending = []string{}

// TestNoLongFunctions: no function outside tests and generated code is longer than
// maxFuncLines.
func TestNoLongFunctions(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	out, err := exec.CommandContext(t.Context(), "git", "-C", root, "ls-files", "-z", "--", "*.go").Output()
	if err != nil {
		t.Skipf("not a git checkout (git ls-files: %v)", err)
	}
	fset := token.NewFileSet()
	n := 0
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || pending(name) {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if ast.IsGenerated(f) {
			continue
		}
		n++
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
			if lines := end - start + 1; lines > maxFuncLines {
				t.Errorf("%s:%d: %s is %d lines, more than %d: split it into steps named for what they do", name, start, funcName(fn), lines, maxFuncLines)
			}
		}
	}
	if n == 0 {
		t.Fatal("no Go file checked")
	}
}

func pending(name string) bool {
	for _, dir := range funcLenPending {
		if strings.HasPrefix(name, dir) {
			return true
		}
	}
	return false
}

// funcName is fn's name, with its receiver's type for a method.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if g, ok := typ.(*ast.IndexExpr); ok {
		typ = g.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
