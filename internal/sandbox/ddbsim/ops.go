package ddbsim

import (
	"encoding/json"
	"net/http"
	"strings"
)

type keySchemaElem struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type attrDef struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

type tableDesc struct {
	TableName             string          `json:"TableName"`
	TableArn              string          `json:"TableArn"`
	TableId               string          `json:"TableId"`
	TableStatus           string          `json:"TableStatus"`
	CreationDateTime      epoch           `json:"CreationDateTime"`
	KeySchema             []keySchemaElem `json:"KeySchema"`
	AttributeDefinitions  []attrDef       `json:"AttributeDefinitions"`
	ItemCount             int             `json:"ItemCount"`
	TableSizeBytes        int             `json:"TableSizeBytes"`
	BillingModeSummary    map[string]any  `json:"BillingModeSummary"`
	ProvisionedThroughput map[string]int  `json:"ProvisionedThroughput"`
}

func (t *table) describe() tableDesc {
	d := tableDesc{
		TableName: t.name, TableArn: t.arn, TableId: t.id, TableStatus: "ACTIVE", CreationDateTime: epoch(t.created),
		KeySchema:             []keySchemaElem{{t.hash.name, "HASH"}},
		AttributeDefinitions:  []attrDef{{t.hash.name, t.hash.kind}},
		ItemCount:             len(t.items),
		BillingModeSummary:    map[string]any{"BillingMode": "PAY_PER_REQUEST"},
		ProvisionedThroughput: map[string]int{"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
	}
	if t.rng != nil {
		d.KeySchema = append(d.KeySchema, keySchemaElem{t.rng.name, "RANGE"})
		d.AttributeDefinitions = append(d.AttributeDefinitions, attrDef{t.rng.name, t.rng.kind})
	}
	for _, it := range t.items {
		d.TableSizeBytes += itemSize(it)
	}
	return d
}

func (s *Service) createTable(body []byte) (any, *apiError) {
	var in struct {
		TableName            string          `json:"TableName"`
		KeySchema            []keySchemaElem `json:"KeySchema"`
		AttributeDefinitions []attrDef       `json:"AttributeDefinitions"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validTableName(in.TableName); err != nil {
		return nil, err
	}
	defs := map[string]string{}
	for _, d := range in.AttributeDefinitions {
		if d.AttributeType != "S" && d.AttributeType != "N" && d.AttributeType != "B" {
			return nil, validation("Member must satisfy enum value set: [B, N, S]")
		}
		defs[d.AttributeName] = d.AttributeType
	}
	var hash keyDef
	var rng *keyDef
	for i, k := range in.KeySchema {
		kind, ok := defs[k.AttributeName]
		if !ok {
			return nil, validation("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s]", k.AttributeName)
		}
		switch {
		case i == 0 && k.KeyType == "HASH":
			hash = keyDef{k.AttributeName, kind}
		case i == 1 && k.KeyType == "RANGE":
			rng = &keyDef{k.AttributeName, kind}
		default:
			return nil, validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
		}
	}
	if hash.name == "" {
		return nil, validation("1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null")
	}
	if len(defs) != len(in.KeySchema) {
		return nil, validation("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tables[in.TableName]; ok {
		return nil, &apiError{code: nsDynamoDB + "ResourceInUseException", msg: "Table already exists: " + in.TableName, status: http.StatusBadRequest}
	}
	t := s.newTable(in.TableName, hash, rng)
	s.tables[in.TableName] = t
	return map[string]any{"TableDescription": t.describe()}, nil
}

func (s *Service) describeTable(body []byte) (any, *apiError) {
	var in struct {
		TableName string `json:"TableName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[in.TableName]
	if t == nil {
		return nil, notFound()
	}
	return map[string]any{"Table": t.describe()}, nil
}

// itemInput is the request of GetItem, PutItem, UpdateItem and DeleteItem.
type itemInput struct {
	TableName                           string            `json:"TableName"`
	Key                                 json.RawMessage   `json:"Key"`
	Item                                json.RawMessage   `json:"Item"`
	ConditionExpression                 *string           `json:"ConditionExpression"`
	UpdateExpression                    *string           `json:"UpdateExpression"`
	ProjectionExpression                *string           `json:"ProjectionExpression"`
	ExpressionAttributeNames            map[string]string `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues           json.RawMessage   `json:"ExpressionAttributeValues"`
	ReturnValues                        string            `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string            `json:"ReturnValuesOnConditionCheckFailure"`

	// The legacy parameters, which expressions replaced.
	Expected            json.RawMessage `json:"Expected"`
	ConditionalOperator json.RawMessage `json:"ConditionalOperator"`
	AttributeUpdates    json.RawMessage `json:"AttributeUpdates"`
	AttributesToGet     json.RawMessage `json:"AttributesToGet"`
}

// request is a decoded item request under the lock: its table, key and expressions.
type request struct {
	in    itemInput
	t     *table
	key   string
	keyAt map[string]attr
	cond  cond
	ph    *placeholders
}

// prepare decodes what every item operation shares. The caller holds s.mu.
func (s *Service) prepare(body []byte, keyFromItem bool) (*request, *apiError) {
	r := &request{}
	if err := decode(body, &r.in); err != nil {
		return nil, err
	}
	for name, v := range map[string]json.RawMessage{"Expected": r.in.Expected, "ConditionalOperator": r.in.ConditionalOperator, "AttributeUpdates": r.in.AttributeUpdates, "AttributesToGet": r.in.AttributesToGet} {
		if len(v) > 0 && string(v) != "null" {
			return nil, validation("sandbox: the legacy parameter %s is not supported; use expressions", name)
		}
	}
	if r.t = s.tables[r.in.TableName]; r.t == nil {
		return nil, notFound()
	}
	raw := r.in.Key
	if keyFromItem {
		raw = r.in.Item
	}
	if len(raw) == 0 {
		return nil, validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", map[bool]string{true: "item", false: "key"}[keyFromItem])
	}
	attrs, err := parseItem(raw)
	if err != nil {
		return nil, err
	}
	if r.key, r.keyAt, err = r.t.keyOf(attrs, !keyFromItem); err != nil {
		return nil, err
	}
	values := map[string]attr{}
	if len(r.in.ExpressionAttributeValues) > 0 && string(r.in.ExpressionAttributeValues) != "null" {
		if values, err = parseItem(r.in.ExpressionAttributeValues); err != nil {
			return nil, err
		}
	}
	r.ph = newPlaceholders(r.in.ExpressionAttributeNames, values)
	if r.in.ConditionExpression != nil {
		if r.cond, err = parseCondition(*r.in.ConditionExpression, r.ph); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// finish checks the placeholders once every expression is parsed.
func (r *request) finish() *apiError {
	if r.in.ConditionExpression == nil && r.in.UpdateExpression == nil && r.in.ProjectionExpression == nil {
		if len(r.ph.names) > 0 {
			return validation("ExpressionAttributeNames can only be specified when using expressions")
		}
		if len(r.ph.values) > 0 {
			return validation("ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null")
		}
	}
	return r.ph.checkAllUsed()
}

// check evaluates the condition against the item as it is; a failure carries the item
// when ReturnValuesOnConditionCheckFailure is ALL_OLD.
func (r *request) check(old map[string]attr) *apiError {
	switch r.in.ReturnValuesOnConditionCheckFailure {
	case "", "NONE", "ALL_OLD":
	default:
		return validation("1 validation error detected: Value '%s' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]", r.in.ReturnValuesOnConditionCheckFailure)
	}
	if r.cond == nil || r.cond(old) {
		return nil
	}
	if r.in.ReturnValuesOnConditionCheckFailure == "ALL_OLD" {
		return conditionFailed(copyItem(old))
	}
	return conditionFailed(nil)
}

// keyOf checks an item's (or a Key's) key attributes against the schema and returns the
// index string. exact: the map must hold the key attributes and nothing else.
func (t *table) keyOf(attrs map[string]attr, exact bool) (string, map[string]attr, *apiError) {
	defs := []keyDef{t.hash}
	if t.rng != nil {
		defs = append(defs, *t.rng)
	}
	if exact && len(attrs) != len(defs) {
		return "", nil, validation("The provided key element does not match the schema")
	}
	var parts []string
	keyAt := map[string]attr{}
	for _, d := range defs {
		a, ok := attrs[d.name]
		if !ok {
			if exact {
				return "", nil, validation("The provided key element does not match the schema")
			}
			return "", nil, validation("One or more parameter values were invalid: Missing the key %s in the item", d.name)
		}
		if a.kind != d.kind {
			return "", nil, validation("One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s", d.name, d.kind, a.kind)
		}
		if a.s == "" {
			return "", nil, validation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: %s", d.name)
		}
		parts = append(parts, keyString(a))
		keyAt[d.name] = a
	}
	return strings.Join(parts, "\x00"), keyAt, nil
}

func (s *Service) getItem(body []byte) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.prepare(body, false)
	if err != nil {
		return nil, err
	}
	if r.in.ConditionExpression != nil {
		return nil, validation("sandbox: GetItem takes no ConditionExpression")
	}
	var projection []path
	if r.in.ProjectionExpression != nil {
		toks, err := lex(*r.in.ProjectionExpression)
		if err != nil {
			return nil, err
		}
		p := &parser{src: *r.in.ProjectionExpression, toks: toks, ph: r.ph}
		for {
			pa, err := p.parsePath()
			if err != nil {
				return nil, err
			}
			projection = append(projection, pa)
			if !p.accept(tPunct, ",") {
				break
			}
		}
		if p.peek().kind != tEOF {
			return nil, p.fail()
		}
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	item := r.t.items[r.key]
	if item == nil {
		return map[string]any{}, nil
	}
	if projection != nil {
		// Top-level projection; a nested path projects its whole top-level attribute.
		out := map[string]attr{}
		for _, pa := range projection {
			if v, ok := item[pa[0].key]; ok {
				out[pa[0].key] = v
			}
		}
		item = out
	}
	return map[string]any{"Item": item}, nil
}

func (s *Service) putItem(body []byte) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.prepare(body, true)
	if err != nil {
		return nil, err
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	if err := returnValues(r.in.ReturnValues, "NONE", "ALL_OLD"); err != nil {
		return nil, err
	}
	item, _ := parseItem(r.in.Item)
	if itemSize(item) > maxItemSize {
		return nil, validation("Item size has exceeded the maximum allowed size")
	}
	old := r.t.items[r.key]
	if err := r.check(old); err != nil {
		return nil, err
	}
	r.t.items[r.key] = item
	if r.in.ReturnValues == "ALL_OLD" && old != nil {
		return map[string]any{"Attributes": old}, nil
	}
	return map[string]any{}, nil
}

func (s *Service) deleteItem(body []byte) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.prepare(body, false)
	if err != nil {
		return nil, err
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	if err := returnValues(r.in.ReturnValues, "NONE", "ALL_OLD"); err != nil {
		return nil, err
	}
	old := r.t.items[r.key]
	if err := r.check(old); err != nil {
		return nil, err
	}
	delete(r.t.items, r.key)
	if r.in.ReturnValues == "ALL_OLD" && old != nil {
		return map[string]any{"Attributes": old}, nil
	}
	return map[string]any{}, nil
}

func (s *Service) updateItem(body []byte) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.prepare(body, false)
	if err != nil {
		return nil, err
	}
	var actions []action
	if r.in.UpdateExpression != nil {
		if actions, err = parseUpdate(*r.in.UpdateExpression, r.ph); err != nil {
			return nil, err
		}
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	if err := returnValues(r.in.ReturnValues, "NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"); err != nil {
		return nil, err
	}
	for _, a := range actions {
		if _, isKey := r.keyAt[a.target]; isKey {
			return nil, validation("One or more parameter values were invalid: Cannot update attribute %s. This attribute is part of the key", a.target)
		}
	}
	old := r.t.items[r.key]
	if err := r.check(old); err != nil {
		return nil, err
	}
	item := copyItem(old)
	if item == nil {
		item = copyItem(r.keyAt)
	}
	for _, a := range actions {
		if err := a.apply(old, item); err != nil {
			return nil, err
		}
	}
	if itemSize(item) > maxItemSize {
		return nil, validation("Item size to update has exceeded the maximum allowed size")
	}
	r.t.items[r.key] = item
	return updateResult(r.in.ReturnValues, actions, old, item), nil
}

func updateResult(rv string, actions []action, old, item map[string]attr) map[string]any {
	pick := func(from map[string]attr) map[string]attr {
		out := map[string]attr{}
		for _, a := range actions {
			if v, ok := from[a.target]; ok {
				out[a.target] = v
			}
		}
		return out
	}
	var attrs map[string]attr
	switch rv {
	case "ALL_OLD":
		attrs = old
	case "UPDATED_OLD":
		attrs = pick(old)
	case "ALL_NEW":
		attrs = item
	case "UPDATED_NEW":
		attrs = pick(item)
	}
	if len(attrs) == 0 {
		return map[string]any{}
	}
	return map[string]any{"Attributes": attrs}
}

func returnValues(v string, allowed ...string) *apiError {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return validation("Return values set to invalid value")
}
