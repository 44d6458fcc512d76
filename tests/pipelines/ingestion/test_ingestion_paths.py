"""The three sources land one format: API vs export parity, and the bundled sample."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest
from ingestion_helpers import CrashingZone, SimulatedCrash, api_params, landed_table, project_params

from fixtures.export_writer import write_311_export
from fixtures.socrata_server import make_311_records
from nyc_lakehouse.landing import LandingZone
from nyc_lakehouse.pipelines.ingestion.nodes import land_batches, land_sample, parse_settings
from nyc_lakehouse.sources.socrata import SYSTEM_COLUMNS


def sorted_by_key(table: pa.Table) -> pa.Table:
    return table.sort_by("unique_key")


@pytest.mark.parametrize(("style", "bom"), [("api", False), ("display", True)])
def test_the_same_records_land_identically_via_the_api_and_via_an_export(
    socrata_server, tmp_path, style, bom
):
    records = make_311_records(25, created_from=datetime(2023, 6, 30, 22, 0, 0))
    socrata_server.fixture.datasets["erm2-nwe9"] = records
    api_zone = LandingZone(str(tmp_path / "api"))
    land_batches(
        api_zone, api_params(socrata_server, initial_watermark="2000-01-01T00:00:00"), None
    )

    export_file = write_311_export(records, tmp_path / f"311_{style}.csv", style=style, bom=bom)
    export_zone = LandingZone(str(tmp_path / "export"))
    params = {
        **project_params("nyc311"),
        "source": "export",
        "export_path": str(export_file),
        "chunk_rows": 10,
    }
    land_batches(export_zone, params, None)

    via_api = sorted_by_key(landed_table(api_zone, "nyc311"))
    via_export = sorted_by_key(landed_table(export_zone, "nyc311"))
    assert via_api.num_rows == via_export.num_rows == 25
    assert via_api.column_names == via_export.column_names  # one landing schema
    assert via_api.drop_columns(list(SYSTEM_COLUMNS)).equals(
        via_export.drop_columns(list(SYSTEM_COLUMNS))
    )
    assert all(via_export.column(c).null_count == 25 for c in SYSTEM_COLUMNS)


# sample ------------------------------------------------------------------------------------
def test_sample_lands_one_batch_per_month_exactly_as_generated(zone):
    from nyc_lakehouse.sources import sample

    params = {**project_params("nyc911"), "start": "2021-01-01", "end": "2021-03-31"}
    summary = land_batches(zone, params, None)
    assert summary["source"] == "sample"
    assert summary["batches_landed"] == ["sample-2021-01", "sample-2021-02", "sample-2021-03"]
    generated = list(sample.generate_nyc911(date(2021, 1, 1), date(2021, 3, 31), seed=911))
    for batch, table in zip(zone.batches("nyc911"), generated, strict=True):
        landed = zone.read_batch(batch)
        assert landed.num_rows == table.num_rows == batch.rows > 0
        assert landed.select(table.column_names).equals(table)
        assert batch.manifest["source"] == "sample"
    assert summary["rows_landed"] == sum(t.num_rows for t in generated)


def test_sample_reruns_skip_landed_months_and_resume_after_a_crash(zone):
    params = {**project_params("nyc911"), "start": "2021-01-01", "end": "2021-04-30"}
    settings = parse_settings(params)
    calls = {"n": 0}

    def crashing_generator(_settings):
        from nyc_lakehouse.sources import sample

        for index, table in enumerate(
            sample.generate_nyc911(_settings.start, _settings.end, seed=911)
        ):
            calls["n"] += 1
            if index == 2:
                raise SimulatedCrash("generator died in March")
            yield table

    with pytest.raises(SimulatedCrash):
        land_sample(zone, settings, generate=crashing_generator)
    assert [b.batch_id for b in zone.batches("nyc911")] == ["sample-2021-01", "sample-2021-02"]
    summary = land_batches(zone, params, None)
    assert summary["batches_skipped"] == ["sample-2021-01", "sample-2021-02"]
    assert summary["batches_landed"] == ["sample-2021-03", "sample-2021-04"]
    again = land_batches(zone, params, None)
    assert again["batches_landed"] == [] and len(again["batches_skipped"]) == 4
    ids = landed_table(zone, "nyc911").column("_socrata_id").to_pylist()
    from nyc_lakehouse.sources import sample

    expected = pa.concat_tables(
        sample.generate_nyc911(date(2021, 1, 1), date(2021, 4, 30), seed=911)
    )
    assert sorted(ids) == sorted(expected.column("_socrata_id").to_pylist())


def test_a_rerun_with_another_sample_scale_fails_clearly_instead_of_skipping(zone):
    params = {**project_params("nyc311"), "start": "2021-01-01", "end": "2021-01-31"}
    first = land_batches(zone, {**params, "sample_scale": 0.05}, None)
    assert first["batches_landed"] == ["sample-2021-01"]
    assert zone.batches("nyc311")[0].manifest["sample_scale"] == 0.05
    # The same scale skips; another scale or seed is refused with what to do.
    assert land_batches(zone, {**params, "sample_scale": 0.05}, None)["batches_skipped"] == [
        "sample-2021-01"
    ]
    from nyc_lakehouse.pipelines.ingestion.nodes import IngestionConfigError

    with pytest.raises(
        IngestionConfigError, match=r"sample_scale=0.05.*sample_scale=2.0.*clean-data"
    ):
        land_batches(zone, {**params, "sample_scale": 2.0}, None)
    with pytest.raises(IngestionConfigError, match="sample_seed"):
        land_batches(zone, {**params, "sample_scale": 0.05, "sample_seed": 7}, None)
    assert [b.rows for b in zone.batches("nyc311")] == [first["rows_landed"]]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2019-01-01", "2019-03-31"),  # extended: the landed months had another snapshot date
        ("2019-01-01", "2019-01-31"),  # shortened: February would stay outside the window
        ("2019-03-01", "2019-03-31"),  # moved: the lakehouse would hold two windows
        ("2018-12-01", "2019-02-28"),  # an earlier start
    ],
)
def test_a_rerun_with_another_sample_window_fails_clearly_instead_of_mixing(zone, start, end):
    params = {
        **project_params("nyc311"),
        "start": "2019-01-01",
        "end": "2019-02-28",
        "sample_scale": 0.05,
    }
    first = land_batches(zone, params, None)
    assert first["batches_landed"] == ["sample-2019-01", "sample-2019-02"]
    manifest = zone.batches("nyc311")[0].manifest
    assert (manifest["sample_start"], manifest["sample_end"]) == ("2019-01-01", "2019-02-28")
    from nyc_lakehouse.pipelines.ingestion.nodes import IngestionConfigError

    with pytest.raises(
        IngestionConfigError,
        match=rf"window 2019-01-01 to 2019-02-28.*asks for window {start} to {end}.*clean-data",
    ):
        land_batches(zone, {**params, "start": start, "end": end}, None)
    assert [b.batch_id for b in zone.batches("nyc311")] == ["sample-2019-01", "sample-2019-02"]
    assert land_batches(zone, params, None)["batches_skipped"] == [
        "sample-2019-01",
        "sample-2019-02",
    ]


def test_an_extended_sample_window_would_not_equal_a_single_run(zone, tmp_path):
    """Why the window is refused: a month's content depends on the window's end (the snapshot
    date), so landing only the new months would not give what one run over the window gives."""
    params = {**project_params("nyc311"), "start": "2019-01-01", "sample_scale": 0.05}
    land_batches(zone, {**params, "end": "2019-02-28"}, None)
    single = LandingZone(str(tmp_path / "single"))
    land_batches(single, {**params, "end": "2019-03-31"}, None)
    january_short = zone.read_batch(zone.batches("nyc311")[0])
    january_long = single.read_batch(single.batches("nyc311")[0])
    assert not january_short.equals(january_long)


def test_the_911_sample_window_is_part_of_its_identity_too(zone):
    params = {**project_params("nyc911"), "start": "2021-01-01", "end": "2021-01-31"}
    land_batches(zone, params, None)
    from nyc_lakehouse.pipelines.ingestion.nodes import IngestionConfigError

    with pytest.raises(IngestionConfigError, match="window 2021-01-01 to 2021-01-31"):
        land_batches(zone, {**params, "end": "2021-02-28"}, None)


def test_a_crash_while_writing_the_last_run_summary_keeps_the_batches(zone):
    params = {**project_params("nyc911"), "start": "2021-01-01", "end": "2021-01-31"}
    with pytest.raises(SimulatedCrash):
        land_batches(CrashingZone(zone.root, "last_run"), params, None)
    assert [b.batch_id for b in zone.batches("nyc911")] == ["sample-2021-01"]
    assert land_batches(zone, params, None)["batches_skipped"] == ["sample-2021-01"]
