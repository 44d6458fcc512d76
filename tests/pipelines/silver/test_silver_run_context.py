"""Run context and the silver-specific dataset switches (no Spark needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nyc_lakehouse.pipelines.silver import nodes
from nyc_lakehouse.pipelines.silver.datasets import RefreshableDeltaTableDataset

UPSERT = {"mode": "upsert", "keys": ["k"], "sequence_column": "s", "partition_by": ["m"]}


def test_run_context_defaults_to_now_and_accepts_a_pinned_as_of():
    run = nodes.start_silver_run(None)
    assert run["run_id"].startswith("silver-") and run["as_of"] == run["started_at"]
    assert nodes.start_silver_run(None)["run_id"] != run["run_id"]
    pinned = nodes.start_silver_run("2024-06-01T08:00:00-04:00")
    assert pinned["as_of"] == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert nodes.start_silver_run("2024-06-01T12:00:00")["as_of"] == datetime(
        2024, 6, 1, 12, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="silver.as_of='yesterday' is not an ISO date-time"):
        nodes.start_silver_run("yesterday")


@pytest.mark.parametrize(
    ("flag", "expected_mode"),
    [(False, "upsert"), ("false", "upsert"), (True, "overwrite"), ("true", "overwrite")],
)
def test_full_refresh_switches_the_upsert_to_an_overwrite(tmp_path, flag, expected_mode):
    dataset = RefreshableDeltaTableDataset(
        table="silver.t", root=str(tmp_path), full_refresh=flag, save_args=dict(UPSERT)
    )
    described = dataset._describe()
    assert described["save_args"]["mode"] == expected_mode
    assert described["save_args"]["partition_by"] == ["m"]
    if expected_mode == "overwrite":
        assert (
            "keys" not in described["save_args"] and "sequence_column" not in described["save_args"]
        )


def test_full_refresh_rejects_a_typo(tmp_path):
    with pytest.raises(ValueError, match="full_refresh='ture'"):
        RefreshableDeltaTableDataset(table="silver.t", root=str(tmp_path), full_refresh="ture")
