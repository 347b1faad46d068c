output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's IAM role."
  value       = aws_iam_role.function.arn
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule."
  value       = aws_scheduler_schedule.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function (JSON, one object a line)."
  value       = aws_cloudwatch_log_group.this.name
}

output "alarm_arn" {
  description = "ARN of the alarm on the function's Errors metric."
  value       = aws_cloudwatch_metric_alarm.errors.arn
}

output "lease_table_name" {
  description = "The DynamoDB lease table: coordination.dynamodb_table in the configuration of every runner."
  value       = aws_dynamodb_table.leases.name
}

output "lease_table_arn" {
  description = "ARN of the lease table, for the policies of the other runners (deploy/iam/certferry-bastion-policy.json's Leases statement)."
  value       = aws_dynamodb_table.leases.arn
}
