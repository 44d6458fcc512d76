# The IAM role Unity Catalog assumes to reach the bucket (the storage credential's role).
#
# Trust: only the Databricks Unity Catalog master role (a named ARN, never "*") and the role
# itself (Unity Catalog requires self-assumption), and only with the external ID that
# Databricks issued for our storage credential: no other Databricks customer can use it.
data "aws_iam_policy_document" "unity_catalog_trust" {
  statement {
    sid     = "UnityCatalogAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [var.unity_catalog_master_role_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [databricks_storage_credential.lakehouse.aws_iam_role[0].external_id]
    }
  }

  # A trust policy cannot name a role that does not exist yet (this one), so the account is
  # the principal and the caller must be exactly this role.
  statement {
    sid     = "ExplicitSelfRoleAssumption"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [local.uc_role_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [databricks_storage_credential.lakehouse.aws_iam_role[0].external_id]
    }
  }
}

resource "aws_iam_role" "unity_catalog" {
  name                 = local.uc_role_name
  description          = "Unity Catalog storage credential of nyc-lakehouse ${var.environment}"
  assume_role_policy   = data.aws_iam_policy_document.unity_catalog_trust.json
  max_session_duration = 3600
}

# Least privilege: object access only under the layer prefixes, listing only of them, the
# bucket's own KMS key only through S3, and self-assumption. No bucket administration
# (no PutLifecycleConfiguration / PutBucketPolicy): Terraform owns the bucket's settings.
data "aws_iam_policy_document" "unity_catalog_access" {
  statement {
    sid     = "ReadWriteLayerObjects"
    actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"]
    resources = [
      for prefix in values(local.layer_prefixes) : "${aws_s3_bucket.lakehouse.arn}/${prefix}*"
    ]
  }

  statement {
    sid       = "ListLayerPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lakehouse.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = flatten([
        for prefix in values(local.layer_prefixes) : [trimsuffix(prefix, "/"), "${prefix}*"]
      ])
    }
  }

  statement {
    sid       = "LocateBucket"
    actions   = ["s3:GetBucketLocation", "s3:GetLifecycleConfiguration"]
    resources = [aws_s3_bucket.lakehouse.arn]
  }

  statement {
    sid       = "UseBucketKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = [aws_kms_key.lakehouse.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.aws_region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "SelfAssume"
    actions   = ["sts:AssumeRole"]
    resources = [local.uc_role_arn]
  }
}

resource "aws_iam_policy" "unity_catalog_access" {
  name        = "${local.uc_role_name}-access"
  description = "Unity Catalog access to the layer prefixes of ${local.bucket_name}"
  policy      = data.aws_iam_policy_document.unity_catalog_access.json
}

resource "aws_iam_role_policy_attachment" "unity_catalog_access" {
  role       = aws_iam_role.unity_catalog.name
  policy_arn = aws_iam_policy.unity_catalog_access.arn
}

# IAM is eventually consistent: Databricks validates an external location by assuming the
# role, which fails for a few seconds after the role and its policy are created.
resource "time_sleep" "iam_propagation" {
  create_duration = "30s"
  depends_on      = [aws_iam_role_policy_attachment.unity_catalog_access]
}
