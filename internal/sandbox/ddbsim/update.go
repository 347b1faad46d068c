package ddbsim

import (
	"math/big"
	"slices"
	"strconv"
	"strings"
)

func itoa(n int) string { return strconv.Itoa(n) }

// action is one action of an UpdateExpression, applied to a copy of the item. The
// sandbox updates top-level attributes only; a nested path is refused plainly rather
// than half-done.
type action struct {
	clause string // SET, REMOVE, ADD, DELETE
	target string
	apply  func(old, item map[string]attr) *apiError
}

// parseUpdate parses an UpdateExpression: SET a = v, ... REMOVE a, ... ADD a :v, ...
// DELETE a :v, ..., each clause at most once; SET values are operands, operand + operand,
// operand - operand, if_not_exists(path, operand) and list_append(a, b).
func parseUpdate(src string, ph *placeholders) ([]action, *apiError) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, ph: ph}
	seen := map[string]bool{}
	var out []action
	for p.peek().kind != tEOF {
		t := p.next()
		clause := strings.ToUpper(t.text)
		if t.kind != tName || !slices.Contains([]string{"SET", "REMOVE", "ADD", "DELETE"}, clause) {
			return nil, syntaxError(src, t.pos)
		}
		if seen[clause] {
			return nil, validation("Invalid UpdateExpression: The \"%s\" section can only be used once in an update expression;", clause)
		}
		seen[clause] = true
		for {
			a, err := p.updateAction(clause)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
			if !p.accept(tPunct, ",") {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, syntaxError(src, 0)
	}
	targets := map[string]bool{}
	for _, a := range out {
		if targets[a.target] {
			return nil, validation("Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]", a.target, a.target)
		}
		targets[a.target] = true
	}
	return out, nil
}

func (p *parser) topLevel() (string, *apiError) {
	pa, err := p.parsePath()
	if err != nil {
		return "", err
	}
	if len(pa) != 1 {
		return "", validation("sandbox: UpdateExpression on a nested path (%s) is not supported", pa)
	}
	return pa[0].key, nil
}

func (p *parser) updateAction(clause string) (action, *apiError) {
	target, err := p.topLevel()
	if err != nil {
		return action{}, err
	}
	a := action{clause: clause, target: target}
	switch clause {
	case "REMOVE":
		a.apply = func(_, item map[string]attr) *apiError { delete(item, target); return nil }
	case "SET":
		if err := p.expect(tCmp, "="); err != nil {
			return action{}, err
		}
		v, err := p.setValue()
		if err != nil {
			return action{}, err
		}
		a.apply = func(old, item map[string]attr) *apiError {
			val, err := v(old)
			if err == nil {
				item[target] = val
			}
			return err
		}
	default: // ADD, DELETE
		t := p.next()
		if t.kind != tValuePH {
			return action{}, syntaxError(p.src, t.pos)
		}
		v, err := p.ph.value(t.text)
		if err != nil {
			return action{}, err
		}
		a.apply = func(_, item map[string]attr) *apiError { return addOrDelete(clause, item, target, v) }
	}
	return a, nil
}

type valueFn func(old map[string]attr) (attr, *apiError)

func (p *parser) setValue() (valueFn, *apiError) {
	left, err := p.setOperand()
	if err != nil {
		return nil, err
	}
	var sign int
	switch {
	case p.accept(tPunct, "+"):
		sign = 1
	case p.accept(tPunct, "-"):
		sign = -1
	default:
		return left, nil
	}
	right, err := p.setOperand()
	if err != nil {
		return nil, err
	}
	return func(old map[string]attr) (attr, *apiError) {
		a, err := left(old)
		if err != nil {
			return attr{}, err
		}
		b, err := right(old)
		if err != nil {
			return attr{}, err
		}
		if a.kind != "N" || b.kind != "N" {
			return attr{}, validation("An operand in the update expression has an incorrect data type")
		}
		r := number(b.s)
		if sign < 0 {
			r.Neg(r)
		}
		return attr{kind: "N", s: ratString(r.Add(r, number(a.s)))}, nil
	}, nil
}

// setOperand is a path (read from the item as it was before the update), a :value,
// if_not_exists(path, operand) or list_append(operand, operand).
func (p *parser) setOperand() (valueFn, *apiError) {
	t := p.peek()
	if t.kind == tValuePH {
		p.next()
		v, err := p.ph.value(t.text)
		if err != nil {
			return nil, err
		}
		return func(map[string]attr) (attr, *apiError) { return v, nil }, nil
	}
	if t.kind == tName && p.toks[p.i+1].text == "(" {
		return p.setFunction()
	}
	pa, err := p.parsePath()
	if err != nil {
		return nil, err
	}
	return func(old map[string]attr) (attr, *apiError) {
		v, ok := resolve(old, pa)
		if !ok {
			return attr{}, validation("The provided expression refers to an attribute that does not exist in the item")
		}
		return v, nil
	}, nil
}

func (p *parser) setFunction() (valueFn, *apiError) {
	name := strings.ToLower(p.next().text)
	p.next() // (
	switch name {
	case "if_not_exists":
		pa, err := p.parsePath()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, ","); err != nil {
			return nil, err
		}
		def, err := p.setOperand()
		if err != nil {
			return nil, err
		}
		return func(old map[string]attr) (attr, *apiError) {
			if v, ok := resolve(old, pa); ok {
				return v, nil
			}
			return def(old)
		}, p.expect(tPunct, ")")
	case "list_append":
		a, err := p.setOperand()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, ","); err != nil {
			return nil, err
		}
		b, err := p.setOperand()
		if err != nil {
			return nil, err
		}
		return func(old map[string]attr) (attr, *apiError) {
			x, err := a(old)
			if err != nil {
				return attr{}, err
			}
			y, err := b(old)
			if err != nil {
				return attr{}, err
			}
			if x.kind != "L" || y.kind != "L" {
				return attr{}, validation("Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append")
			}
			return attr{kind: "L", list: append(slices.Clone(x.list), y.list...)}, nil
		}, p.expect(tPunct, ")")
	}
	return nil, validation("Invalid UpdateExpression: Invalid function name; function: %s", name)
}

// addOrDelete applies ADD (a number added, or members added to a set; a missing
// attribute starts at zero or the empty set) and DELETE (members removed from a set).
func addOrDelete(clause string, item map[string]attr, target string, v attr) *apiError {
	cur, ok := item[target]
	if clause == "ADD" && v.kind == "N" {
		if ok && cur.kind != "N" {
			return validation("An operand in the update expression has an incorrect data type")
		}
		sum := number(v.s)
		if ok {
			sum.Add(sum, number(cur.s))
		}
		item[target] = attr{kind: "N", s: ratString(sum)}
		return nil
	}
	if v.kind != "SS" && v.kind != "NS" && v.kind != "BS" {
		return validation("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: %s, operand type: %s", clause, v.kind)
	}
	if ok && cur.kind != v.kind {
		return validation("An operand in the update expression has an incorrect data type")
	}
	var members []string
	if ok {
		members = slices.Clone(cur.set)
	}
	for _, m := range v.set {
		i := slices.IndexFunc(members, func(n string) bool { return memberEqual(v.kind, m, n) })
		switch {
		case clause == "ADD" && i < 0:
			members = append(members, m)
		case clause == "DELETE" && i >= 0:
			members = slices.Delete(members, i, i+1)
		}
	}
	if len(members) == 0 {
		delete(item, target) // a set is never empty: DELETE of the last member removes it
		return nil
	}
	item[target] = attr{kind: v.kind, set: members}
	return nil
}

// ratString writes a number as DynamoDB returns it: an integer plainly, else a decimal.
func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return strings.TrimRight(strings.TrimRight(r.FloatString(38), "0"), ".")
}
