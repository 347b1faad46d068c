package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Event is the invocation payload. Every field is optional; an empty payload, {} and
// null all mean "one ordinary pass over every certificate".
//
//	{"force": false, "only": ["web"], "dry_run": false}
type Event struct {
	// Force renews every selected certificate whatever the plan says (the CLI's --force).
	Force bool `json:"force"`
	// Only selects certificates by name; empty selects all.
	Only []string `json:"only"`
	// DryRun plans and reports, and makes no write call and no ACME order.
	DryRun bool `json:"dry_run"`
}

// eventFields is what an unknown-field error suggests.
const eventFields = `"force" (bool), "only" (list of certificate names), "dry_run" (bool)`

// InvalidEventError is returned for a payload that is not an Event. Lambda reports it
// with errorType "InvalidEventError".
type InvalidEventError struct{ msg string }

func (e *InvalidEventError) Error() string { return e.msg }

// parseEvent decodes the payload strictly: unknown fields, wrong types and trailing data
// are refused with a message that names the field.
func parseEvent(payload []byte) (Event, error) {
	var ev Event
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || string(p) == "null" {
		return ev, nil
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return Event{}, &InvalidEventError{msg: "event: " + describeJSONError(err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Event{}, &InvalidEventError{msg: "event: trailing data after the JSON object"}
	}
	for i, name := range ev.Only {
		if strings.TrimSpace(name) == "" {
			return Event{}, &InvalidEventError{msg: fmt.Sprintf("event: only[%d]: empty certificate name", i)}
		}
	}
	return ev, nil
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		want := typeErr.Type.String()
		switch want {
		case "bool":
			want = "true or false"
		case "[]string":
			want = "a list of certificate names"
		case "string":
			want = "a string"
		case "main.Event":
			return fmt.Sprintf("want a JSON object with %s, got a JSON %s", eventFields, typeErr.Value)
		}
		field := typeErr.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Sprintf("%q: got a JSON %s, want %s", field, typeErr.Value, want)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("not JSON (offset %d): %s", syntaxErr.Offset, syntaxErr.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Sprintf("unknown field %s: the event takes only %s", rest, eventFields)
	}
	return strings.TrimPrefix(msg, "json: ")
}
