package ddbsim_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/ddbsim"
	"github.com/certferry/certferry/internal/testwait"
)

const table = "certferry-leases"

func newClient(t *testing.T) (*dynamodb.Client, *ddbsim.Service, *calls.Registry) {
	t.Helper()
	reg := calls.New()
	svc := ddbsim.New(ddbsim.Options{Calls: reg})
	if err := svc.CreateTable(table, "key"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	c := dynamodb.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("sandbox", "sandbox", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
	return c, svc, reg
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestLeaseSequence takes, refuses, takes over and releases a lease with the
// conditional writes a lease uses, through the real SDK client.
func TestLeaseSequence(t *testing.T) {
	t.Parallel()
	c, svc, reg := newClient(t)
	ctx := t.Context()
	take := func(holder string, now, until int) (*dynamodb.UpdateItemOutput, error) {
		return c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           aws.String(table),
			Key:                                 map[string]types.AttributeValue{"key": s("www")},
			UpdateExpression:                    aws.String("SET #h = :h, #e = :until, #g = if_not_exists(#g, :zero) + :one"),
			ConditionExpression:                 aws.String("attribute_not_exists(#k) OR #e < :now"),
			ExpressionAttributeNames:            map[string]string{"#k": "key", "#h": "holder", "#e": "expires", "#g": "generation"},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":h": s(holder), ":until": n(itoa(until)), ":now": n(itoa(now)), ":zero": n("0"), ":one": n("1")},
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
	}
	out, err := take("a", 100, 220)
	if err != nil {
		t.Fatalf("first take: %v", err)
	}
	if g := out.Attributes["generation"].(*types.AttributeValueMemberN).Value; g != "1" {
		t.Errorf("generation = %s, want 1", g)
	}
	_, err = take("b", 150, 270)
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("take of a live lease: err = %v, want ConditionalCheckFailedException", err)
	}
	if h := ccf.Item["holder"].(*types.AttributeValueMemberS).Value; h != "a" {
		t.Errorf("the refusal names holder %q, want a", h)
	}
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Errorf("refusal status: %v", err)
	}
	out, err = take("b", 221, 341)
	if err != nil {
		t.Fatalf("takeover after expiry: %v", err)
	}
	if g := out.Attributes["generation"].(*types.AttributeValueMemberN).Value; g != "2" {
		t.Errorf("generation after takeover = %s, want 2", g)
	}
	// The old holder's release is refused; the new holder's goes through.
	release := func(holder, gen string) error {
		_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 aws.String(table),
			Key:                       map[string]types.AttributeValue{"key": s("www")},
			ConditionExpression:       aws.String("#h = :h AND #g = :g"),
			ExpressionAttributeNames:  map[string]string{"#h": "holder", "#g": "generation"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": s(holder), ":g": n(gen)},
		})
		return err
	}
	if err := release("a", "1"); apiCode(err) != "ConditionalCheckFailedException" {
		t.Errorf("stale release: err = %v", err)
	}
	if err := release("b", "2"); err != nil {
		t.Errorf("release: %v", err)
	}
	if svc.Items(table) != 0 {
		t.Errorf("items after release = %d", svc.Items(table))
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"key": s("www")}, ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item != nil {
		t.Errorf("GetItem after release: %v %v", got, err)
	}
	if n := reg.Count("dynamodb", "UpdateItem"); n != 3 {
		t.Errorf("dynamodb.UpdateItem = %d, want 3", n)
	}
	if n := reg.ServiceTotal("dynamodb"); n != 6 {
		t.Errorf("dynamodb calls = %d, want 6", n)
	}
}

func itoa(v int) string { return strconv.Itoa(v) }

// TestConditions evaluates condition expressions against one stored item: what passes,
// what fails, and what AWS refuses as a ValidationException.
func TestConditions(t *testing.T) {
	t.Parallel()
	c, _, _ := newClient(t)
	ctx := t.Context()
	item := map[string]types.AttributeValue{
		"key": s("k"), "holder": s("alpha"), "expires": n("100"), "gen": n("3"), "ok": &types.AttributeValueMemberBOOL{Value: true},
		"tags": &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"inner": n("5")}},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{s("first"), n("2")}},
	}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	vals := map[string]types.AttributeValue{":a": s("alpha"), ":b": s("beta"), ":n50": n("50"), ":n100": n("1e2"), ":n200": n("200"),
		":x": s("x"), ":al": s("al"), ":t": s("SS"), ":true": &types.AttributeValueMemberBOOL{Value: true}, ":five": n("5"), ":two": n("2")}
	for _, tc := range []struct {
		expr    string
		want    bool   // the condition holds
		invalid string // a ValidationException containing this
	}{
		{"attribute_exists(holder)", true, ""},
		{"attribute_not_exists(holder)", false, ""},
		{"attribute_not_exists(nothing)", true, ""},
		{"holder = :a", true, ""},
		{"holder <> :a", false, ""},
		{"nothing <> :a", true, ""},
		{"nothing = :a", false, ""},
		{"expires = :n100", true, ""},
		{"expires < :n200", true, ""},
		{"expires < :n50", false, ""},
		{"expires <= :n100 AND expires >= :n100", true, ""},
		{"expires > :a", false, ""}, // types differ: false, no error
		{"nothing < :n200", false, ""},
		{"attribute_not_exists(nothing) OR expires < :n50", true, ""},
		{"attribute_exists(nothing) OR expires < :n50", false, ""},
		{"NOT holder = :b", true, ""},
		{"NOT (holder = :a OR holder = :b)", false, ""},
		{"holder = :b OR holder = :a AND expires < :n50", false, ""}, // AND binds tighter
		{"(holder = :b OR holder = :a) AND expires > :n50", true, ""},
		{"expires BETWEEN :n50 AND :n200", true, ""},
		{"expires BETWEEN :n200 AND :n50", false, "upper bound"},
		{"holder IN (:b, :a)", true, ""},
		{"holder IN (:b)", false, ""},
		{"begins_with(holder, :al)", true, ""},
		{"contains(tags, :x)", true, ""},
		{"contains(holder, :x)", false, ""},
		{"attribute_type(tags, :t)", true, ""},
		{"size(tags) = :two", true, ""},
		{"m.inner = :five", true, ""},
		{"l[1] = :two", true, ""},
		{"l[5] = :two", false, ""},
		{"ok = :true", true, ""},
		{"ok < :true", false, "Incorrect operand type"},
		{"key = :a", false, "reserved keyword"},
		{"holder = :missing", false, "not defined"},
		{"holder = = :a", false, "Syntax error"},
		{"holder = :a AND", false, "Syntax error"},
		{"frobnicate(holder)", false, "Invalid function name"},
	} {
		used := map[string]types.AttributeValue{}
		for k, v := range vals {
			if strings.Contains(tc.expr, k+" ") || strings.Contains(tc.expr, k+")") || strings.Contains(tc.expr, k+",") || strings.HasSuffix(tc.expr, k) {
				used[k] = v
			}
		}
		in := &dynamodb.UpdateItemInput{
			TableName: aws.String(table), Key: map[string]types.AttributeValue{"key": s("k")},
			ConditionExpression: aws.String(tc.expr),
		}
		if len(used) > 0 {
			in.ExpressionAttributeValues = used
		}
		_, err := c.UpdateItem(ctx, in)
		switch {
		case tc.invalid != "":
			if apiCode(err) != "ValidationException" || !strings.Contains(err.Error(), tc.invalid) {
				t.Errorf("%s: err = %v, want a ValidationException about %q", tc.expr, err, tc.invalid)
			}
		case tc.want && err != nil:
			t.Errorf("%s: err = %v, want it to hold", tc.expr, err)
		case !tc.want && apiCode(err) != "ConditionalCheckFailedException":
			t.Errorf("%s: err = %v, want ConditionalCheckFailedException", tc.expr, err)
		}
	}
}

// TestUpdatesAndRefusals covers UpdateExpression's clauses and what AWS refuses.
func TestUpdatesAndRefusals(t *testing.T) {
	t.Parallel()
	c, _, _ := newClient(t)
	ctx := t.Context()
	key := map[string]types.AttributeValue{"key": s("u")}
	update := func(expr string, names map[string]string, vals map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
		out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(table), Key: key, UpdateExpression: aws.String(expr),
			ExpressionAttributeNames: names, ExpressionAttributeValues: vals, ReturnValues: types.ReturnValueAllNew,
		})
		if err != nil {
			return nil, err
		}
		return out.Attributes, nil
	}
	got, err := update("SET #c = if_not_exists(#c, :z) + :one, lst = :l ADD tags :s", map[string]string{"#c": "counter"},
		map[string]types.AttributeValue{":z": n("0"), ":one": n("1"), ":l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("a")}}, ":s": &types.AttributeValueMemberSS{Value: []string{"p"}}})
	if err != nil {
		t.Fatal(err)
	}
	if v := got["counter"].(*types.AttributeValueMemberN).Value; v != "1" {
		t.Errorf("counter = %s", v)
	}
	got, err = update("SET counter = counter - :half, lst = list_append(lst, :l) REMOVE tags", nil,
		map[string]types.AttributeValue{":half": n("0.5"), ":l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("b")}}})
	if err != nil {
		t.Fatal(err)
	}
	if v := got["counter"].(*types.AttributeValueMemberN).Value; v != "0.5" {
		t.Errorf("counter = %s, want 0.5", v)
	}
	if l := got["lst"].(*types.AttributeValueMemberL).Value; len(l) != 2 {
		t.Errorf("lst = %v", l)
	}
	if _, ok := got["tags"]; ok {
		t.Error("tags survived REMOVE")
	}
	for _, tc := range []struct {
		expr  string
		names map[string]string
		vals  map[string]types.AttributeValue
		want  string
	}{
		{"SET #k = :v", map[string]string{"#k": "key"}, map[string]types.AttributeValue{":v": s("x")}, "part of the key"},
		{"SET a = :v, a = :w", nil, map[string]types.AttributeValue{":v": s("x"), ":w": s("y")}, "overlap"},
		{"SET a = :v", map[string]string{"#unused": "x"}, map[string]types.AttributeValue{":v": s("x")}, "unused"},
		{"SET a = :v", nil, map[string]types.AttributeValue{":v": s("x"), ":w": s("y")}, "unused"},
		{"SET a = missing + :v", nil, map[string]types.AttributeValue{":v": n("1")}, "does not exist"},
		{"SET a = :v + :w", nil, map[string]types.AttributeValue{":v": s("x"), ":w": n("1")}, "incorrect data type"},
		{"SET a = :v SET b = :v", nil, map[string]types.AttributeValue{":v": s("x")}, "only be used once"},
	} {
		if _, err := update(tc.expr, tc.names, tc.vals); apiCode(err) != "ValidationException" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ValidationException about %q", tc.expr, err, tc.want)
		}
	}
	// Keys are checked against the schema.
	for _, k := range []map[string]types.AttributeValue{{"key": n("1")}, {"other": s("x")}, {"key": s("x"), "more": s("y")}, {"key": s("")}} {
		if _, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: k}); apiCode(err) != "ValidationException" {
			t.Errorf("GetItem key %v: err = %v, want ValidationException", k, err)
		}
	}
	if _, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("no-such-table"), Key: key}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("missing table: %v", err)
	}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{"holder": s("x")}}); apiCode(err) != "ValidationException" {
		t.Errorf("item without its key: %v", err)
	}
}

// TestTables creates and describes a table, and refuses a second one of the name.
func TestTables(t *testing.T) {
	t.Parallel()
	c, _, _ := newClient(t)
	ctx := t.Context()
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String("other"),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeN}},
		BillingMode:          types.BillingModePayPerRequest,
	}
	out, err := c.CreateTable(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if out.TableDescription.TableStatus != types.TableStatusActive {
		t.Errorf("status %s", out.TableDescription.TableStatus)
	}
	if _, err := c.CreateTable(ctx, in); apiCode(err) != "ResourceInUseException" {
		t.Errorf("second create: %v", err)
	}
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if got := *d.Table.KeySchema[0].AttributeName; got != "key" || !strings.HasSuffix(*d.Table.TableArn, ":table/"+table) {
		t.Errorf("described %s %s", got, *d.Table.TableArn)
	}
	// A range-keyed item needs both parts of its key.
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("other"), Item: map[string]types.AttributeValue{"pk": s("a"), "sk": n("1")}}); err != nil {
		t.Error(err)
	}
	if _, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("other"), Key: map[string]types.AttributeValue{"pk": s("a")}}); apiCode(err) != "ValidationException" {
		t.Errorf("half a key: %v", err)
	}
	if _, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("nope")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("describe missing: %v", err)
	}
}

// TestFaults: an injected error answers with its code and status and changes nothing;
// a hang holds the call until the client gives up.
func TestFaults(t *testing.T) {
	t.Parallel()
	c, svc, reg := newClient(t)
	ctx := t.Context()
	put := func(ctx context.Context) error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{"key": s("f")}})
		return err
	}
	for code, status := range map[string]int{"ProvisionedThroughputExceededException": 400, "ThrottlingException": 400, "InternalServerError": 500, "ServiceUnavailable": 503} {
		reg.FailNext("dynamodb", "PutItem", 1, calls.Fault{Code: code})
		err := put(ctx)
		var re *smithyhttp.ResponseError
		if apiCode(err) != code || !errors.As(err, &re) || re.HTTPStatusCode() != status {
			t.Errorf("fault %s: err = %v, want the code with status %d", code, err, status)
		}
	}
	if svc.Items(table) != 0 {
		t.Error("a faulted PutItem wrote")
	}
	reg.FailNext("dynamodb", "PutItem", 1, calls.Fault{Hang: calls.HangForever})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err := put(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung PutItem: err = %v, want the client's deadline", err)
	}
	if err := put(ctx); err != nil {
		t.Errorf("PutItem after the faults: %v", err)
	}
	if n := reg.Count("dynamodb", "PutItem"); n != 6 {
		t.Errorf("dynamodb.PutItem = %d, want 6", n)
	}
}

// TestBotocore runs the lease's calls through botocore (the AWS CLI, boto3), which
// parses errors and checks the CRC32 header its own way. Skipped where python3 or
// botocore is missing.
func TestBotocore(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if err := exec.Command(py, "-c", "import botocore").Run(); err != nil {
		t.Skip("botocore not installed (apt-get install python3-botocore)")
	}
	reg := calls.New()
	svc := ddbsim.New(ddbsim.Options{Calls: reg})
	if err := svc.CreateTable(table, "key"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), testwait.For(0))
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "testdata/botocore_lease.py", srv.URL, table).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("botocore: %v\n%s", err, out)
	}
	if n := reg.ServiceTotal("dynamodb"); n != 6 {
		t.Errorf("dynamodb calls = %d, want 6 (%s)", n, reg)
	}
}
