# Unity Catalog objects of one environment: credential, external locations, catalog, schemas,
# volumes and grants. Table names follow `<catalog>.<schema>.<table>` (conf/databricks).

resource "databricks_storage_credential" "lakehouse" {
  name    = "${local.name}-s3"
  comment = "IAM role ${local.uc_role_name} on s3://${local.bucket_name} (managed by Terraform)"
  aws_iam_role {
    role_arn = local.uc_role_arn
  }
}

resource "databricks_external_location" "layer" {
  for_each        = local.layer_prefixes
  name            = "${local.name}-${each.key}"
  url             = "s3://${aws_s3_bucket.lakehouse.id}/${each.value}"
  credential_name = databricks_storage_credential.lakehouse.name
  comment         = "nyc-lakehouse ${var.environment}: ${each.key}"
  depends_on      = [time_sleep.iam_propagation]
}

resource "databricks_catalog" "lakehouse" {
  name         = local.catalog_name
  comment      = "NYC 311/911 lakehouse (${var.environment})"
  storage_root = databricks_external_location.layer["catalog"].url
  # Reachable only from the workspaces bound below, not from every workspace of the metastore.
  isolation_mode = "ISOLATED"
  properties = {
    environment = var.environment
  }
}

resource "databricks_workspace_binding" "lakehouse" {
  securable_name = databricks_catalog.lakehouse.name
  securable_type = "catalog"
  workspace_id   = var.databricks_workspace_id
  binding_type   = "BINDING_TYPE_READ_WRITE"
}

locals {
  # Schema -> where its managed tables live. landing keeps the catalog root: its data is the
  # external volume below, not tables.
  schemas = {
    landing    = "Landing zone: raw Parquet batches of the API, committed by manifest (volume `files`)."
    bronze     = "Bronze: source rows as received, with ingestion audit columns."
    silver     = "Silver: typed, cleaned, quality-checked, deduplicated (MERGE) tables."
    gold       = "Gold: star schema, aggregates, 911 KPIs and analyses."
    ml         = "ML: forecasting features, backtest metrics, forecasts and registered models."
    monitoring = "Monitoring: data-quality results, batch logs and pipeline metrics."
    reporting  = "Reporting: dashboard and chart files (volume `files`)."
  }
}

resource "databricks_schema" "layer" {
  for_each     = local.schemas
  catalog_name = databricks_catalog.lakehouse.name
  name         = each.key
  comment      = each.value
  storage_root = each.key == "landing" ? null : databricks_external_location.layer[each.key].url
}

# /Volumes/<catalog>/landing/files: the landing zone (conf/databricks globals landing_root).
resource "databricks_volume" "landing" {
  catalog_name     = databricks_catalog.lakehouse.name
  schema_name      = databricks_schema.layer["landing"].name
  name             = "files"
  volume_type      = "EXTERNAL"
  storage_location = "s3://${aws_s3_bucket.lakehouse.id}/${local.layer_prefixes.landing}files"
  comment          = "Landing zone batches; tiered to IA/Glacier by the bucket lifecycle"
  depends_on       = [databricks_external_location.layer]
}

# /Volumes/<catalog>/reporting/files: dashboards and chart JSON (globals files_root).
resource "databricks_volume" "files" {
  catalog_name = databricks_catalog.lakehouse.name
  schema_name  = databricks_schema.layer["reporting"].name
  name         = "files"
  volume_type  = "MANAGED"
  comment      = "Dashboard HTML, chart JSON and CSV extracts"
}

locals {
  # Prod is written by the job's service principal only: engineers read it (and run, repair
  # or cancel the jobs, databricks.yml), so a change reaches prod through a reviewed deploy.
  is_prod = var.environment == "prod"
  writers = compact([local.is_prod ? "" : var.data_engineers_group, var.job_service_principal])
  writer_privileges = [
    "USE_CATALOG", "USE_SCHEMA", "SELECT", "MODIFY", "CREATE_TABLE", "CREATE_FUNCTION",
    "CREATE_MODEL", "CREATE_VOLUME", "READ_VOLUME", "WRITE_VOLUME", "EXECUTE",
  ]
  engineer_readers           = compact([local.is_prod ? var.data_engineers_group : ""])
  engineer_reader_privileges = ["USE_CATALOG", "USE_SCHEMA", "SELECT", "READ_VOLUME", "EXECUTE"]
  reader_schemas             = var.analysts_group == "" ? [] : ["gold", "ml", "reporting"]
}

# Authoritative: these are the only catalog-level grants (owners aside).
resource "databricks_grants" "catalog" {
  catalog = databricks_catalog.lakehouse.name

  dynamic "grant" {
    for_each = toset(local.writers)
    content {
      principal  = grant.value
      privileges = local.writer_privileges
    }
  }

  dynamic "grant" {
    for_each = toset(local.engineer_readers)
    content {
      principal  = grant.value
      privileges = local.engineer_reader_privileges
    }
  }

  dynamic "grant" {
    for_each = var.analysts_group == "" ? [] : [var.analysts_group]
    content {
      principal  = grant.value
      privileges = ["USE_CATALOG"]
    }
  }
}

# Analysts read the published layers only: not landing, bronze, silver or monitoring.
resource "databricks_grants" "reader_schema" {
  for_each = toset(local.reader_schemas)
  schema   = databricks_schema.layer[each.key].id

  grant {
    principal  = var.analysts_group
    privileges = each.key == "reporting" ? ["USE_SCHEMA", "SELECT", "READ_VOLUME"] : ["USE_SCHEMA", "SELECT", "EXECUTE"]
  }
}

# The NYC Open Data app token: one scope per environment (bundle variable secret_scope:
# nyc-lakehouse-dev / nyc-lakehouse-prod), so a dev job never reads the prod token. The value
# is put by a person (docs/deploy.md), never by Terraform: it would land in the state. Who
# creates the scope manages it (and workspace admins always can); the job's service principal
# may read it; in dev, the engineers whose jobs run as themselves may read it too.
resource "databricks_secret_scope" "app" {
  name = "${var.name_prefix}-${var.environment}"
}

resource "databricks_secret_acl" "job_reads_the_token" {
  count      = var.job_service_principal == "" ? 0 : 1
  scope      = databricks_secret_scope.app.name
  principal  = var.job_service_principal
  permission = "READ"
}

resource "databricks_secret_acl" "engineers_read_the_dev_token" {
  count      = local.is_prod || var.data_engineers_group == "" ? 0 : 1
  scope      = databricks_secret_scope.app.name
  principal  = var.data_engineers_group
  permission = "READ"
}
