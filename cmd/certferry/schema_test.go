package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// validateStatusSchema checks out, a `status --output json` document, against the
// schema the repository documents (docs/status.schema.json).
func validateStatusSchema(t *testing.T, out []byte) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join("..", "..", "docs", "status.schema.json"))
	if err != nil {
		t.Fatalf("status schema: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("status output: %v\n%s", err, out)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("status output does not match docs/status.schema.json: %v\n%s", err, out)
	}
}

// TestStatusSchemaRejects: the schema is strict enough to catch a wrong document.
func TestStatusSchemaRejects(t *testing.T) {
	t.Parallel()
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join("..", "..", "docs", "status.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{}`,
		`{"version": 1, "generated_at": "2026-01-01T00:00:00Z", "failing": 0, "certificates": [{"name": "x"}]}`,
		`{"version": 1, "generated_at": "2026-01-01T00:00:00Z", "failing": 0, "certificates": [{"name": "x", "domains": [], "condition": "fine", "ready": "True", "reason": "not-due", "due": false, "attempts": 0, "hooks_pending": 0, "sinks": []}]}`,
	} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(bad)))
		if err != nil {
			t.Fatal(err)
		}
		if sch.Validate(doc) == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
}
