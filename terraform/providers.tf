provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

# Workspace-level provider. Credentials never go in variables or files: the provider reads
# DATABRICKS_HOST + DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID/SECRET for a service principal,
# or a ~/.databrickscfg profile via DATABRICKS_CONFIG_PROFILE) from the environment.
provider "databricks" {
  host = var.databricks_host
}
