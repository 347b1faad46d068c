# The lease's conditional writes through botocore (the AWS CLI's and boto3's core),
# against the endpoint in argv[1]. Prints "ok" or raises.
import sys

import botocore.session
from botocore.exceptions import ClientError

endpoint, table = sys.argv[1], sys.argv[2]
client = botocore.session.get_session().create_client(
    "dynamodb", endpoint_url=endpoint, region_name="us-east-1",
    aws_access_key_id="sandbox", aws_secret_access_key="sandbox")

desc = client.describe_table(TableName=table)["Table"]
assert desc["KeySchema"][0]["AttributeName"] == "key", desc
assert desc["TableStatus"] == "ACTIVE", desc


def take(holder, now, until):
    return client.update_item(
        TableName=table, Key={"key": {"S": "www"}},
        UpdateExpression="SET #h = :h, #e = :until, #g = if_not_exists(#g, :zero) + :one",
        ConditionExpression="attribute_not_exists(#k) OR #e < :now",
        ExpressionAttributeNames={"#k": "key", "#h": "holder", "#e": "expires", "#g": "generation"},
        ExpressionAttributeValues={":h": {"S": holder}, ":until": {"N": str(until)}, ":now": {"N": str(now)},
                                   ":zero": {"N": "0"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")


out = take("a", 100, 220)
assert out["Attributes"]["generation"] == {"N": "1"}, out
try:
    take("b", 150, 270)
    raise AssertionError("a live lease was taken")
except ClientError as e:
    assert e.response["Error"]["Code"] == "ConditionalCheckFailedException", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
    assert e.response["Item"]["holder"] == {"S": "a"}, e.response
item = client.get_item(TableName=table, Key={"key": {"S": "www"}}, ConsistentRead=True)["Item"]
assert item["expires"] == {"N": "220"}, item
client.delete_item(TableName=table, Key={"key": {"S": "www"}},
                   ConditionExpression="#h = :h", ExpressionAttributeNames={"#h": "holder"},
                   ExpressionAttributeValues={":h": {"S": "a"}})
assert "Item" not in client.get_item(TableName=table, Key={"key": {"S": "www"}})
print("ok")
