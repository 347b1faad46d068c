# certferry in one AWS account writing its DNS-01 records into a hosted zone of another
# (a central DNS account), through a role there. Apply it with credentials for both
# accounts (two provider configurations); certferry then needs only this in its config:
#
#   dns:
#     zones:
#       - name: example.org                       # the zone's apex
#         hosted_zone_id: <var.zone_id>            # optional: no ListHostedZones
#         assume_role_arn: <output dns_role_arn>
#         external_id: <var.external_id>
#
# The role may write only TXT records named _acme-challenge.* in that one zone: name the
# delegation targets so (_acme-challenge.www.example.com CNAME
# _acme-challenge.www.example.com.example.org), or give certificates
# dns.challenge_alias: example.org. See docs/dns.md.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = ">= 5.40.0"
      configuration_aliases = [aws.dns]
    }
  }
}

variable "certferry_role_name" {
  description = "Name of the role certferry runs as, in its own account (the Lambda's or the bastion's)."
  type        = string
  default     = "certferry"
}

variable "zone_id" {
  description = "The hosted zone in the DNS account that certferry writes."
  type        = string
}

variable "external_id" {
  description = "The external ID the DNS role requires (dns.zones[].external_id)."
  type        = string
}

# The account certferry runs in (the default provider) ...
provider "aws" {
  region = "us-east-2"
}

# ... and the DNS account (for example through a profile of its administrators).
provider "aws" {
  alias   = "dns"
  region  = "us-east-2"
  profile = "dns-account-admin"
}

data "aws_caller_identity" "certferry" {}

# In the DNS account: a role only certferry's role may assume, with the external ID.
data "aws_iam_policy_document" "dns_trust" {
  statement {
    sid     = "CertferryAssumes"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.certferry.account_id}:role/${var.certferry_role_name}"]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }
}

resource "aws_iam_role" "dns" {
  provider           = aws.dns
  name               = "certferry-dns"
  assume_role_policy = data.aws_iam_policy_document.dns_trust.json
}

# What the role may do: the DNS-01 calls on that zone, the same conditions as certferry's
# own policy (deploy/iam/certferry-dns-role-policy.json).
data "aws_iam_policy_document" "dns" {
  statement {
    sid       = "FindZones"
    actions   = ["route53:ListHostedZones"]
    resources = ["*"]
  }
  statement {
    sid       = "WaitForChanges"
    actions   = ["route53:GetChange"]
    resources = ["arn:aws:route53:::change/*"]
  }
  statement {
    sid       = "ReadChallengeRecords"
    actions   = ["route53:ListResourceRecordSets", "route53:GetHostedZone"]
    resources = ["arn:aws:route53:::hostedzone/${var.zone_id}"]
  }
  statement {
    sid       = "ChallengeRecordsOnly"
    actions   = ["route53:ChangeResourceRecordSets"]
    resources = ["arn:aws:route53:::hostedzone/${var.zone_id}"]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "route53:ChangeResourceRecordSetsRecordTypes"
      values   = ["TXT"]
    }
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

resource "aws_iam_role_policy" "dns" {
  provider = aws.dns
  name     = "certferry-dns-01"
  role     = aws_iam_role.dns.id
  policy   = data.aws_iam_policy_document.dns.json
}

# In certferry's account: its role may assume that one role.
data "aws_iam_policy_document" "assume_dns" {
  statement {
    sid       = "AssumeDNSRoles"
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.dns.arn]
  }
}

resource "aws_iam_role_policy" "assume_dns" {
  name   = "certferry-assume-dns"
  role   = var.certferry_role_name
  policy = data.aws_iam_policy_document.assume_dns.json
}

output "dns_role_arn" {
  description = "dns.zones[].assume_role_arn"
  value       = aws_iam_role.dns.arn
}
