"""One source or both: the ``sources`` setting, ingestion of a source turned off, and the
dashboard's note for a source without data (the whole-lakehouse runs are in
tests/test_single_source_lakehouse.py)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from nyc_lakehouse.lakehouse_sources import SOURCES, enabled_sources
from nyc_lakehouse.landing import LandingZone
from nyc_lakehouse.pipelines.ingestion.pipeline import create_pipeline, land_enabled_source
from nyc_lakehouse.pipelines.reporting import nodes as reporting_nodes
from nyc_lakehouse.pipelines.reporting.pipeline import create_pipeline as reporting_pipeline


def test_sources_setting_names_the_sources_it_turns_on():
    assert enabled_sources(None) == SOURCES == ("nyc311", "nyc911")
    assert enabled_sources({"nyc311": False}) == ("nyc911",)
    assert enabled_sources({"nyc911": False, "nyc311": True}) == ("nyc311",)
    with pytest.raises(ValueError, match=r"unknown source\(s\) \['nyc411'\]"):
        enabled_sources({"nyc411": True})
    with pytest.raises(ValueError, match="true or false"):
        enabled_sources({"nyc311": "no"})
    with pytest.raises(ValueError, match="every source is turned off"):
        enabled_sources({"nyc311": False, "nyc911": False})


def test_a_source_turned_off_lands_nothing(tmp_path, caplog):
    zone = LandingZone(str(tmp_path / "landing"))
    params = {"dataset": "nyc311", "source": "sample", "start": "2021-01-01", "end": "2021-01-31"}
    with caplog.at_level("WARNING"):
        summary = land_enabled_source(zone, params, None, {"nyc311": False})
    assert summary["source"] == "off" and summary["batches_landed"] == []
    assert not (tmp_path / "landing").exists()
    assert "source nyc311 is turned off (parameter sources.nyc311: false)" in caplog.text


def test_each_source_has_its_own_ingestion_node():
    both = create_pipeline()
    assert sorted(n.name for n in both.nodes) == ["nyc311.land_batches", "nyc911.land_batches"]
    (only_911,) = create_pipeline(sources=["nyc911"]).nodes
    assert only_911.outputs == ["ingestion.nyc911_done"]
    assert "params:sources" in only_911.inputs and "params:nyc911.ingestion" in only_911.inputs


def test_dashboard_charts_of_a_source_without_data_are_a_note(caplog):
    charts = {n.name: n for n in reporting_pipeline().nodes}
    empty_kpis = pd.DataFrame(columns=["agency_scope", "total_incidents", "sla_breach_pct"])
    with caplog.at_level("WARNING"):
        note = charts["chart_nyc911_kpi_tiles"].func(empty_kpis, {})
    assert note.layout.meta == {"absent_source": "nyc911"}
    assert "No 911 end-to-end weekly times data" in note.layout.annotations[0].text
    assert "No nyc911 data" in caplog.text
    daily = pd.DataFrame({"created_date": [date(2021, 1, 1)], "total_requests": [5]})
    columns = {"date": "created_date", "requests": "total_requests"}
    drawn = charts["chart_nyc311_daily_volume"].func(daily, columns, 7)
    expected = reporting_nodes.nyc311_daily_volume_chart(daily, columns, 7)
    assert drawn.to_json() == expected.to_json()


def _ancestors(pipeline, target) -> set:
    """Every node ``target`` waits for in ``pipeline``, through the datasets between them."""
    by_output = {output: n for n in pipeline.nodes for output in n.outputs}
    found, stack = set(), [target]
    while stack:
        for name in stack.pop().inputs:
            parent = by_output.get(name)
            if parent is not None and parent not in found:
                found.add(parent)
                stack.append(parent)
    return found


def test_a_source_never_waits_for_the_other_sources_nodes():
    """ingestion, bronze, silver: a node of one source has no node of the other upstream; gold's
    911 tables never wait for silver 311 (dim_date, the data tests and the publication are
    shared on purpose)."""
    from kedro.framework.project import configure_project, pipelines

    configure_project("nyc_lakehouse")
    checked = 0
    for layer in ("ingestion", "bronze", "silver"):
        pipeline = pipelines[layer]
        for source, other in (("nyc311", "nyc911"), ("nyc911", "nyc311")):
            for node in pipeline.only_nodes_with_tags(source).nodes:
                waits_for = {n.name for n in _ancestors(pipeline, node) if other in n.tags}
                assert not waits_for, f"{layer}: {node.name} waits for {sorted(waits_for)}"
                checked += 1
    gold = pipelines["gold"]
    for table in ("gold.fact_911_weekly", "gold.agg_911_monthly_agency", "gold.kpi_911_overview"):
        (node,) = [n for n in gold.nodes if table in n.outputs]
        inputs = {i for n in (node, *_ancestors(gold, node)) for i in n.inputs}
        assert "silver.nyc311_service_requests" not in inputs, table
    assert checked >= 2 + 4 + 10  # every per-source node of the three layers
