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
  properties = {
    environment = var.environment
  }
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
  writers = compact([var.data_engineers_group, var.job_service_principal])
  writer_privileges = [
    "USE_CATALOG", "USE_SCHEMA", "SELECT", "MODIFY", "CREATE_TABLE", "CREATE_FUNCTION",
    "CREATE_MODEL", "CREATE_VOLUME", "READ_VOLUME", "WRITE_VOLUME", "EXECUTE",
  ]
  reader_schemas = var.analysts_group == "" ? [] : ["gold", "ml", "reporting"]
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
