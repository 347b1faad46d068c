# The function's role grants exactly what certferry calls (providers/route53,
# sinks/secretsmanager, acme's Secrets Manager account store, hooks), on the narrowest
# resources AWS supports. Only ListHostedZones, ListSecrets and (for ASG hooks)
# DescribeInstanceRefreshes take "*": AWS has no resource-level permissions for them.
#
# The statements and their conditions are those of deploy/iam/*.json (the bastion, KMS
# and hooks policies), with the resources narrowed to this module's inputs;
# deploy/iam/policy_test.go fails when the two differ.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.function_name}-function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "FindZones"
    actions   = ["route53:ListHostedZones"]
    resources = ["*"]
  }

  statement {
    sid       = "WaitForChanges"
    actions   = ["route53:GetChange"]
    resources = ["arn:${local.partition}:route53:::change/*"]
  }

  statement {
    sid       = "ReadChallengeRecords"
    actions   = ["route53:ListResourceRecordSets", "route53:GetHostedZone"]
    resources = local.zone_arns
  }

  # With dns_persist_readonly the role cannot change DNS at all: dns-persist-01 runners
  # whose _validation-persist records are written by `certferry persist apply`.
  dynamic "statement" {
    for_each = var.dns_persist_readonly ? [] : [local.zone_arns]
    content {
      sid       = "ChallengeRecordsOnly"
      actions   = ["route53:ChangeResourceRecordSets"]
      resources = statement.value

      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsRecordTypes"
        values   = ["TXT"]
      }

      # certferry's writes are a compare-and-swap of DELETE + CREATE, never a blind UPSERT.
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsActions"
        values   = ["CREATE", "DELETE"]
      }

      condition {
        test     = "ForAllValues:StringLike"
        variable = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
        values   = ["_acme-challenge.*", "_validation-persist.*"]
      }
    }
  }

  statement {
    sid = "Certificates"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
      "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = [local.secret_arns]
  }

  # Creating a secret tags it, so CreateSecret is limited like TagResource: certferry's
  # state tags, plus the keys of secret_tag_keys.
  statement {
    sid = "StateTags"
    actions = [
      "secretsmanager:CreateSecret",
      "secretsmanager:TagResource",
    ]
    resources = [local.secret_arns]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "aws:TagKeys"
      values   = concat(["certferry:*"], var.secret_tag_keys)
    }
  }

  statement {
    sid       = "Inventory"
    actions   = ["secretsmanager:ListSecrets"]
    resources = ["*"]
  }

  statement {
    sid       = "Leases"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.leases.arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "SecretsKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      # The key serves Secrets Manager only, never a direct kms: call with the role.
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      # The preflight reads the key's state (no side effect): a disabled key or one
      # pending deletion is refused before any order.
      sid       = "SecretsKeyState"
      actions   = ["kms:DescribeKey"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.config_ssm_arn == null ? [] : [local.config_ssm_arn]
    content {
      sid       = "ReadConfig"
      actions   = ["ssm:GetParameter"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = length(local.asg_arns) == 0 ? [] : [local.asg_arns]
    content {
      sid       = "RefreshInstances"
      actions   = ["autoscaling:StartInstanceRefresh", "autoscaling:CancelInstanceRefresh"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(local.asg_arns) == 0 ? [] : ["*"]
    content {
      sid       = "WatchInstanceRefreshes"
      actions   = ["autoscaling:DescribeInstanceRefreshes"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = length(local.ecs_arns) == 0 ? [] : [local.ecs_arns]
    content {
      sid       = "RedeployServices"
      actions   = ["ecs:UpdateService"]
      resources = statement.value
    }
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "certferry"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

# EventBridge Scheduler's role: may invoke this function and nothing else.
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.function_name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeCertferry"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-certferry"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}
