package ddbsim

import (
	"testing"
)

// FuzzExpressions: any condition or update expression parses to an answer (a function
// or a ValidationException), never a panic, and evaluating a parsed condition against
// an item never panics either.
func FuzzExpressions(f *testing.F) {
	for _, s := range []string{
		"attribute_not_exists(#k) OR #e < :now",
		"#h = :h AND #g = :g",
		"NOT (a.b[3] BETWEEN :x AND :y) OR size(l) IN (:x, :y)",
		"begins_with(#h, :x) AND contains(l, :y) AND attribute_type(a, :t)",
		"SET #h = :h, #e = :e, #g = if_not_exists(#g, :x) + :y REMOVE a ADD s :y DELETE s :y",
		"SET l = list_append(l, :l)",
		"((((", "a[99999999999999999999] = :x", ":", "#", "a <> <> b",
	} {
		f.Add(s)
	}
	item := map[string]attr{
		"key": {kind: "S", s: "k"}, "a": {kind: "M", m: map[string]attr{"b": {kind: "L", list: []attr{{kind: "N", s: "1"}}}}},
		"l": {kind: "L", list: []attr{{kind: "S", s: "x"}}}, "s": {kind: "SS", set: []string{"x"}}, "#h": {kind: "S", s: "h"},
	}
	f.Fuzz(func(t *testing.T, src string) {
		names := map[string]string{"#k": "key", "#h": "holder", "#e": "expires", "#g": "generation"}
		values := map[string]attr{
			":now": {kind: "N", s: "100"}, ":h": {kind: "S", s: "h"}, ":g": {kind: "N", s: "1"}, ":e": {kind: "N", s: "2"},
			":x": {kind: "N", s: "0"}, ":y": {kind: "SS", set: []string{"y"}}, ":t": {kind: "S", s: "M"}, ":l": {kind: "L"},
		}
		if c, err := parseCondition(src, newPlaceholders(names, values)); err == nil {
			c(item)
			c(nil)
		}
		if actions, err := parseUpdate(src, newPlaceholders(names, values)); err == nil {
			out := copyItem(item)
			for _, a := range actions {
				_ = a.apply(item, out)
			}
		}
	})
}
