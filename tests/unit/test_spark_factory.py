import pytest

from nyc_lakehouse import spark as engine


def test_sail_session_runs_queries(spark):
    assert spark.range(10).selectExpr("sum(id) as s").collect()[0]["s"] == 45
    assert engine.current_mode() == "sail"
    assert engine.is_local_engine()


def test_sail_statistics_are_disabled(spark):
    import os

    assert os.environ["SAIL_EXECUTION__COLLECT_STATISTICS"] == "false"


def test_session_timezone_is_new_york(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "America/New_York"


def test_env_overrides_mode(monkeypatch):
    monkeypatch.setenv("NYC_LAKEHOUSE_SPARK_MODE", "remote")
    monkeypatch.setenv("SPARK_REMOTE", "sc://example:15002")
    settings = engine.settings_from_config({"mode": "sail"})
    assert settings.mode == "remote"
    assert settings.remote == "sc://example:15002"


def test_remote_without_url_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.delenv("NYC_LAKEHOUSE_SPARK_MODE", raising=False)
    with pytest.raises(ValueError, match="SPARK_REMOTE"):
        engine.settings_from_config({"mode": "remote"})


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="Unknown Spark mode"):
        engine.SparkSettings(mode="local[*]")
