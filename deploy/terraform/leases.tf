# The lease table of coordination.dynamodb_table (docs/coordination.md): one item per
# certificate, {key, holder, expires, generation}, so that the Lambda, a bastion and an
# operator's one-shot renew order each due certificate once. On-demand: a renewed
# certificate costs a few writes, an idle pass none. TTL on "expires" deletes the leases
# a killed runner left behind; no point-in-time recovery: a lease lives minutes.

resource "aws_dynamodb_table" "leases" {
  name         = var.lease_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "key"

  attribute {
    name = "key"
    type = "S"
  }

  ttl {
    attribute_name = "expires"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = false
  }

  tags = var.tags
}
