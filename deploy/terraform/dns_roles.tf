# Hosted zones in other AWS accounts (dns.zones[].assume_role_arn in certferry's
# configuration): the function may assume those roles, and only those. Each role's trust
# policy must name the function's role (output role_arn) with the external ID the
# configuration gives; examples/cross-account creates such a role. docs/dns.md has the
# rules.

variable "dns_role_arns" {
  description = "Roles in other accounts that write their hosted zones for certferry (dns.zones[].assume_role_arn). Empty: none."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.dns_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", r))])
    error_message = "dns_role_arns must be role ARNs such as arn:aws:iam::210987654321:role/certferry-dns."
  }
}

data "aws_iam_policy_document" "dns_roles" {
  statement {
    sid       = "AssumeDNSRoles"
    actions   = ["sts:AssumeRole"]
    resources = var.dns_role_arns
  }
}

resource "aws_iam_role_policy" "dns_roles" {
  count  = length(var.dns_role_arns) > 0 ? 1 : 0
  name   = "${var.function_name}-assume-dns-roles"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.dns_roles.json
}
