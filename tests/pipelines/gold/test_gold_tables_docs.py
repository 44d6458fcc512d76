"""The table registry and the README's gold table reference stay in sync; every table is documented."""

from __future__ import annotations

from nyc_lakehouse.pipelines.gold import docs
from nyc_lakehouse.pipelines.gold.tables import (
    DOC_BEGIN,
    DOC_END,
    TABLES,
    render_markdown,
    sync_markdown,
)

CONTRACT_TABLES = {
    "dim_date", "dim_agency", "dim_complaint_type", "dim_location", "fact_311",
    "agg_daily_summary", "agg_monthly_summary", "agg_agency_metrics", "agg_complaint_type_metrics",
    "agg_location_metrics", "fact_911_weekly", "agg_911_monthly_agency", "kpi_911_overview",
    "seasonal_trends", "covid_impact_analysis", "holiday_pattern_analysis", "borough_hotspots",
}  # fmt: skip


def test_every_contract_table_is_registered_with_grain_and_column_docs():
    assert set(TABLES) == CONTRACT_TABLES
    for spec in TABLES.values():
        assert spec.grain.startswith("One row per") and spec.grain.endswith("."), spec.name
        assert spec.columns and all(text.strip() for text in spec.columns.values()), spec.name


def test_readme_section_matches_the_registry(project_root):
    document = (project_root / docs.DOC_PATH).read_text(encoding="utf-8")
    assert render_markdown() in document, (
        "README.md's gold table reference is stale: run "
        "`uv run --frozen python -m nyc_lakehouse.pipelines.gold.docs`"
    )


def test_sync_replaces_only_the_generated_block(tmp_path):
    stale = f"# intro\n\n{DOC_BEGIN}\nold table list\n{DOC_END}\n\nafter\n"
    synced = sync_markdown(stale)
    assert synced.startswith("# intro\n\n") and synced.endswith("\n\nafter\n")
    assert "old table list" not in synced and render_markdown() in synced
    assert sync_markdown(synced) == synced
    assert docs.write_docs(tmp_path) is True
    assert docs.write_docs(tmp_path) is False
