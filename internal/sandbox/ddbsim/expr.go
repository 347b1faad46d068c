package ddbsim

import (
	"strconv"
	"strings"
)

// The expression language of ConditionExpression and UpdateExpression, as AWS documents
// it ("Condition and filter expressions, operators, and functions"; "Update
// expressions"). Attribute names in expressions are either plain names or #placeholders
// from ExpressionAttributeNames; values are always :placeholders from
// ExpressionAttributeValues. Every placeholder supplied must be used, and every one used
// must be supplied, or the request is a ValidationException, as on AWS.

type tokKind int

const (
	tEOF tokKind = iota
	tName
	tNamePH  // #name
	tValuePH // :value
	tInt     // a list index inside [ ]
	tPunct   // ( ) , . [ ] + -
	tCmp     // = <> < <= > >=
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(src string) ([]token, *apiError) {
	var out []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == ':':
			j := i + 1
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, syntaxError(src, i)
			}
			k := tNamePH
			if c == ':' {
				k = tValuePH
			}
			out = append(out, token{k, src[i:j], i})
			i = j
		case isDigit(c):
			j := i
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			out = append(out, token{tInt, src[i:j], i})
			i = j
		case isWordByte(c):
			j := i
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			out = append(out, token{tName, src[i:j], i})
			i = j
		case strings.IndexByte("(),.[]+-", c) >= 0:
			out = append(out, token{tPunct, src[i : i+1], i})
			i++
		case c == '=':
			out = append(out, token{tCmp, "=", i})
			i++
		case c == '<' || c == '>':
			j := i + 1
			if j < len(src) && (src[j] == '=' || (c == '<' && src[j] == '>')) {
				j++
			}
			out = append(out, token{tCmp, src[i:j], i})
			i = j
		default:
			return nil, syntaxError(src, i)
		}
	}
	return append(out, token{tEOF, "", len(src)}), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWordByte(c byte) bool {
	return c == '_' || isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func syntaxError(src string, pos int) *apiError {
	near := src[pos:]
	if len(near) > 10 {
		near = near[:10]
	}
	return validation("Invalid expression: Syntax error; token: %q, near: %q", strings.TrimSpace(near), near)
}

// placeholders resolves #names and :values and records which were used.
type placeholders struct {
	names      map[string]string
	values     map[string]attr
	usedNames  map[string]bool
	usedValues map[string]bool
}

func newPlaceholders(names map[string]string, values map[string]attr) *placeholders {
	return &placeholders{names: names, values: values, usedNames: map[string]bool{}, usedValues: map[string]bool{}}
}

func (p *placeholders) name(ph string) (string, *apiError) {
	n, ok := p.names[ph]
	if !ok {
		return "", validation("Value provided in ExpressionAttributeNames unused in expressions or an expression attribute name used in the document path is not defined; attribute name: %s", ph)
	}
	p.usedNames[ph] = true
	return n, nil
}

func (p *placeholders) value(ph string) (attr, *apiError) {
	v, ok := p.values[ph]
	if !ok {
		return attr{}, validation("Invalid expression: An expression attribute value used in expression is not defined; attribute value: %s", ph)
	}
	p.usedValues[ph] = true
	return v, nil
}

// checkAllUsed fails when a supplied placeholder appears in no expression.
func (p *placeholders) checkAllUsed() *apiError {
	var unusedNames, unusedValues []string
	for _, k := range sortedNames(p.names) {
		if !p.usedNames[k] {
			unusedNames = append(unusedNames, k)
		}
	}
	for _, k := range sortedNames(p.values) {
		if !p.usedValues[k] {
			unusedValues = append(unusedValues, k)
		}
	}
	if len(unusedNames) > 0 {
		return validation("Value provided in ExpressionAttributeNames unused in expressions: keys: {%s}", strings.Join(unusedNames, ", "))
	}
	if len(unusedValues) > 0 {
		return validation("Value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", strings.Join(unusedValues, ", "))
	}
	return nil
}

// parser walks the tokens of one expression.
type parser struct {
	src  string
	toks []token
	i    int
	ph   *placeholders
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) fail() *apiError { return syntaxError(p.src, p.peek().pos) }

func (p *parser) accept(kind tokKind, text string) bool {
	t := p.peek()
	if t.kind == kind && (text == "" || strings.EqualFold(t.text, text)) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(kind tokKind, text string) *apiError {
	if !p.accept(kind, text) {
		return p.fail()
	}
	return nil
}

// pathElem is one step of a document path: a map key, or a list index when key is "".
type pathElem struct {
	key   string
	index int
}

type path []pathElem

func (p path) String() string {
	var b strings.Builder
	for i, e := range p {
		switch {
		case e.key == "":
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
		case i > 0:
			b.WriteString("." + e.key)
		default:
			b.WriteString(e.key)
		}
	}
	return b.String()
}

// parsePath reads name(.name | [n])*, resolving #placeholders. A plain name that is a
// reserved word is refused, as on AWS.
func (p *parser) parsePath() (path, *apiError) {
	first, err := p.pathName()
	if err != nil {
		return nil, err
	}
	out := path{{key: first}}
	for {
		switch {
		case p.accept(tPunct, "."):
			n, err := p.pathName()
			if err != nil {
				return nil, err
			}
			out = append(out, pathElem{key: n})
		case p.accept(tPunct, "["):
			t := p.next()
			if t.kind != tInt {
				return nil, syntaxError(p.src, t.pos)
			}
			n, err := strconv.Atoi(t.text)
			if err != nil {
				return nil, syntaxError(p.src, t.pos)
			}
			if err := p.expect(tPunct, "]"); err != nil {
				return nil, err
			}
			out = append(out, pathElem{index: n})
		default:
			return out, nil
		}
	}
}

func (p *parser) pathName() (string, *apiError) {
	t := p.next()
	switch t.kind {
	case tNamePH:
		return p.ph.name(t.text)
	case tName:
		if isDigit(t.text[0]) {
			return "", syntaxError(p.src, t.pos)
		}
		if reserved[strings.ToUpper(t.text)] {
			return "", validation("Invalid expression: Attribute name is a reserved keyword; reserved keyword: %s", t.text)
		}
		return t.text, nil
	}
	return "", syntaxError(p.src, t.pos)
}

// reserved is a subset of DynamoDB's reserved words: the expression keywords and the
// words a lease or certificate table is likely to use as attribute names. An
// expression naming one of them directly is refused as on AWS; the full list is
// longer, so code should use #placeholders for every name, as certferry does.
var reserved = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "BETWEEN": true, "IN": true,
	"KEY": true, "NAME": true, "STATUS": true, "VALUE": true, "DATA": true, "DATE": true,
	"TIME": true, "TIMESTAMP": true, "TTL": true, "USER": true, "OWNER": true,
	"COUNT": true, "SIZE": true, "LOCK": true,
	"DOMAIN": true, "TABLE": true, "SET": true, "REMOVE": true, "ADD": true, "DELETE": true,
	"UPDATE": true, "HASH": true, "RANGE": true, "TYPE": true,
}

// resolve finds the value at a path in an item; ok is false when there is none.
func resolve(item map[string]attr, p path) (attr, bool) {
	cur, ok := item[p[0].key]
	if !ok {
		return attr{}, false
	}
	for _, e := range p[1:] {
		switch {
		case e.key != "" && cur.kind == "M":
			if cur, ok = cur.m[e.key]; !ok {
				return attr{}, false
			}
		case e.key == "" && cur.kind == "L":
			if e.index >= len(cur.list) {
				return attr{}, false
			}
			cur = cur.list[e.index]
		default:
			return attr{}, false
		}
	}
	return cur, true
}
