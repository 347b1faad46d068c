# Alarms on the metrics the function prints in CloudWatch Embedded Metric Format (one
# JSON line per certificate and one per pass, in the function's log group; CloudWatch
# Logs turns them into metrics in the namespace below, with no extra permission). Each
# alarm notifies alarm_sns_topic_arn, when set, on ALARM and on OK.
#
# Every pass publishes a data point; between passes (a daily schedule) there are none,
# so the alarms keep their state (treat_missing_data = "ignore"): a failing certificate
# keeps its alarm up until a pass says otherwise.

variable "expiry_alarm_days" {
  description = "The expiry alarm fires when any stored certificate has fewer days of validity left than this (metric DaysLeft, minimum over every certificate). certferry renews 90-day certificates 30 days before expiry; for 6-day certificates (the shortlived profile), set 1."
  type        = number
  default     = 7

  validation {
    condition     = var.expiry_alarm_days > 0 && var.expiry_alarm_days <= 90
    error_message = "expiry_alarm_days must be between 1 and 90."
  }
}

variable "no_pass_alarm_hours" {
  description = "The no-pass alarm fires when no pass has published its metrics for this many hours (the function not invoked, or every run refused before its pass). Keep it above the schedule's period: the default suits rate(1 day)."
  type        = number
  default     = 36

  validation {
    condition     = var.no_pass_alarm_hours >= 2 && var.no_pass_alarm_hours <= 168
    error_message = "no_pass_alarm_hours must be between 2 and 168 (CloudWatch evaluates at most 7 days)."
  }
}

locals {
  # The function's EMF namespace and metric names (cmd/certferry-lambda/emf.go).
  metrics_namespace = "Certferry"
  alarm_actions     = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "expiring" {
  alarm_name          = "${var.function_name}-certificate-expiring"
  alarm_description   = "A certificate stored by ${var.function_name} has less than ${var.expiry_alarm_days} day(s) of validity left and was not renewed. Which one: metric ${local.metrics_namespace}/DaysLeft by Certificate, or the function's log lines with \"DaysLeft\"; why: the line with \"msg\":\"pass summary\" (last_error)."
  namespace           = local.metrics_namespace
  metric_name         = "DaysLeft"
  statistic           = "Minimum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = var.expiry_alarm_days
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "ignore"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "failing" {
  alarm_name          = "${var.function_name}-certificate-failing"
  alarm_description   = "${var.function_name}: at least one certificate is failing (its last attempt to issue, store or run a hook failed; it is retried with backoff) or expired. Which one and why: the function's log line with \"msg\":\"pass summary\" (condition, last_error, attempts, next_attempt); every run also fails with PassFailedError naming it."
  namespace           = local.metrics_namespace
  metric_name         = "Failing"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "ignore"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# Every pass publishes Certificates; none for no_pass_alarm_hours hours means no pass ran
# (missing data counts as breaching here, and every hour of the window must be empty).
# It is therefore in ALARM from creation until the first pass: invoke the function once
# after deploying (a dry run will do; a run limited by "only" will not).
resource "aws_cloudwatch_metric_alarm" "no_pass" {
  alarm_name          = "${var.function_name}-no-pass"
  alarm_description   = "No ${var.function_name} pass has completed for ${var.no_pass_alarm_hours} hours: the schedule is not invoking the function, or every run is refused before its pass (bad configuration or schedule, unreadable inventory: see the Errors alarm and the function's logs)."
  namespace           = local.metrics_namespace
  metric_name         = "Certificates"
  statistic           = "SampleCount"
  period              = 3600
  evaluation_periods  = var.no_pass_alarm_hours
  datapoints_to_alarm = var.no_pass_alarm_hours
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

output "expiry_alarm_arn" {
  description = "ARN of the alarm on certificates close to expiry (metric DaysLeft)."
  value       = aws_cloudwatch_metric_alarm.expiring.arn
}

output "failing_alarm_arn" {
  description = "ARN of the alarm on failing or expired certificates (metric Failing)."
  value       = aws_cloudwatch_metric_alarm.failing.arn
}

output "no_pass_alarm_arn" {
  description = "ARN of the alarm on passes that stopped happening (metric Certificates)."
  value       = aws_cloudwatch_metric_alarm.no_pass.arn
}
