"""Terraform for S3, IAM and Unity Catalog: parses, passes checkov, and keeps its security promises.

Offline: bc-python-hcl2 (checkov's own HCL parser) parses the files, checkov scans them (no provider download, no cloud),
and the assertions read the parsed configuration directly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = PROJECT_ROOT / "terraform"
LAYERS = ("landing", "bronze", "silver", "gold")
SCHEMAS = {"landing", "bronze", "silver", "gold", "ml", "monitoring", "reporting"}


def scalar(value: Any) -> Any:
    """The HCL parser wraps attribute values in one-element lists; unwrap them."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def block(value: Any) -> dict[str, Any]:
    value = scalar(value)
    assert isinstance(value, dict), value
    return value


@pytest.fixture(scope="module")
def tf() -> dict[str, Any]:
    """All .tf files merged: {"resource": {type: {name: body}}, "data": ..., "variable": ...}."""
    merged: dict[str, Any] = {
        "resource": {},
        "data": {},
        "variable": {},
        "output": {},
        "locals": {},
    }
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle)
        for kind in ("resource", "data"):
            for item in parsed.get(kind, []):
                for rtype, named in item.items():
                    merged[kind].setdefault(rtype, {}).update(named)
        for kind in ("variable", "output"):
            for item in parsed.get(kind, []):
                merged[kind].update(item)
        for item in parsed.get("locals", []):
            merged["locals"].update(item)
        if "terraform" in parsed:
            merged["terraform"] = parsed["terraform"]
    return merged


def statements(tf: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return tf["data"]["aws_iam_policy_document"][name]["statement"]


def test_every_file_parses_and_the_expected_resources_exist(tf):
    resources = tf["resource"]
    for rtype in (
        "aws_s3_bucket",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_s3_bucket_logging",
        "aws_kms_key",
        "aws_iam_role",
        "aws_iam_policy",
        "databricks_storage_credential",
        "databricks_external_location",
        "databricks_catalog",
        "databricks_schema",
        "databricks_grants",
        "databricks_volume",
    ):
        assert rtype in resources, f"terraform/ has no {rtype}"


def test_providers_are_pinned_with_upper_bounds(tf):
    providers = block(block(tf["terraform"])["required_providers"])
    for name in ("aws", "databricks"):
        version = block(providers[name])["version"]
        assert ">=" in version and "<" in version.replace("<=", ""), f"{name}: {version}"


def test_bucket_is_versioned_kms_encrypted_private_and_logged(tf):
    r = tf["resource"]
    versioning = block(r["aws_s3_bucket_versioning"]["lakehouse"]["versioning_configuration"])
    assert scalar(versioning["status"]) == "Enabled"
    rule = block(r["aws_s3_bucket_server_side_encryption_configuration"]["lakehouse"]["rule"])
    default = block(rule["apply_server_side_encryption_by_default"])
    assert scalar(default["sse_algorithm"]) == "aws:kms"
    assert "aws_kms_key.lakehouse.arn" in scalar(default["kms_master_key_id"])
    key = r["aws_kms_key"]["lakehouse"]
    assert scalar(key["enable_key_rotation"]) is True
    public = r["aws_s3_bucket_public_access_block"]["lakehouse"]
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert scalar(public[flag]) is True, flag
    logging = r["aws_s3_bucket_logging"]["lakehouse"]
    assert "aws_s3_bucket.access_logs" in scalar(logging["target_bucket"])


def test_bucket_policy_denies_plain_http(tf):
    denies = [s for s in statements(tf, "lakehouse_bucket") if scalar(s.get("effect")) == "Deny"]
    conditions = [block(c) for s in denies for c in s["condition"]]
    assert any(
        scalar(c["variable"]) == "aws:SecureTransport" and scalar(c["values"]) == "false"
        for c in conditions
    )


def test_lifecycle_tiers_landing_and_expires_old_versions(tf):
    rules = tf["resource"]["aws_s3_bucket_lifecycle_configuration"]["lakehouse"]["rule"]
    by_id = {scalar(rule["id"]): rule for rule in rules}
    landing = by_id["landing-tiering"]
    landing_filter = block(block(landing["filter"])["and"])
    assert scalar(landing_filter["prefix"]) == "landing/"
    classes = [scalar(block(t)["storage_class"]) for t in landing["transition"]]
    assert classes[0] == "STANDARD_IA"
    assert classes[1] == "${var.landing_archive_storage_class}"
    assert scalar(block(tf["variable"]["landing_archive_storage_class"])["default"]) == "GLACIER"
    assert all("abort_incomplete_multipart_upload" in rule for rule in rules)
    assert any("noncurrent_version_expiration" in rule for rule in rules)


def test_unity_catalog_trust_requires_the_external_id_and_names_no_wildcard(tf):
    trust = statements(tf, "unity_catalog_trust")
    assert trust
    for statement in trust:
        principals = [block(p) for p in statement["principals"]]
        identifiers = [json.dumps(p["identifiers"]) for p in principals]
        assert identifiers and not any("*" in i for i in identifiers), statement
        variables = {scalar(block(c)["variable"]) for c in statement["condition"]}
        assert "sts:ExternalId" in variables, (
            f"statement {scalar(statement['sid'])} lacks sts:ExternalId"
        )
    master = block(tf["variable"]["unity_catalog_master_role_arn"])
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]+", scalar(master["default"]))
    role = tf["resource"]["aws_iam_role"]["unity_catalog"]
    assert "unity_catalog_trust" in scalar(role["assume_role_policy"])


def test_no_policy_allows_a_wildcard_principal(tf):
    for name, document in tf["data"]["aws_iam_policy_document"].items():
        for statement in document["statement"]:
            if scalar(statement.get("effect", "Allow")) == "Deny":
                continue
            for principal in statement.get("principals", []):
                assert "*" not in json.dumps(block(principal)["identifiers"]), (
                    f"{name}: {statement}"
                )


def test_unity_catalog_access_is_scoped_to_the_bucket_and_its_key(tf):
    access = statements(tf, "unity_catalog_access")
    for statement in access:
        resources = json.dumps(statement["resources"])
        assert '"*"' not in resources, f"{scalar(statement['sid'])}: wildcard resource"
        assert any(
            ref in resources
            for ref in (
                "aws_s3_bucket.lakehouse.arn",
                "aws_kms_key.lakehouse.arn",
                "local.uc_role_arn",
            )
        )
    objects = next(s for s in access if scalar(s["sid"]) == "ReadWriteLayerObjects")
    assert "local.layer_prefixes" in json.dumps(objects["resources"])
    actions: set[str] = set()
    for statement in access:
        value = scalar(statement["actions"])
        actions |= {value} if isinstance(value, str) else set(value)
    assert not {a for a in actions if a.endswith("*") and not a.startswith("kms:GenerateDataKey")}
    assert "s3:PutBucketPolicy" not in actions and "s3:PutLifecycleConfiguration" not in actions


def test_layers_have_external_locations_and_the_catalog_has_every_schema(tf):
    prefixes = tf["locals"]["layer_prefixes"]
    prefixes = block(prefixes)
    for layer in LAYERS:
        assert prefixes[layer] == f"{layer}/"
    location = tf["resource"]["databricks_external_location"]["layer"]
    assert "local.layer_prefixes" in scalar(location["for_each"])
    schemas = tf["locals"].get("schemas")
    if schemas is None:  # declared in a second locals block
        for path in TERRAFORM.glob("*.tf"):
            for item in hcl2.load(path.open()).get("locals", []):
                schemas = item.get("schemas", schemas)
    assert set(block(schemas)) == SCHEMAS


def test_catalog_names_match_the_bundle_and_the_databricks_env(tf):
    expression = scalar(tf["locals"]["catalog_name"])
    bundle = yaml.safe_load((PROJECT_ROOT / "databricks.yml").read_text())
    catalogs = {t: bundle["targets"][t]["variables"]["catalog"] for t in ("dev", "prod")}
    assert catalogs == {"dev": "nyc_lakehouse_dev", "prod": "nyc_lakehouse"}
    assert '"nyc_lakehouse"' in expression and '"nyc_lakehouse_${var.environment}"' in expression
    globals_ = (PROJECT_ROOT / "conf" / "databricks" / "globals.yml").read_text()
    # without the bundle's variable (a laptop), the databricks env falls back to dev, never prod
    assert "${env:NYC_LAKEHOUSE_CATALOG, nyc_lakehouse_dev}" in globals_


def test_variables_and_outputs_are_documented(tf):
    for kind in ("variable", "output"):
        for name, body in tf[kind].items():
            assert scalar(block(body).get("description")), f"{kind} {name} has no description"


def test_tfvars_example_sets_only_declared_variables_and_no_credentials(tf):
    path = TERRAFORM / "terraform.tfvars.example"
    with path.open() as handle:
        values = hcl2.load(handle)
    assert set(values) <= set(tf["variable"]), set(values) - set(tf["variable"])
    assert not re.search(
        r"(?i)token|secret|password|access_key", path.read_text().split("# No credentials here")[0]
    )
    for name in tf["variable"]:
        assert not re.search(r"(?i)token|secret|password", name), f"credential variable {name}"


def test_no_terraform_state_is_tracked_or_trackable():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert not [f for f in tracked if re.search(r"\.tfstate(\.|$)|(^|/)\.terraform/|\.tfvars$", f)]
    ignored = subprocess.run(
        [
            "git",
            "check-ignore",
            "terraform/terraform.tfstate",
            "terraform/prod.tfvars",
            "terraform/.terraform/providers",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert len(ignored) == 3, ignored


def run_checkov(directory: Path) -> dict[str, Any]:
    executable = Path(sys.executable).with_name("checkov")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_OUTPUT_FILE": "1"}
    result = subprocess.run(
        [
            str(executable),
            "-d",
            str(directory),
            "--framework",
            "terraform",
            "-o",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.stdout.strip(), f"checkov printed nothing: {result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_finds_no_failed_check_and_every_skip_is_justified():
    report = run_checkov(TERRAFORM)
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 30 and summary["passed"] >= 50, summary
    failed = [
        f"{c['check_id']} {c['resource']} ({c['check_name']}) {c['file_path']}:{c['file_line_range']}"
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    for check in report["results"]["skipped_checks"]:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) >= 30, (
            f"{check['check_id']} on {check['resource']}: skip without a reason"
        )


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform CLI not installed")
def test_terraform_files_are_formatted():
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-list=true", "-no-color"],
        cwd=TERRAFORM,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"run `terraform fmt terraform/`: {result.stdout}"


def test_grants_give_analysts_only_the_published_layers_and_writers_no_ownership(tf):
    """Analysts: USE_CATALOG, then read-only on gold, ml and reporting; writers: no MANAGE/ALL."""
    grants = tf["resource"]["databricks_grants"]
    catalog_grants = grants["catalog"]["dynamic"]
    analyst = next(g["grant"] for g in catalog_grants if "analysts_group" in str(g["grant"]))
    assert scalar(block(analyst["content"])["privileges"]) == "USE_CATALOG"
    # the expression text, e.g. var.analysts_group == "" ? [] : ['gold', 'ml', 'reporting']
    reader_schemas = set(
        re.findall(r"\w+", str(scalar(tf["locals"]["reader_schemas"])).split(":")[-1])
    )
    assert reader_schemas == {"gold", "ml", "reporting"}, reader_schemas
    reader_privileges = str(block(grants["reader_schema"]["grant"])["privileges"])
    for privilege in ("MODIFY", "CREATE_TABLE", "WRITE_VOLUME", "ALL_PRIVILEGES", "MANAGE"):
        assert privilege not in reader_privileges
    writer_privileges = str(tf["locals"]["writer_privileges"])
    assert "MODIFY" in writer_privileges and "CREATE_TABLE" in writer_privileges
    assert "ALL_PRIVILEGES" not in writer_privileges and "MANAGE" not in writer_privileges


# --- issue 33: least privilege on the key, the catalog and the secret scope -----------------
def actions_of(statement: dict[str, Any], tf: dict[str, Any]) -> set[str]:
    """A statement's actions, following one `local.<name>` reference."""
    value = scalar(statement["actions"])
    if isinstance(value, str) and value.startswith("${local."):
        value = scalar(tf["locals"][value.removeprefix("${local.").removesuffix("}")])
    return {value} if isinstance(value, str) else set(value)


DATA_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"}


def test_the_key_policy_splits_administration_from_use(tf):
    by_sid = {scalar(s["sid"]): s for s in statements(tf, "lakehouse_key")}
    assert set(by_sid) == {"AdministratorsManageTheKey", "UnityCatalogRoleUsesTheKeyThroughS3"}
    admin, use = (actions_of(by_sid[sid], tf) for sid in sorted(by_sid))
    for actions in (admin, use):
        assert not {a for a in actions if "*" in a}, actions  # no kms:*, no kms:Create*
    assert "kms:PutKeyPolicy" in admin and "kms:ScheduleKeyDeletion" in admin
    assert not admin & (DATA_ACTIONS | {"kms:CreateGrant", "kms:ReEncryptTo"}), admin & DATA_ACTIONS
    assert DATA_ACTIONS <= use and not use & {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"}
    user = by_sid["UnityCatalogRoleUsesTheKeyThroughS3"]
    principals = json.dumps([block(p)["identifiers"] for p in user["principals"]])
    assert "aws_iam_role.unity_catalog.arn" in principals and "root" not in principals
    conditions = {scalar(block(c)["variable"]) for c in user["condition"]}
    assert {"kms:ViaService", "kms:CallerAccount"} <= conditions


def test_humans_only_read_prod_and_write_dev(tf):
    """Prod is written by the job's service principal only; engineers read it."""
    locals_ = tf["locals"]
    writers = str(scalar(locals_["writers"]))
    assert 'local.is_prod ? "" : var.data_engineers_group' in writers.replace("'", '"'), writers
    assert "var.job_service_principal" in writers
    readers = str(scalar(locals_["engineer_readers"])).replace("'", '"')
    assert "local.is_prod ? var.data_engineers_group" in readers, readers
    read_only = set(scalar(locals_["engineer_reader_privileges"]))
    assert "SELECT" in read_only
    assert not read_only & {"MODIFY", "CREATE_TABLE", "WRITE_VOLUME", "ALL_PRIVILEGES", "MANAGE"}
    assert scalar(locals_["is_prod"]) == '${var.environment == "prod"}'
    dynamic = tf["resource"]["databricks_grants"]["catalog"]["dynamic"]
    for_each = {str(scalar(block(g["grant"])["for_each"])) for g in dynamic}
    assert any("local.engineer_readers" in f for f in for_each), for_each


def test_the_catalog_is_isolated_and_bound_to_its_workspace(tf):
    catalog = tf["resource"]["databricks_catalog"]["lakehouse"]
    assert scalar(catalog["isolation_mode"]) == "ISOLATED"
    binding = tf["resource"]["databricks_workspace_binding"]["lakehouse"]
    assert "databricks_catalog.lakehouse.name" in scalar(binding["securable_name"])
    assert scalar(binding["securable_type"]) == "catalog"
    assert scalar(binding["workspace_id"]) == "${var.databricks_workspace_id}"
    assert "default" not in block(tf["variable"]["databricks_workspace_id"])


def test_each_environment_has_its_own_secret_scope_named_as_the_bundle_reads_it(tf):
    scope = tf["resource"]["databricks_secret_scope"]["app"]
    assert scalar(scope["name"]) == "${var.name_prefix}-${var.environment}"
    prefix = scalar(block(tf["variable"]["name_prefix"])["default"])
    bundle = yaml.safe_load((PROJECT_ROOT / "databricks.yml").read_text())
    for target in ("dev", "prod"):
        assert bundle["targets"][target]["variables"]["secret_scope"] == f"{prefix}-{target}"
    acls = tf["resource"]["databricks_secret_acl"]
    assert {scalar(a["permission"]) for a in acls.values()} == {"READ"}
    engineers = acls["engineers_read_the_dev_token"]
    assert "local.is_prod" in str(scalar(engineers["count"]))
