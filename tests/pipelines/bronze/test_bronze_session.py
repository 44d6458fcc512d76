"""End to end through Kedro itself: ingestion lands a small sample, bronze ingests it, twice."""

from __future__ import annotations

from nyc_lakehouse.landing import LandingZone

# Runtime params are nested, as `kedro run --params "nyc311.ingestion.end=..."` makes them.
SMALL_SAMPLE = {
    "nyc311": {"ingestion": {"start": "2020-03-01", "end": "2020-04-30", "sample_scale": 0.05}},
    "nyc911": {"ingestion": {"start": "2020-03-01", "end": "2020-04-30"}},
}


def test_kedro_run_ingestion_then_bronze_twice_gives_the_same_tables(
    spark, data_root, project_root
):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project_root)

    def run() -> None:
        with KedroSession.create(project_path=project_root, runtime_params=SMALL_SAMPLE) as session:
            session.run(pipeline_names=["ingestion", "bronze"])

    def counts() -> tuple[int, int, int]:
        return tuple(
            spark.read.format("delta").load(str(data_root / path)).count()
            for path in (
                "bronze/nyc311_service_requests",
                "bronze/nyc911_e2e_weekly",
                "monitoring/bronze_batch_log",
            )
        )

    run()
    zone = LandingZone(str(data_root / "landing"))
    landed_311 = sum(b.rows for b in zone.batches("nyc311"))
    landed_911 = sum(b.rows for b in zone.batches("nyc911"))
    assert [b.batch_id for b in zone.batches("nyc311")] == ["sample-2020-03", "sample-2020-04"]
    assert (data_root / "landing" / "_runs" / "nyc311.json").exists()  # the hand-over to bronze
    first = counts()
    assert first == (landed_311, landed_911, 4)

    run()  # ingestion skips the landed months, bronze ingests nothing twice
    assert counts() == first
