# Customer-managed key for the lakehouse bucket (SSE-KMS), rotated yearly by AWS.
#
# Two roles, never one: administrators manage the key (policy, rotation, deletion) but cannot
# use it on data; the Unity Catalog role uses it on data, only through S3, and cannot manage it.
data "aws_iam_policy_document" "lakehouse_key" {
  #checkov:skip=CKV_AWS_109:Key policy: "*" is this key only; the administrators' statement lists management actions (no wildcard, no data use), the principals are this account's administrators (var.kms_key_administrators, else the account through IAM, so the key can never become unmanageable).
  #checkov:skip=CKV_AWS_111:Key policy: "*" is this key only; data use is granted to the Unity Catalog role alone, constrained to kms:ViaService S3 and this account.
  #checkov:skip=CKV_AWS_356:Key policies must use "*" as resource: it means the key the policy is attached to, not every resource.
  statement {
    sid       = "AdministratorsManageTheKey"
    actions   = local.kms_admin_actions
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = local.kms_administrators
    }
  }

  statement {
    sid       = "UnityCatalogRoleUsesTheKeyThroughS3"
    actions   = local.kms_user_actions
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.unity_catalog.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.aws_region}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
  }
}

locals {
  # Default: the account, through IAM policies (whoever runs Terraform needs these to keep
  # managing the key); never the data actions below.
  kms_administrators = length(var.kms_key_administrators) > 0 ? var.kms_key_administrators : [
    "arn:${local.partition}:iam::${local.account_id}:root"
  ]
  kms_admin_actions = [
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:RotateKeyOnDemand",
    "kms:ListKeyRotations", "kms:ListResourceTags", "kms:ListGrants", "kms:ListKeyPolicies",
    "kms:RevokeGrant", "kms:EnableKey", "kms:DisableKey", "kms:UpdateKeyDescription",
    "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias", "kms:TagResource",
    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
  ]
  kms_user_actions = [
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
    "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey",
  ]
}

resource "aws_kms_key" "lakehouse" {
  description             = "SSE-KMS key of the ${local.bucket_name} bucket (nyc-lakehouse ${var.environment})"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.lakehouse_key.json
}

resource "aws_kms_alias" "lakehouse" {
  name          = "alias/${local.name}-lakehouse"
  target_key_id = aws_kms_key.lakehouse.key_id
}
