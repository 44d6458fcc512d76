"""Every gold table is registered with its grain and column docs, and docs/tables.md shows them.

The whole-page staleness check (every table, every rule) is tests/test_reference_docs.py; here
the gold registry's own guarantees.
"""

from __future__ import annotations

from nyc_lakehouse import reference_docs
from nyc_lakehouse.pipelines.gold.tables import TABLES

CONTRACT_TABLES = {
    "dim_date", "dim_agency", "dim_complaint_type", "dim_location", "fact_311",
    "agg_daily_summary", "agg_monthly_summary", "agg_agency_metrics", "agg_complaint_type_metrics",
    "agg_location_metrics", "fact_911_weekly", "agg_911_monthly_agency", "kpi_911_overview",
    "silver_311_fingerprint", "silver_311_month_members", "agg_daily_type_borough", "seasonal_trends", "covid_impact_analysis", "holiday_pattern_analysis", "borough_hotspots",
    "volume_forecasting_features",
}  # fmt: skip


def test_every_contract_table_is_registered_with_grain_and_column_docs():
    assert set(TABLES) == CONTRACT_TABLES
    for spec in TABLES.values():
        assert spec.grain.startswith("One row per") and spec.grain.endswith("."), spec.name
        assert spec.columns and all(text.strip() for text in spec.columns.values()), spec.name


def _section(page: str, table: str) -> str:
    """The part of a generated page about ``table``: from its heading to the next heading."""
    heading = f"### `{table}`\n"
    assert heading in page, f"{table} has no section: run `make docs`"
    return page.split(heading, 1)[1].split("\n### ", 1)[0]


def test_tables_page_shows_each_gold_table_grain_columns_and_data_tests(project_root):
    page = (project_root / reference_docs.TABLES_PAGE).read_text(encoding="utf-8")
    for spec in TABLES.values():
        section = _section(page, f"gold.{spec.name}")
        assert section.lstrip().startswith(spec.grain), spec.name
        for name, text in spec.columns.items():
            row = f"| `{name}` | {' '.join(text.split()).replace('|', chr(92) + '|')} |"
            assert row in section, f"gold.{spec.name}.{name}: run `make docs`"
        for test in spec.tests:
            assert f"`{test.name.removeprefix(spec.name + '__')}`" in section, test.name


def test_rules_page_spells_out_each_gold_data_test(project_root):
    page = (project_root / reference_docs.RULES_PAGE).read_text(encoding="utf-8")
    for spec in TABLES.values():
        section = _section(page, f"gold.{spec.name}")
        for test in spec.tests:
            assert f"| `{test.name}` |" in section, f"{test.name}: run `make docs`"
