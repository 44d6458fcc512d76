output "bucket_name" {
  description = "Lakehouse bucket (landing, Delta tables of every layer, reporting files)."
  value       = aws_s3_bucket.lakehouse.id
}

output "access_logs_bucket_name" {
  description = "Bucket receiving the lakehouse bucket's S3 server access logs."
  value       = aws_s3_bucket.access_logs.id
}

output "kms_key_arn" {
  description = "Customer-managed KMS key encrypting the lakehouse bucket."
  value       = aws_kms_key.lakehouse.arn
}

output "unity_catalog_role_arn" {
  description = "IAM role assumed by Unity Catalog (storage credential)."
  value       = aws_iam_role.unity_catalog.arn
}

output "storage_credential_name" {
  description = "Unity Catalog storage credential."
  value       = databricks_storage_credential.lakehouse.name
}

output "external_location_urls" {
  description = "External location URL of each layer."
  value       = { for layer, location in databricks_external_location.layer : layer => location.url }
}

output "catalog_name" {
  description = "Unity Catalog catalog: set the bundle target's `catalog` variable to this."
  value       = databricks_catalog.lakehouse.name
}

output "landing_volume_path" {
  description = "Landing zone path seen by jobs (conf/databricks landing_root)."
  value       = "/Volumes/${databricks_catalog.lakehouse.name}/landing/files"
}

output "files_volume_path" {
  description = "Reporting files path seen by jobs (conf/databricks files_root)."
  value       = "/Volumes/${databricks_catalog.lakehouse.name}/reporting/files"
}
