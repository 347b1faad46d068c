package docsteps

import (
	"slices"
	"testing"
)

func TestSteps(t *testing.T) {
	doc := []byte("# T\n\n## Run\n\nText.\n\n```sh\nmake x            # build\naws y --name /a \\\n    --value file://c.yaml   # put\n\naws z --payload '{\"dry_run\":true}'\n```\n\n```sh\nnot this\n```\n")
	steps, err := Steps(doc, "## Run")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"make x", "aws y --name /a --value file://c.yaml", `aws z --payload '{"dry_run":true}'`}
	if !slices.Equal(steps, want) {
		t.Fatalf("steps = %q, want %q", steps, want)
	}
	if i, s := Find(steps, "aws y"); i != 1 || FlagValue(s, "name") != "/a" || FlagValue(s, "value") != "file://c.yaml" || FlagValue(s, "nope") != "" {
		t.Errorf("Find/FlagValue: %d %q", i, s)
	}
	if got := FlagValue(steps[2], "payload"); got != `{"dry_run":true}` {
		t.Errorf("payload = %q", got)
	}
	for _, bad := range []string{"no heading", "## Run\nno block", "## Run\n```sh\nunclosed"} {
		if _, err := Steps([]byte("\n"+bad), "## Run"); err == nil {
			t.Errorf("Steps(%q): no error", bad)
		}
	}
}
