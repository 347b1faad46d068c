variable "function_name" {
  description = "Name of the Lambda function (also of its role, schedule, log group and alarm)."
  type        = string
  default     = "certferry"
}

variable "filename" {
  description = "Path to the deployment zip built by `make lambda` (dist/certferry-lambda-arm64.zip)."
  type        = string
}

variable "architecture" {
  description = "Lambda architecture; the zip must match (make lambda builds both)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (certferry needs little; more memory also means more CPU for key generation)."
  type        = number
  default     = 256
}

variable "certferry_config" {
  description = "Value of CERTFERRY_CONFIG: \"ssm:/parameter/name\", \"secretsmanager:<name under secret_prefix>\", inline YAML, or \"\" for certferry.yaml inside the zip."
  type        = string
  default     = ""
}

variable "safety_margin" {
  description = "CERTFERRY_SAFETY_MARGIN: the pass stops starting new work this long before the 900 s timeout, so TXT records are always removed."
  type        = string
  default     = "60s"
}

variable "hosted_zone_ids" {
  description = "Route 53 hosted zone IDs (Z...) the certificates' names live in. The function may write only _acme-challenge TXT records in them."
  type        = list(string)

  validation {
    condition     = length(var.hosted_zone_ids) > 0 && alltrue([for z in var.hosted_zone_ids : can(regex("^Z[A-Z0-9]+$", z))])
    error_message = "hosted_zone_ids must be one or more zone IDs such as Z0123456789ABCDEFGHIJ (without /hostedzone/)."
  }
}

variable "secret_prefix" {
  description = "Name prefix of every secret the function may read and write: the certificates' secrets and acme.account_secret (default certferry/acme-account)."
  type        = string
  default     = "certferry/"

  validation {
    condition     = length(var.secret_prefix) > 0 && !strcontains(var.secret_prefix, "*")
    error_message = "secret_prefix must be a non-empty prefix without wildcards, such as \"certferry/\"."
  }
}

variable "secret_tag_keys" {
  description = "Keys of your own tags on the secrets (sinks.secretsmanager.tags) that the function may set. certferry's own certferry:* tags are always allowed; any other key is denied."
  type        = list(string)
  default     = []
}

variable "dns_persist_readonly" {
  description = "Every certificate uses challenge: dns-persist-01 and its _validation-persist records are written by `certferry persist apply` (docs/dns.md): the function's role may read the zones but not change them (no route53:ChangeResourceRecordSets). A record missing then fails its certificate before any order."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer managed KMS key of the secrets (sinks.secretsmanager.kms_key_id), or null for the AWS managed key."
  type        = string
  default     = null
}

variable "asg_names" {
  description = "Auto Scaling groups named by asg_instance_refresh hooks; the function may refresh only these."
  type        = list(string)
  default     = []
}

variable "ecs_services" {
  description = "ECS services named by ecs_redeploy hooks; the function may redeploy only these."
  type = list(object({
    cluster = string
    service = string
  }))
  default = []
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression: any rate() or cron(), e.g. \"rate(1 day)\" or \"rate(60 days)\". Set schedule.interval in the configuration to the same period."
  type        = string
  default     = "rate(1 day)"

  validation {
    condition     = can(regex("^(rate|cron|at)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be rate(...), cron(...) or at(...)."
  }
}

variable "schedule_timezone" {
  description = "Time zone of a cron() schedule_expression."
  type        = string
  default     = "UTC"
}

variable "event" {
  description = "The invocation event the schedule sends: {force, only, dry_run}."
  type = object({
    force   = optional(bool, false)
    only    = optional(list(string), [])
    dry_run = optional(bool, false)
  })
  default = {}
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group."
  type        = number
  default     = 90
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic every alarm (Errors, and those in alarms.tf) notifies on ALARM and on OK, or null for alarms without actions."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "lease_table_name" {
  description = "Name of the DynamoDB lease table this module creates: write it as coordination.dynamodb_table in the configuration, on every runner (the function, bastions, operators' renew)."
  type        = string
  default     = "certferry-leases"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.lease_table_name))
    error_message = "lease_table_name must be 3-255 of a-z, A-Z, 0-9, '_', '-' and '.'."
  }
}
