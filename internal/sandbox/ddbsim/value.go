package ddbsim

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// attr is one DynamoDB AttributeValue, decoded. kind is the wire's type key (S, N, B,
// BOOL, NULL, SS, NS, BS, L, M); s holds an S or N as sent and a B's bytes; set the
// members of SS, NS and BS (BS members as raw bytes).
type attr struct {
	kind string
	s    string
	b    bool
	set  []string
	list []attr
	m    map[string]attr
}

// parseAttr decodes one AttributeValue ({"S": "x"}), checking what AWS checks: exactly
// one type key, numbers that parse, non-empty sets without repeats.
func parseAttr(raw json.RawMessage) (attr, *apiError) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || len(obj) != 1 {
		return attr{}, validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	}
	for kind, v := range obj {
		return parseKind(kind, v)
	}
	panic("unreachable")
}

func parseKind(kind string, v json.RawMessage) (attr, *apiError) {
	a := attr{kind: kind}
	bad := validation("Supplied AttributeValue has an invalid %s value", kind)
	switch kind {
	case "S":
		if json.Unmarshal(v, &a.s) != nil {
			return attr{}, bad
		}
	case "N":
		if json.Unmarshal(v, &a.s) != nil || !validNumber(a.s) {
			return attr{}, validation("The parameter cannot be converted to a numeric value: %s", string(v))
		}
	case "B":
		var enc string
		if json.Unmarshal(v, &enc) != nil {
			return attr{}, bad
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return attr{}, bad
		}
		a.s = string(b)
	case "BOOL":
		if json.Unmarshal(v, &a.b) != nil {
			return attr{}, bad
		}
	case "NULL":
		if json.Unmarshal(v, &a.b) != nil || !a.b {
			return attr{}, validation("One or more parameter values were invalid: Null attribute value types must have the value of true")
		}
	case "SS", "NS", "BS":
		return parseSet(kind, v)
	case "L":
		var raws []json.RawMessage
		if json.Unmarshal(v, &raws) != nil {
			return attr{}, bad
		}
		a.list = make([]attr, 0, len(raws))
		for _, r := range raws {
			e, err := parseAttr(r)
			if err != nil {
				return attr{}, err
			}
			a.list = append(a.list, e)
		}
	case "M":
		m, err := parseItem(v)
		if err != nil {
			return attr{}, err
		}
		a.m = m
	default:
		return attr{}, validation("Supplied AttributeValue has an unknown data type: %s", kind)
	}
	return a, nil
}

func parseSet(kind string, v json.RawMessage) (attr, *apiError) {
	a := attr{kind: kind}
	if json.Unmarshal(v, &a.set) != nil {
		return attr{}, validation("Supplied AttributeValue has an invalid %s value", kind)
	}
	if len(a.set) == 0 {
		return attr{}, validation("One or more parameter values were invalid: An string set  may not be empty")
	}
	for i, m := range a.set {
		switch kind {
		case "NS":
			if !validNumber(m) {
				return attr{}, validation("The parameter cannot be converted to a numeric value: %s", m)
			}
		case "BS":
			b, err := base64.StdEncoding.DecodeString(m)
			if err != nil {
				return attr{}, validation("Supplied AttributeValue has an invalid BS value")
			}
			a.set[i] = string(b)
		}
	}
	for i := range a.set {
		for j := range i {
			if memberEqual(kind, a.set[i], a.set[j]) {
				return attr{}, validation("One or more parameter values were invalid: Input collection contains duplicates")
			}
		}
	}
	return a, nil
}

// parseItem decodes a map of attribute names to AttributeValues (an Item, a Key, an M).
func parseItem(raw json.RawMessage) (map[string]attr, *apiError) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, validation("Supplied item is not a map of attribute values")
	}
	out := make(map[string]attr, len(obj))
	for k, v := range obj {
		a, err := parseAttr(v)
		if err != nil {
			return nil, err
		}
		out[k] = a
	}
	return out, nil
}

// MarshalJSON writes the AttributeValue back in the wire's shape.
func (a attr) MarshalJSON() ([]byte, error) {
	var v any
	switch a.kind {
	case "S", "N":
		v = a.s
	case "B":
		v = base64.StdEncoding.EncodeToString([]byte(a.s))
	case "BOOL", "NULL":
		v = a.b
	case "SS", "NS":
		v = a.set
	case "BS":
		enc := make([]string, len(a.set))
		for i, m := range a.set {
			enc[i] = base64.StdEncoding.EncodeToString([]byte(m))
		}
		v = enc
	case "L":
		v = a.list
	case "M":
		v = a.m
	}
	return json.Marshal(map[string]any{a.kind: v})
}

// validNumber accepts DynamoDB's numbers: a decimal with an optional exponent.
func validNumber(s string) bool {
	if s == "" || strings.ContainsAny(s, "xXpP_/") {
		return false
	}
	_, ok := new(big.Rat).SetString(s)
	return ok
}

func number(s string) *big.Rat {
	r, _ := new(big.Rat).SetString(s)
	return r
}

// compare orders two values of one scalar type (S by code points, as UTF-8 bytes sort;
// N numerically; B bytewise). ok is false when the types differ or are not scalars:
// such a comparison is false in a condition, never an error.
func compare(a, b attr) (c int, ok bool) {
	if a.kind != b.kind {
		return 0, false
	}
	switch a.kind {
	case "S", "B":
		return strings.Compare(a.s, b.s), true
	case "N":
		return number(a.s).Cmp(number(b.s)), true
	}
	return 0, false
}

func memberEqual(kind, a, b string) bool {
	if kind == "NS" {
		return number(a).Cmp(number(b)) == 0
	}
	return a == b
}

// equal is DynamoDB's "=": same type and same value; sets compare as sets.
func equal(a, b attr) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case "S", "B":
		return a.s == b.s
	case "N":
		return number(a.s).Cmp(number(b.s)) == 0
	case "BOOL", "NULL":
		return a.b == b.b
	case "SS", "NS", "BS":
		if len(a.set) != len(b.set) {
			return false
		}
		for _, m := range a.set {
			if !slices.ContainsFunc(b.set, func(n string) bool { return memberEqual(a.kind, m, n) }) {
				return false
			}
		}
		return true
	case "L":
		return slices.EqualFunc(a.list, b.list, equal)
	case "M":
		if len(a.m) != len(b.m) {
			return false
		}
		for k, v := range a.m {
			w, ok := b.m[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// size is the size() function: characters of an S, bytes of a B, members of a set, list
// or map. ok is false for other types.
func size(a attr) (int, bool) {
	switch a.kind {
	case "S":
		return utf8.RuneCountInString(a.s), true
	case "B":
		return len(a.s), true
	case "SS", "NS", "BS":
		return len(a.set), true
	case "L":
		return len(a.list), true
	case "M":
		return len(a.m), true
	}
	return 0, false
}

// itemSize approximates DynamoDB's item size: names plus values, for the 400 KB limit.
func itemSize(item map[string]attr) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(a attr) int {
	switch a.kind {
	case "L":
		n := 3
		for _, e := range a.list {
			n += 1 + valueSize(e)
		}
		return n
	case "M":
		return 3 + itemSize(a.m)
	}
	n := len(a.s) + 1
	for _, m := range a.set {
		n += len(m)
	}
	return n
}

// keyString is the canonical form of a key attribute, for the table's index.
func keyString(a attr) string {
	if a.kind == "N" {
		return "N" + number(a.s).RatString()
	}
	return a.kind + a.s
}

func copyItem(item map[string]attr) map[string]attr {
	if item == nil {
		return nil
	}
	out := make(map[string]attr, len(item))
	for k, v := range item {
		out[k] = v
	}
	return out
}

// sortedNames returns the keys of a map in order, for stable messages.
func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
