"""Forecasting benchmarks (``make bench-components``): quality against SeasonalNaive(7), speed.

Quality: the backtest leaderboard on the bundled sample's series and on a second, differently
shaped synthetic panel (nyc_lakehouse.pipelines.forecasting.benchmark, also printed by
``make bench``); the target is the champion procedure at most 0.75x SeasonalNaive(7)'s MASE
with 80% intervals covering 75-85% of days. Speed target: the backtest of 50 series x 3 years
in under 2 minutes on 2 cores with the default parameters. Both print their numbers; the
assertions only check that the champion beats the baseline and the backtest scored every series
(targets are reported, not asserted: they depend on the machine and on the data).
"""

from __future__ import annotations

import copy
import os
import resource
import time

import pytest

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting import benchmark
from nyc_lakehouse.pipelines.forecasting.synthetic import synthetic_panel

pytestmark = pytest.mark.benchmark


def default_params() -> dict:
    params = benchmark.shipped_params()
    params["n_jobs"] = int(os.environ.get("FORECAST_BENCH_N_JOBS", "-1"))
    return params


@pytest.mark.parametrize("panel_name", ["sample", "city"])
def test_forecast_quality_leaderboard(panel_name):
    params = default_params()
    assert params["horizon"] == 14
    panel = benchmark.sample_panel() if panel_name == "sample" else benchmark.city_shaped_panel()
    board, seconds = benchmark.run_leaderboard(panel, params)
    print("\n" + benchmark.report(f"{panel_name} panel", board, seconds))
    assert float(benchmark.overall(board).loc[bt.CHAMPION_ROW, "mase_vs_baseline"]) < 1.0


def _cpu_seconds() -> float:
    """This process's CPU time and its finished children's (statsforecast's worker processes)."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def test_backtest_speed_and_scaling():
    params = default_params()
    previous = None
    for n_series in (10, 50):
        panel = synthetic_panel(n_series=n_series, days=3 * 365, seed=7)
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        board, seconds = benchmark.run_leaderboard(panel, copy.deepcopy(params))
        wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
        print(
            f"\nBacktest {n_series} series x 3 years, {params['backtest']['n_windows']} windows, "
            f"n_jobs={params['n_jobs']}: {wall:.1f} s wall, {cpu:.1f} CPU s "
            f"(features {seconds['features']:.1f} s, backtest {seconds['backtest']:.1f} s), "
            f"{n_series / wall:.2f} series/s, load average {os.getloadavg()[0]:.1f}"
            + (f", x{wall / previous:.1f} time for x5 series" if previous else "")
        )
        previous = wall
        assert board.loc[board["unique_id"] != bt.ALL_SERIES, "unique_id"].nunique() == n_series
