"""The test stand-in answers like the live Socrata API, and the client reads its metadata.

The stand-in is only worth something if it refuses what Socrata refuses: a query naming a column
the dataset lacks is HTTP 400 (``query.soql.no-such-column``), not zero rows.
"""

from __future__ import annotations

import httpx
import pytest

from fixtures.socrata_server import (  # noqa: F401 (pytest fixture)
    Fault,
    make_911_records,
    socrata_server,
)
from nyc_lakehouse.sources.socrata import RetryPolicy, SocrataClient, SocrataError

ID_911 = "t7p9-n9dy"


@pytest.fixture
def served_911(socrata_server):  # noqa: F811
    records = make_911_records(4)  # 12 rows
    socrata_server.fixture.datasets[ID_911] = records
    return socrata_server, records


def _get(server, path, **params):
    return httpx.get(f"{server.base_url}{path}", params=params, timeout=5)


@pytest.mark.parametrize(
    "params",
    [
        {"$where": "week_start_date >= '2024-01-01T00:00:00.000'"},
        {"$order": "week_start_date"},
        {"$order": ":id, week_start_date DESC"},
        {"$select": "agency, week_start_date"},
        {"$select": "count(*) AS n", "$where": "agency = 'EMS' AND week_start_date > '2024'"},
    ],
)
def test_an_unknown_column_is_a_400_with_socratas_error_body(served_911, params):
    server, _records = served_911
    response = _get(server, f"/resource/{ID_911}.json", **params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "query.soql.no-such-column" and body["error"] is True
    assert body["message"] == "No such column: week_start_date"


def test_live_names_system_fields_strings_and_count(served_911):
    server, records = served_911
    where = "agency = 'EMS' AND date >= '2024-01-08T00:00:00.000'"
    rows = _get(server, f"/resource/{ID_911}.json", **{"$where": where, "$order": "date"}).json()
    assert [r["date"] for r in rows] == [
        "2024-01-08T00:00:00.000",
        "2024-01-15T00:00:00.000",
        "2024-01-22T00:00:00.000",
    ]
    assert not any(key.startswith(":") for row in rows for key in row)  # only with :*, *
    assert all(isinstance(v, str) for row in rows for v in row.values())  # numbers as strings
    everything = _get(server, f"/resource/{ID_911}.json", **{"$select": ":*, *"}).json()
    assert {":id", ":created_at", ":updated_at"} <= set(everything[0])
    # system fields can be filtered and ordered on without being selected
    changed = _get(
        server,
        f"/resource/{ID_911}.json",
        **{"$where": f":updated_at > '{records[5][':updated_at']}'", "$order": ":id"},
    ).json()
    assert len(changed) == 6
    count = _get(server, f"/resource/{ID_911}.json", **{"$select": "count(*) AS row_count"})
    assert count.json() == [{"row_count": "12"}]
    picked = _get(server, f"/resource/{ID_911}.json", **{"$select": "agency, median_travel"})
    assert set(picked.json()[0]) == {"agency", "median_travel"}


def test_the_metadata_endpoint_serves_display_and_live_api_names(served_911):
    server, _records = served_911
    body = _get(server, f"/api/views/{ID_911}.json").json()
    names = {c["name"]: c["fieldName"] for c in body["columns"]}
    assert body["id"] == ID_911 and len(names) == 30
    assert names["Week Start Date"] == "date"
    assert names["Call to First Arrival (Multi-Agency Incidents)"] == (
        "call_to_first_arrival_multiagency_incidents"
    )
    assert _get(server, "/api/views/abcd-1234.json").status_code == 404


def test_the_client_reads_the_metadata_with_retries_and_the_token(served_911):
    server, _records = served_911
    server.fixture.view_faults[1] = Fault(kind="throttle")
    server.fixture.view_faults[2] = Fault(kind="truncated")
    with SocrataClient(
        server.base_url,
        ID_911,
        label="nyc911",
        app_token="planted-token",  # pragma: allowlist secret
        retry=RetryPolicy(max_attempts=3, backoff_base_seconds=0.001),
        allow_loopback_http=True,
    ) as client:
        columns = client.source_columns()
    assert columns.field("Week Start Date") == "date"
    assert [r.fault for r in server.fixture.view_requests] == ["throttle", "truncated", None]
    assert {r.app_token for r in server.fixture.view_requests} == {"planted-token"}


def test_metadata_that_is_not_trustworthy_stops_the_client(served_911):
    server, _records = served_911
    server.fixture.views[ID_911] = (("Week Start Date", "date' OR '1'='1", "text"),)
    client = SocrataClient(server.base_url, ID_911, label="nyc911", allow_loopback_http=True)
    with client, pytest.raises(SocrataError, match="invalid fieldName"):
        client.source_columns()
    assert len(server.fixture.view_requests) == 1  # refused, not retried


def test_oversized_metadata_is_refused(served_911, monkeypatch):
    from nyc_lakehouse.sources import socrata

    server, _records = served_911
    monkeypatch.setattr(socrata, "MAX_METADATA_BYTES", 1_000)
    client = SocrataClient(server.base_url, ID_911, label="nyc911", allow_loopback_http=True)
    with client, pytest.raises(SocrataError, match="larger than 1,000 bytes"):
        client.source_columns()
