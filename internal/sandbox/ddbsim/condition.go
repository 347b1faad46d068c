package ddbsim

import (
	"strings"
)

// cond is a parsed ConditionExpression, evaluated against an item (nil: no item).
type cond func(item map[string]attr) bool

// operand is a path, a :value or size(path), evaluated against an item; ok is false
// when a path resolves to nothing (or size of a type without one).
type operand struct {
	eval    func(item map[string]attr) (attr, bool)
	literal *attr // set for a :value, whose type is checked when parsed
}

// parseCondition parses a ConditionExpression. Precedence, lowest first: OR, AND, NOT,
// then comparisons, BETWEEN, IN and functions; parentheses group.
func parseCondition(src string, ph *placeholders) (cond, *apiError) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, ph: ph}
	c, err := p.orCond()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, p.fail()
	}
	return c, nil
}

func (p *parser) orCond() (cond, *apiError) {
	left, err := p.andCond()
	if err != nil {
		return nil, err
	}
	for p.accept(tName, "OR") {
		right, err := p.andCond()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(it map[string]attr) bool { return l(it) || right(it) }
	}
	return left, nil
}

func (p *parser) andCond() (cond, *apiError) {
	left, err := p.notCond()
	if err != nil {
		return nil, err
	}
	for p.accept(tName, "AND") {
		right, err := p.notCond()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(it map[string]attr) bool { return l(it) && right(it) }
	}
	return left, nil
}

func (p *parser) notCond() (cond, *apiError) {
	if p.accept(tName, "NOT") {
		c, err := p.notCond()
		if err != nil {
			return nil, err
		}
		return func(it map[string]attr) bool { return !c(it) }, nil
	}
	return p.predicate()
}

func (p *parser) predicate() (cond, *apiError) {
	if p.accept(tPunct, "(") {
		c, err := p.orCond()
		if err != nil {
			return nil, err
		}
		return c, p.expect(tPunct, ")")
	}
	if t := p.peek(); t.kind == tName && p.toks[p.i+1].text == "(" && !strings.EqualFold(t.text, "size") {
		return p.function()
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	switch {
	case p.peek().kind == tCmp:
		return p.comparison(left)
	case p.accept(tName, "BETWEEN"):
		return p.between(left)
	case p.accept(tName, "IN"):
		return p.in(left)
	}
	return nil, p.fail()
}

func (p *parser) operand() (operand, *apiError) {
	t := p.peek()
	switch {
	case t.kind == tValuePH:
		p.next()
		v, err := p.ph.value(t.text)
		if err != nil {
			return operand{}, err
		}
		return operand{eval: func(map[string]attr) (attr, bool) { return v, true }, literal: &v}, nil
	case t.kind == tName && strings.EqualFold(t.text, "size") && p.toks[p.i+1].text == "(":
		p.next()
		p.next()
		pa, err := p.parsePath()
		if err != nil {
			return operand{}, err
		}
		return operand{eval: func(it map[string]attr) (attr, bool) {
			v, ok := resolve(it, pa)
			if !ok {
				return attr{}, false
			}
			n, ok := size(v)
			return attr{kind: "N", s: itoa(n)}, ok
		}}, p.expect(tPunct, ")")
	}
	pa, err := p.parsePath()
	if err != nil {
		return operand{}, err
	}
	return operand{eval: func(it map[string]attr) (attr, bool) { return resolve(it, pa) }}, nil
}

// checkOrdered refuses a :value of a type that has no order, as AWS does when it
// parses the expression (an attribute of such a type only makes the comparison false).
func checkOrdered(op string, o operand) *apiError {
	if o.literal != nil && o.literal.kind != "S" && o.literal.kind != "N" && o.literal.kind != "B" {
		return validation("Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: %s, operand type: %s", op, o.literal.kind)
	}
	return nil
}

func (p *parser) comparison(left operand) (cond, *apiError) {
	op := p.next().text
	right, err := p.operand()
	if err != nil {
		return nil, err
	}
	if op != "=" && op != "<>" {
		if err := checkOrdered(op, left); err != nil {
			return nil, err
		}
		if err := checkOrdered(op, right); err != nil {
			return nil, err
		}
	}
	return func(it map[string]attr) bool {
		a, okA := left.eval(it)
		b, okB := right.eval(it)
		switch op {
		case "=":
			return okA && okB && equal(a, b)
		case "<>":
			// A missing attribute, or one of another type, is not equal.
			return !(okA && okB && equal(a, b))
		}
		if !okA || !okB {
			return false
		}
		c, ok := compare(a, b)
		if !ok {
			return false
		}
		switch op {
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		default:
			return c >= 0
		}
	}, nil
}

func (p *parser) between(x operand) (cond, *apiError) {
	lo, err := p.operand()
	if err != nil {
		return nil, err
	}
	if err := p.expect(tName, "AND"); err != nil {
		return nil, err
	}
	hi, err := p.operand()
	if err != nil {
		return nil, err
	}
	for _, o := range []operand{x, lo, hi} {
		if err := checkOrdered("BETWEEN", o); err != nil {
			return nil, err
		}
	}
	if lo.literal != nil && hi.literal != nil {
		if c, ok := compare(*lo.literal, *hi.literal); ok && c > 0 {
			return nil, validation("Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound")
		}
	}
	return func(it map[string]attr) bool {
		v, ok1 := x.eval(it)
		l, ok2 := lo.eval(it)
		h, ok3 := hi.eval(it)
		if !ok1 || !ok2 || !ok3 {
			return false
		}
		c1, ok1 := compare(l, v)
		c2, ok2 := compare(v, h)
		return ok1 && ok2 && c1 <= 0 && c2 <= 0
	}, nil
}

func (p *parser) in(x operand) (cond, *apiError) {
	if err := p.expect(tPunct, "("); err != nil {
		return nil, err
	}
	var list []operand
	for {
		o, err := p.operand()
		if err != nil {
			return nil, err
		}
		list = append(list, o)
		if !p.accept(tPunct, ",") {
			break
		}
	}
	if len(list) > 100 {
		return nil, validation("Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: %d", len(list))
	}
	return func(it map[string]attr) bool {
		v, ok := x.eval(it)
		if !ok {
			return false
		}
		for _, o := range list {
			if w, ok := o.eval(it); ok && equal(v, w) {
				return true
			}
		}
		return false
	}, p.expect(tPunct, ")")
}

var attributeTypes = map[string]bool{"S": true, "SS": true, "N": true, "NS": true, "B": true, "BS": true, "BOOL": true, "NULL": true, "L": true, "M": true}

// function parses attribute_exists, attribute_not_exists, attribute_type, begins_with
// and contains.
func (p *parser) function() (cond, *apiError) {
	name := strings.ToLower(p.next().text)
	p.next() // (
	pa, err := p.parsePath()
	if err != nil {
		return nil, err
	}
	var arg operand
	switch name {
	case "attribute_exists", "attribute_not_exists":
	case "attribute_type", "begins_with", "contains":
		if err := p.expect(tPunct, ","); err != nil {
			return nil, err
		}
		if arg, err = p.operand(); err != nil {
			return nil, err
		}
	default:
		return nil, validation("Invalid ConditionExpression: Invalid function name; function: %s", name)
	}
	if err := p.expect(tPunct, ")"); err != nil {
		return nil, err
	}
	if name == "attribute_type" && (arg.literal == nil || arg.literal.kind != "S" || !attributeTypes[arg.literal.s]) {
		return nil, validation("Invalid ConditionExpression: Invalid attribute type name found; type: %s", typeName(arg))
	}
	return func(it map[string]attr) bool {
		v, ok := resolve(it, pa)
		switch name {
		case "attribute_exists":
			return ok
		case "attribute_not_exists":
			return !ok
		}
		w, okW := arg.eval(it)
		if !ok || !okW {
			return false
		}
		switch name {
		case "attribute_type":
			return v.kind == w.s
		case "begins_with":
			return (v.kind == "S" || v.kind == "B") && w.kind == v.kind && strings.HasPrefix(v.s, w.s)
		default:
			return contains(v, w)
		}
	}, nil
}

func typeName(o operand) string {
	if o.literal == nil {
		return "path"
	}
	if o.literal.kind == "S" {
		return o.literal.s
	}
	return o.literal.kind
}

func contains(v, w attr) bool {
	switch v.kind {
	case "S":
		return w.kind == "S" && strings.Contains(v.s, w.s)
	case "SS", "NS", "BS":
		elem := map[string]string{"SS": "S", "NS": "N", "BS": "B"}[v.kind]
		if w.kind != elem {
			return false
		}
		for _, m := range v.set {
			if memberEqual(v.kind, m, w.s) {
				return true
			}
		}
	case "L":
		for _, e := range v.list {
			if equal(e, w) {
				return true
			}
		}
	}
	return false
}
