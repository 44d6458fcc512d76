# Provider pins. `terraform init` writes .terraform.lock.hcl: commit it, never the state
# (*.tfstate is git-ignored; use the S3 backend below for a team).
terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80.0, < 7.0.0"
    }
    databricks = {
      source  = "databricks/databricks"
      version = ">= 1.70.0, < 2.0.0"
    }
    time = {
      source  = "hashicorp/time"
      version = ">= 0.12.0, < 1.0.0"
    }
  }

  # Shared, locked state for a team (create the state bucket and lock table once, by hand):
  # backend "s3" {
  #   bucket         = "<your-terraform-state-bucket>"
  #   key            = "nyc-lakehouse/terraform.tfstate"
  #   region         = "us-east-1"
  #   dynamodb_table = "<your-lock-table>"
  #   encrypt        = true
  # }
}
