"""GitHub Actions: tests on pull requests, dev deployment from main, secrets only from GitHub."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads `on:` as True
    return workflow


def run_commands(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_ci_runs_make_test_on_pull_requests():
    workflow = load("ci.yml")
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read"}
    assert any(
        cmd.strip() == "make test" for job in workflow["jobs"].values() for cmd in run_commands(job)
    )


def test_deploy_tests_first_then_deploys_dev_from_main():
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert "make test" in run_commands(jobs["test"])
    deploy = jobs["deploy-dev"]
    assert deploy["needs"] == "test"
    commands = run_commands(deploy)
    assert "databricks bundle validate -t dev" in commands
    assert "databricks bundle deploy -t dev" in commands
    assert not any("-t prod" in c for c in commands), "prod is deployed by a person, not by CI"
    assert deploy["env"]["DATABRICKS_HOST"] == "${{ secrets.DATABRICKS_HOST }}"
    assert deploy["env"]["DATABRICKS_TOKEN"] == "${{ secrets.DATABRICKS_TOKEN }}"


def test_workflows_take_credentials_only_from_github_secrets():
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        for name, value in re.findall(
            r"^\s*(\w*(?:TOKEN|SECRET|PASSWORD)\w*):\s*(.+)$", text, re.M
        ):
            assert value.strip().startswith("${{ secrets."), f"{path.name}: {name}"
        for job in load(path.name)["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    assert "@" in step["uses"], f"{path.name}: unpinned action {step['uses']}"
                    ref = step["uses"].rsplit("@", 1)[1]
                    assert ref not in ("main", "master", "latest"), (
                        f"{path.name}: {step['uses']} follows a moving branch; pin a release"
                    )
