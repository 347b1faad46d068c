data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id

  zone_arns   = [for z in var.hosted_zone_ids : "arn:${local.partition}:route53:::hostedzone/${z}"]
  secret_arns = "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${var.secret_prefix}*"
  asg_arns    = [for n in var.asg_names : "arn:${local.partition}:autoscaling:${local.region}:${local.account}:autoScalingGroup:*:autoScalingGroupName/${n}"]
  ecs_arns    = [for s in var.ecs_services : "arn:${local.partition}:ecs:${local.region}:${local.account}:service/${s.cluster}/${s.service}"]

  # CERTFERRY_CONFIG=ssm:/name grants ssm:GetParameter on that parameter only.
  config_ssm_name = startswith(var.certferry_config, "ssm:") ? trimprefix(trimprefix(var.certferry_config, "ssm:"), "/") : null
  config_ssm_arn  = local.config_ssm_name == null ? null : "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/${local.config_ssm_name}"
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  function_name                  = var.function_name
  description                    = "certferry: renews Let's Encrypt certificates through Route 53 DNS-01 into Secrets Manager"
  role                           = aws_iam_role.function.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  filename                       = var.filename
  source_code_hash               = filebase64sha256(var.filename)
  memory_size                    = var.memory_size
  timeout                        = 900
  reserved_concurrent_executions = 1

  environment {
    variables = {
      CERTFERRY_CONFIG        = var.certferry_config
      CERTFERRY_SAFETY_MARGIN = var.safety_margin
    }
  }

  logging_config {
    log_format = "Text" # certferry already writes one JSON object a line
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function, aws_cloudwatch_log_group.this]
}

resource "aws_scheduler_schedule" "this" {
  name                         = var.function_name
  description                  = "Runs a certferry pass"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone

  flexible_time_window {
    mode                      = "FLEXIBLE"
    maximum_window_in_minutes = 15
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode(var.event)

    # A failed pass is reported by the function's Errors alarm and retried by the next
    # run; the scheduler itself does not retry (the function backs off per certificate).
    retry_policy {
      maximum_retry_attempts = 0
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.function_name}-errors"
  alarm_description   = "A certferry pass failed: a certificate could not be renewed, or the configuration or schedule is refused. See the function's logs (msg \"pass summary\")."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "ignore" # no run, no data point: keep the state (a failing run repeats daily)
  alarm_actions       = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  ok_actions          = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  tags                = var.tags
}
