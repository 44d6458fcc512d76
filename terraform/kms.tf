# Customer-managed key for the lakehouse bucket (SSE-KMS), rotated yearly by AWS.
data "aws_iam_policy_document" "lakehouse_key" {
  #checkov:skip=CKV_AWS_109:Key policy: "*" is this key only, and the only principal is this account, which delegates to IAM policies (the AWS default key policy); without it the key becomes unmanageable.
  #checkov:skip=CKV_AWS_111:Key policy: "*" is this key only; write use is granted by IAM (the Unity Catalog role's policy, constrained to kms:ViaService S3).
  #checkov:skip=CKV_AWS_356:Key policies must use "*" as resource: it means the key the policy is attached to, not every resource.
  # The account administers the key through IAM (the AWS default key policy); no other
  # principal is named here, so IAM policies decide who may use it (the Unity Catalog role).
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
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
