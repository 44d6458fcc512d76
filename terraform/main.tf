data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name         = "${var.name_prefix}-${var.environment}"
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  bucket_name  = coalesce(var.bucket_name, "${local.name}-${local.account_id}")
  logs_bucket  = "${local.bucket_name}-access-logs"
  catalog_name = coalesce(var.catalog_name, var.environment == "prod" ? "nyc_lakehouse" : "nyc_lakehouse_${var.environment}")

  # One S3 prefix per layer, each a Unity Catalog external location. `catalog/` is the
  # catalog's managed root (and the landing schema's); `landing/files/` is the landing volume.
  layer_prefixes = {
    catalog    = "catalog/"
    landing    = "landing/"
    bronze     = "bronze/"
    silver     = "silver/"
    gold       = "gold/"
    ml         = "ml/"
    monitoring = "monitoring/"
    reporting  = "reporting/"
  }

  # The role Unity Catalog assumes. Its ARN is known before it exists: the storage credential
  # needs it to issue the external ID that the role's trust policy then requires.
  uc_role_name = "${local.name}-unity-catalog"
  uc_role_arn  = "arn:${local.partition}:iam::${local.account_id}:role/${local.uc_role_name}"

  tags = merge(
    {
      project     = "nyc-lakehouse"
      environment = var.environment
      managed-by  = "terraform"
    },
    var.tags,
  )
}
