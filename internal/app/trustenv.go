package app

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
)

// envWord is one word of an env command line and the exec index it comes from (words
// split from "-S STRING" carry the index of STRING).
type envWord struct {
	index int
	text  string
}

// maxEnvHops bounds how many programs envProgram follows ("env env env sh"), and how
// many -S strings it splits.
const maxEnvHops = 8

// execvpPath is the PATH execvp searches when the environment has none (env -i).
const execvpPath = "/bin:/usr/bin"

// envProgram returns what a hook whose program is env (exec[0]) makes root run, read as
// GNU env reads its arguments: its options skipped ("-i", "-u NAME", "-C DIR",
// "--unset=NAME", "--"; "-S STRING" split into words read in its place), VAR=value words
// skipped (a PATH= among them is the PATH the program is looked up on), then the
// program, found on path as env finds it when it has no slash, and, when that program
// is an interpreter, the absolute script it is given. The check is conservative: an
// option it does not know is taken to have no argument, so the word after it is checked
// as a program.
func envProgram(exec []string, path string) []program {
	var todo []envWord
	for i, w := range exec[1:] {
		todo = append(todo, envWord{i + 1, w})
	}
	var progs []program
	for hops := 0; len(todo) > 0 && hops < maxEnvHops; hops++ {
		var split *envWord
		todo, split, path = envOptions(todo, path)
		if split != nil {
			var words []envWord
			for _, f := range strings.Fields(split.text) {
				words = append(words, envWord{split.index, f})
			}
			todo = append(words, todo...)
			continue // read the split words as env's own
		}
		if len(todo) == 0 {
			break
		}
		prog := lookPath(todo[0].text, path)
		if prog == "" {
			break
		}
		progs = append(progs, program{todo[0].index, prog})
		if filepath.Base(prog) == "env" {
			todo = todo[1:]
			continue
		}
		if len(todo) > 1 && filepath.IsAbs(todo[1].text) && isInterpreter(filepath.Base(prog)) {
			progs = append(progs, program{todo[1].index, todo[1].text})
		}
		break
	}
	return progs
}

// envOptions skips env's options and VAR=value words at the start of words. It stops at
// a -S (--split-string) option and returns its string as split, the words after it as
// rest, for the caller to read the split words first. path is the PATH env will search,
// changed by -i and PATH=.
func envOptions(words []envWord, path string) (rest []envWord, split *envWord, newPath string) {
	for len(words) > 0 {
		w := words[0].text
		if w == "--" {
			words = words[1:]
			break
		}
		if w == "-" || !strings.HasPrefix(w, "-") {
			if w == "-" {
				path, words = execvpPath, words[1:]
				continue
			}
			break
		}
		takesArg, arg, isSplit, clears := envOption(w)
		if clears {
			path = execvpPath
		}
		if takesArg && arg == "" && len(words) > 1 {
			words = words[1:]
			arg = words[0].text
		}
		at := words[0].index
		words = words[1:]
		if isSplit {
			return words, &envWord{at, arg}, path
		}
	}
	for len(words) > 0 && strings.Contains(words[0].text, "=") {
		if v, ok := strings.CutPrefix(words[0].text, "PATH="); ok {
			path = v
		}
		words = words[1:]
	}
	return words, nil, path
}

// envOption reads one option word of env: whether it takes an argument, the argument
// when the word holds it ("-uNAME", "--unset=NAME"), whether it is -S, and whether it
// clears the environment (-i). Long options may be abbreviated, as getopt allows.
func envOption(w string) (takesArg bool, arg string, split, clears bool) {
	if long, ok := strings.CutPrefix(w, "--"); ok {
		name, value, hasValue := strings.Cut(long, "=")
		is := func(full string) bool { return name != "" && strings.HasPrefix(full, name) }
		switch {
		case is("split-string"):
			return !hasValue, value, true, false
		case is("unset"), is("chdir"):
			return !hasValue, value, false, false
		case is("ignore-environment"):
			return false, "", false, true
		}
		return false, "", false, false
	}
	for j := 1; j < len(w); j++ {
		switch w[j] {
		case 'i':
			clears = true
		case 'u', 'C', 'S':
			return w[j+1:] == "", w[j+1:], w[j] == 'S', clears
		}
	}
	return false, "", false, clears
}

// lookPath finds name as env (execvp) does: a name with a slash is the path itself, one
// without is looked for in each absolute directory of path, the first executable regular
// file winning. "" when it is nowhere, or relative (its directory is the hook's, unknown
// here; the program check skips a relative program the same way).
func lookPath(name, path string) string {
	if strings.Contains(name, "/") {
		if filepath.IsAbs(name) {
			return name
		}
		return ""
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// hookPath is the PATH an exec hook runs with: its env map's PATH, else the fixed one
// hooks get (hooks.DefaultBaseEnv; certferry's own PATH is never passed).
func hookPath(h config.Hook) string {
	if v, ok := h.Env["PATH"]; ok {
		return v.Reveal()
	}
	for _, kv := range hooks.DefaultBaseEnv {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return ""
}
