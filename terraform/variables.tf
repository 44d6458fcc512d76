variable "environment" {
  description = "Deployment environment; one Terraform workspace/state per environment."
  type        = string
  default     = "dev"

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "aws_region" {
  description = "AWS region of the bucket; must be the region of the Databricks workspace."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every AWS and Databricks resource name."
  type        = string
  default     = "nyc-lakehouse"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix: 3-32 lowercase letters, digits and dashes."
  }
}

variable "bucket_name" {
  description = "Name of the lakehouse bucket. Default: <name_prefix>-<environment>-<account id>."
  type        = string
  default     = null
}

variable "catalog_name" {
  description = "Unity Catalog catalog. Default: nyc_lakehouse (prod) or nyc_lakehouse_dev (dev); must match the bundle target's `catalog` variable."
  type        = string
  default     = null
}

variable "databricks_host" {
  description = "Workspace URL (https://<workspace>.cloud.databricks.com). Null: taken from DATABRICKS_HOST."
  type        = string
  default     = null
}

variable "unity_catalog_master_role_arn" {
  description = "The Databricks Unity Catalog master role that assumes our role (Databricks docs, \"Create a storage credential\"; AWS commercial value by default, differs in GovCloud)."
  type        = string
  default     = "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL" # pragma: allowlist secret (public Databricks role ARN)

  validation {
    condition     = can(regex("^arn:aws(-us-gov)?:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", var.unity_catalog_master_role_arn))
    error_message = "unity_catalog_master_role_arn must be one IAM role ARN (no wildcard)."
  }
}

variable "landing_infrequent_access_after_days" {
  description = "Landing Parquet files move to STANDARD_IA after this many days (bronze has copied them by then)."
  type        = number
  default     = 30
}

variable "landing_archive_after_days" {
  description = "Landing Parquet files move to the archive class after this many days."
  type        = number
  default     = 90
}

variable "landing_archive_storage_class" {
  description = "Archive class of old landing files: GLACIER (cheapest; restore before re-reading) or GLACIER_IR (instant reads)."
  type        = string
  default     = "GLACIER"

  validation {
    condition     = contains(["GLACIER", "GLACIER_IR", "DEEP_ARCHIVE"], var.landing_archive_storage_class)
    error_message = "landing_archive_storage_class must be GLACIER, GLACIER_IR or DEEP_ARCHIVE."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept (undo window after a bad write or VACUUM)."
  type        = number
  default     = 30
}

variable "access_log_retention_days" {
  description = "Days the S3 server access logs are kept."
  type        = number
  default     = 365
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the bucket's KMS key is deleted after `terraform destroy`."
  type        = number
  default     = 30
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete non-empty buckets. Keep false in prod."
  type        = bool
  default     = false
}

variable "data_engineers_group" {
  description = "Databricks group that builds and operates the lakehouse: read/write on every schema in dev, read-only in prod (only the job service principal writes there). Empty: no grant."
  type        = string
  default     = "nyc-lakehouse-engineers"
}

variable "analysts_group" {
  description = "Databricks group that reads gold, ml and reporting. Empty: no grant."
  type        = string
  default     = "nyc-lakehouse-analysts"
}

variable "job_service_principal" {
  description = "Application ID of the service principal the prod jobs run as (bundle var run_as_service_principal). Empty: no grant."
  type        = string
  default     = ""
}

variable "kms_key_administrators" {
  description = "IAM ARNs that administer the bucket's KMS key (policy, rotation, deletion; never encrypt or decrypt). Empty: the account, through IAM policies."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.kms_key_administrators : can(regex("^arn:aws(-us-gov)?:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]+$", arn))])
    error_message = "kms_key_administrators: IAM role or user ARNs (no wildcard)."
  }
}

variable "databricks_workspace_id" {
  description = "Numeric ID of the workspace the catalog is bound to (the number in the workspace URL, ?o=<id>); no other workspace of the metastore can reach the catalog."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{1,20}$", var.databricks_workspace_id))
    error_message = "databricks_workspace_id: the workspace's numeric ID."
  }
}

variable "tags" {
  description = "Extra tags on every AWS resource."
  type        = map(string)
  default     = {}
}
