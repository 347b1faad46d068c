# A certferry Lambda that runs daily, reads its configuration from an SSM parameter and
# alarms to an SNS topic. Build the zip first: make lambda.
#
# The configuration parameter is created (and later edited) with the AWS CLI, as the
# README's "Run on AWS Lambda" steps do, not here: an edit then applies on the next run
# without a Terraform run, what it holds stays out of the Terraform state, and this
# apply cannot collide with the parameter (ParameterAlreadyExists). The module grants
# the function ssm:GetParameter on it by name; it need not exist yet.
#
# The module also creates the lease table. With coordination on in the configuration
# (config.example.yaml has it), the function, a bastion and an operator's one-shot renew
# order each due certificate once:
#   coordination: { dynamodb_table: certferry-leases, lease_duration: 2m }

provider "aws" {
  region = "us-east-2"
}

resource "aws_sns_topic" "certferry_alerts" {
  name = "certferry-alerts"
}

module "certferry" {
  source = "../.."

  filename            = "${path.root}/../../../../dist/certferry-lambda-arm64.zip"
  certferry_config    = "ssm:/certferry/config"
  hosted_zone_ids     = ["Z0123456789ABCDEFGHIJ"]
  schedule_expression = "rate(1 day)"
  # Every alarm (the function's Errors; certificates expiring, failing; no pass) notifies
  # this topic. The certificates here get 90 days: alarm with 7 days left (1 for 6-day
  # certificates), and after 36 hours without a pass (the schedule runs daily).
  alarm_sns_topic_arn = aws_sns_topic.certferry_alerts.arn
  expiry_alarm_days   = 7
  no_pass_alarm_hours = 36
}

output "function_arn" {
  value = module.certferry.function_arn
}

output "lease_table_name" {
  value = module.certferry.lease_table_name
}

output "alarm_arns" {
  value = [module.certferry.alarm_arn, module.certferry.expiry_alarm_arn, module.certferry.failing_alarm_arn, module.certferry.no_pass_alarm_arn]
}
