# A certferry Lambda that runs daily, reads its configuration from an SSM parameter and
# alarms to an SNS topic. Build the zip first: make lambda.
#
# The configuration parameter is created (and later edited) with the AWS CLI, as the
# README's "Run on AWS Lambda" steps do, not here: an edit then applies on the next run
# without a Terraform run, what it holds stays out of the Terraform state, and this
# apply cannot collide with the parameter (ParameterAlreadyExists). The module grants
# the function ssm:GetParameter on it by name; it need not exist yet.

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
  alarm_sns_topic_arn = aws_sns_topic.certferry_alerts.arn
}

output "function_arn" {
  value = module.certferry.function_arn
}
