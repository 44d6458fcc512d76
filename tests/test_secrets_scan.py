"""No secret in the repository: detect-secrets over every file git would commit, plus our rules.

Tokens reach the code only from the environment or a Databricks secret scope; machine-local
configuration (conf/local) is git-ignored. Findings that are not secrets are listed in ALLOWED
by their hash, with the reason: changing the value makes it a finding again.

The `detect_secrets` module comes from bc-detect-secrets, checkov's fork. Upstream
detect-secrets installs the same module with other rules, and which copy wins depends on
install order, so only one of them is a dependency.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# (path, detect-secrets type, hashed value) -> why it is not a secret.
ALLOWED: dict[tuple[str, str, str], str] = {
    (
        "src/nyc_lakehouse/sources/sample.py",
        "Base64 High Entropy String",
        "c4e38f555dfce992590586c15e54f04fcf9b11e2",  # pragma: allowlist secret
    ): "the alphabet the sample generator draws fake identifiers from",
    (
        "tests/sources/test_socrata_client.py",
        "Secret Keyword",
        "2f7ccde7c0ef5b635e8c6bc53c100da12542ba5d",  # pragma: allowlist secret
    ): "a fake app token the test asserts is never logged",
    (
        "tests/sources/test_socrata_client.py",
        "Secret Keyword",
        "81145fd9800b1b019815c93d0ab1e0024022e4a8",  # pragma: allowlist secret
    ): "a fake app token the test asserts is never shown in errors",
}
# Lock file: package URLs and sha256 hashes only (the largest file; most of the scan time).
# requirements-databricks.txt is its export (pins and hashes; tests/deploy/test_security.py
# checks it equals `uv export` of the lock).
NOT_SCANNED = {"uv.lock", "requirements-databricks.txt"}
# Token formats detect-secrets does not know, or that must never appear even in tests.
TOKEN_PATTERNS = {
    "Databricks personal access token": r"\bdapi[0-9a-f]{32}\b",
    "AWS access key id": r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",
    "GitHub token": r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",
    "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
}


def committable_files() -> list[str]:
    """Tracked files plus new files that are not ignored: everything `git add -A` would take."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(
        f for f in set(out.splitlines()) if f not in NOT_SCANNED and (PROJECT_ROOT / f).is_file()
    )


def scan(paths: list[str], root: Path) -> list[tuple[str, str, str, int]]:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    collection = SecretsCollection(root=str(root))
    with default_settings():
        for path in paths:
            collection.scan_file(path)
    return [
        (filename, secret.type, secret.secret_hash, secret.line_number or 0)
        for filename, secrets in collection.data.items()
        for secret in secrets
    ]


def is_text(path: Path) -> bool:
    return b"\0" not in path.read_bytes()[:4096]


def test_detect_secrets_finds_nothing_in_committable_files(monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    files = committable_files()
    assert "databricks.yml" in files and "pyproject.toml" in files
    findings = [f for f in scan(files, PROJECT_ROOT) if f[:3] not in ALLOWED]
    assert not findings, "possible secrets (path, type, hash, line):\n" + "\n".join(
        map(str, findings)
    )


def test_the_scanner_reports_a_planted_secret(tmp_path, monkeypatch):
    """The scan above can fail: a credential planted in a file is found."""
    key_id = "AKIA" + "Z7Q4" + "X2MB" + "9KLP" + "3WRT"
    secret = "wJalr" + "XUtnFEMI/K7MDENG/bPxRfi" + "CYzEXAMPLEKEY"  # pragma: allowlist secret
    planted = tmp_path / "settings.py"
    planted.write_text(f'aws_access_key_id = "{key_id}"\naws_secret_access_key = "{secret}"\n')
    monkeypatch.chdir(tmp_path)
    types = {finding[1] for finding in scan(["settings.py"], tmp_path)}
    assert "AWS Access Key" in types


@pytest.mark.parametrize("name", sorted(TOKEN_PATTERNS))
def test_no_token_literal_in_any_file(name):
    pattern = re.compile(TOKEN_PATTERNS[name])
    hits = [
        f
        for f in committable_files()
        if is_text(PROJECT_ROOT / f)
        and pattern.search((PROJECT_ROOT / f).read_text(encoding="utf-8", errors="replace"))
    ]
    assert not hits, f"{name} in {hits}"


def test_local_configuration_and_state_are_git_ignored():
    candidates = [
        "conf/local/credentials.yml",
        "conf/local/parameters.yml",
        ".env",
        "terraform/terraform.tfstate",
        "terraform/prod.tfvars",
        "mlflow.db",
    ]
    result = subprocess.run(
        ["git", "check-ignore", *candidates], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert sorted(result.stdout.split()) == sorted(candidates)
    tracked_local = subprocess.run(
        ["git", "ls-files", "conf/local"], cwd=PROJECT_ROOT, capture_output=True, text=True
    ).stdout.split()
    assert set(tracked_local) <= {"conf/local/.gitkeep"}


def leaves(tree: Any) -> list[Any]:
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in leaves(value)]
    if isinstance(tree, list):
        return [leaf for value in tree for leaf in leaves(value)]
    return [tree]


def test_committed_credentials_files_hold_only_environment_references():
    """A credentials file in the repo may say *where* a secret comes from, never the secret."""
    files = [f for f in committable_files() if re.search(r"(^|/)credentials[^/]*\.ya?ml$", f)]
    for path in files:
        for value in leaves(yaml.safe_load((PROJECT_ROOT / path).read_text()) or {}):
            assert value is None or re.fullmatch(r"\$\{(oc\.env|env):[^}]+\}", str(value)), (
                f"{path}: literal credential value {str(value)[:4]}..."
            )


def test_code_reads_tokens_from_the_environment_not_from_literals():
    """Assignments like `token = "..."` / `password: ...` with a literal value, outside tests."""
    pattern = re.compile(
        r"""(?ix)\b(token|secret|password|api_key|access_key)\w*\s*[:=]\s*["'][A-Za-z0-9/+_\-]{12,}["']"""
    )
    offenders = []
    for f in committable_files():
        if f.startswith("tests/") or not f.endswith(
            (".py", ".yml", ".yaml", ".toml", ".tf", ".json")
        ):
            continue
        text = (PROJECT_ROOT / f).read_text(encoding="utf-8", errors="replace")
        offenders += [f"{f}: {m.group(0)[:40]}" for m in pattern.finditer(text)]
    assert not offenders, offenders
