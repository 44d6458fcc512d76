"""A small, deterministic gold layer (the columns of the gold contract) for dashboard tests.

Written with delta-rs from Arrow, so building it needs no Spark; the reporting pipeline and the
notebooks then read it through the Kedro catalog like the real gold tables.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
import yaml
from deltalake import write_deltalake

from nyc_lakehouse.pipelines.reporting import nodes

AGENCIES_911 = ("EMS", "FDNY", "NYPD", "NYPD (Non-CIP)")
TARGETS_911 = {"EMS": 5.0, "FDNY": 5.0, "NYPD": 5.0, "NYPD (Non-CIP)": 5.0}
BOROUGHS = ("BROOKLYN", "QUEENS", "MANHATTAN", "BRONX", "STATEN ISLAND", "UNSPECIFIED")
AGENCIES_311 = ("NYPD", "HPD", "DSNY", "DOT", "DEP", "DOB", "DPR", "DOHMH")
COMPLAINT_TYPES = tuple(f"Complaint Type {chr(65 + i)}" for i in range(20))


def _monthly_911() -> pa.Table:
    rows: dict[str, list] = {k: [] for k in (
        "month", "month_start", "agency", "weeks", "incidents", "avg_call_to_first_pickup_seconds",
        "pickup_target_seconds", "sla_breach_incidents", "sla_breach_rate_pct",
    )}  # fmt: skip
    for m in range(12):
        start = date(2023, m + 1, 1)
        for a, agency in enumerate(AGENCIES_911):
            incidents = 10_000 * (a + 1) + 250 * m
            breach = 0.05 * (a + 1) * incidents
            rows["month"].append(start.strftime("%Y-%m"))
            rows["month_start"].append(start)
            rows["agency"].append(agency)
            rows["weeks"].append(4)
            rows["incidents"].append(incidents)
            rows["avg_call_to_first_pickup_seconds"].append(3.0 + a + 0.1 * m)
            rows["pickup_target_seconds"].append(TARGETS_911[agency])
            rows["sla_breach_incidents"].append(int(breach))
            rows["sla_breach_rate_pct"].append(100.0 * int(breach) / incidents)
    return pa.table(rows)


def _kpi_911(monthly: pa.Table) -> pa.Table:
    frame = monthly.to_pandas()
    scopes = [("ALL", frame)] + [(a, frame[frame["agency"] == a]) for a in AGENCIES_911]
    return pa.table(
        {
            "agency_scope": [s for s, _ in scopes],
            "data_start_week": [date(2023, 1, 2)] * len(scopes),
            "data_end_week": [date(2023, 12, 25)] * len(scopes),
            "total_incidents": [int(p["incidents"].sum()) for _, p in scopes],
            "latest_week": [date(2023, 12, 25)] * len(scopes),
            "latest_avg_pickup_seconds": [
                float(p["avg_call_to_first_pickup_seconds"].iloc[-1]) for _, p in scopes
            ],
            "pickup_target_seconds": [5.0] * len(scopes),
            "sla_breach_pct": [
                100.0 * p["sla_breach_incidents"].sum() / p["incidents"].sum() for _, p in scopes
            ],
        }
    )


def _daily() -> pa.Table:
    days = [date(2023, 10, 1) + timedelta(days=i) for i in range(92)]
    counts = [800 + (i % 7) * 40 + (300 if i == 60 else 0) for i in range(len(days))]
    return pa.table(
        {
            "date": days,
            "date_key": [int(d.strftime("%Y%m%d")) for d in days],
            "day_of_week": [d.isoweekday() for d in days],
            "request_count": counts,
            "closed_count": [int(c * 0.9) for c in counts],
            "open_count": [c - int(c * 0.9) for c in counts],
            "median_response_hours": [20.0 + i % 5 for i in range(len(days))],
        }
    )


def _complaints() -> pa.Table:
    return pa.table(
        {
            "complaint_type": list(COMPLAINT_TYPES),
            "complaint_category": [
                "Noise" if i % 2 else "Housing" for i in range(len(COMPLAINT_TYPES))
            ],
            "request_count": [5000 - 200 * i for i in range(len(COMPLAINT_TYPES))],
        }
    )


def _locations() -> pa.Table:
    rows = [
        (b, f"1{i:04d}", 1000 * (len(BOROUGHS) - j) + i)
        for j, b in enumerate(BOROUGHS)
        for i in range(3)
    ]
    return pa.table(
        {
            "borough": [r[0] for r in rows],
            "incident_zip": [r[1] for r in rows],
            "request_count": [r[2] for r in rows],
        }
    )


AGENCY_MONTHS = (date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1))


def _agencies() -> pa.Table:
    """One row per month x agency, as gold's month grain; the NYPD grows month by month."""
    rows = [
        (month, agency, i, m)
        for m, month in enumerate(AGENCY_MONTHS)
        for i, agency in enumerate(AGENCIES_311)
    ]
    return pa.table(
        {
            "created_month": [month.strftime("%Y-%m") for month, *_ in rows],
            "month_start": [month for month, *_ in rows],
            "agency": [agency for _, agency, _, _ in rows],
            "agency_name": [f"Agency {agency}" for _, agency, _, _ in rows],
            "request_count": [7000 - 700 * i + 100 * m for _, _, i, m in rows],
            "median_response_hours": [4.0 + 10 * i + m for _, _, i, m in rows],
            "p90_response_hours": [40.0 + 50 * i + m for _, _, i, m in rows],
            "sla_breach_pct": [5.0 + i for _, _, i, _ in rows],
        }
    )


def gold_tables() -> dict[str, pa.Table]:
    monthly = _monthly_911()
    return {
        "agg_911_monthly_agency": monthly,
        "kpi_911_overview": _kpi_911(monthly),
        "agg_daily_summary": _daily(),
        "agg_complaint_type_metrics": _complaints(),
        "agg_location_metrics": _locations(),
        "agg_agency_metrics": _agencies(),
    }


def write_gold_sample(data_root: Path) -> dict[str, pa.Table]:
    """Write the sample gold tables under ``<data_root>/gold/<name>`` and return them."""
    tables = gold_tables()
    for name, table in tables.items():
        write_deltalake(str(data_root / "gold" / name), table, mode="overwrite")
    return tables


def dashboard_charts(gold: dict[str, pd.DataFrame]) -> dict[str, go.Figure]:
    """Every dashboard chart drawn by the reporting nodes from ``gold`` (table -> pandas frame),
    with the columns of ``conf/base/parameters_reporting.yml``."""
    parameters = Path(__file__).resolve().parents[3] / "conf/base/parameters_reporting.yml"
    columns = yaml.safe_load(parameters.read_text())["reporting"]["columns"]
    return {
        "nyc911_kpi_tiles": nodes.nyc911_kpi_tiles(
            gold["kpi_911_overview"], columns["kpi_911_overview"]
        ),
        "nyc911_monthly_incidents": nodes.nyc911_monthly_incidents_chart(
            gold["agg_911_monthly_agency"], columns["agg_911_monthly_incidents"]
        ),
        "nyc911_pickup_trend": nodes.nyc911_pickup_trend_chart(
            gold["agg_911_monthly_agency"], columns["agg_911_monthly_pickup"]
        ),
        "nyc311_daily_volume": nodes.nyc311_daily_volume_chart(
            gold["agg_daily_summary"], columns["agg_daily_summary"], 7
        ),
        "nyc311_top_complaint_types": nodes.nyc311_top_complaint_types_chart(
            gold["agg_complaint_type_metrics"], columns["agg_complaint_type_metrics"], 15
        ),
        "nyc311_volume_by_borough": nodes.nyc311_volume_by_borough_chart(
            gold["agg_location_metrics"], columns["agg_location_metrics"]
        ),
        "nyc311_resolution_by_agency": nodes.nyc311_resolution_by_agency_chart(
            gold["agg_agency_metrics"], columns["agg_agency_metrics"], 15
        ),
    }
