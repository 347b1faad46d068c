# A certferry Lambda that runs daily, reads its configuration from an SSM parameter and
# alarms to an SNS topic. Build the zip first: make lambda.

provider "aws" {
  region = "us-east-2"
}

resource "aws_sns_topic" "certferry_alerts" {
  name = "certferry-alerts"
}

resource "aws_ssm_parameter" "certferry_config" {
  name = "/certferry/config"
  type = "SecureString"
  value = yamlencode({
    acme = {
      directory = "letsencrypt-staging"
      email     = "ops@example.com"
    }
    aws      = { region = "us-east-2" }
    schedule = { interval = "24h" } # the schedule below runs every day
    certificates = [{
      name    = "web"
      domains = ["www.example.com", "example.com"]
      sinks   = { secretsmanager = { secret = "certferry/web" } }
    }]
  })
}

module "certferry" {
  source = "../.."

  filename            = "${path.root}/../../../../dist/certferry-lambda-arm64.zip"
  certferry_config    = "ssm:${aws_ssm_parameter.certferry_config.name}"
  hosted_zone_ids     = ["Z0123456789ABCDEFGHIJ"]
  schedule_expression = "rate(1 day)"
  alarm_sns_topic_arn = aws_sns_topic.certferry_alerts.arn
}

output "function_arn" {
  value = module.certferry.function_arn
}
