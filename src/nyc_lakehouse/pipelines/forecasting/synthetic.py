"""A synthetic daily-volume panel shaped like NYC 311 (for tests, benchmarks and demos).

Not used by the pipelines. Each series has a level, weekly and yearly seasonality, US/NY
holiday dips (and the day after Thanksgiving / Christmas Eve), a slow trend, a COVID-like
drop and recovery, occasional level shifts and negative-binomial-like noise.

With ``weather`` (the benchmark's second, differently shaped panel) the city's days also move
together, as they do in the real data: a shock shared by every series that lasts for days
(heat waves, cold spells: an AR(1) on the log scale), storms that cut volume on the day and
bring a backlog over the next ones, and the quiet Christmas-to-New-Year week.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nyc_lakehouse.pipelines.ml_features.calendar import calendar_features


def synthetic_panel(
    n_series: int = 5,
    start: str = "2019-01-01",
    days: int = 3 * 365,
    seed: int = 0,
    covid_drop: bool = True,
    weather: bool = False,
) -> pd.DataFrame:
    """``unique_id, ds, y`` for ``n_series`` series of ``days`` days (``y`` counts, float)."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=days, freq="D")
    cal = calendar_features(ds).set_index("ds").reindex(ds)
    dow = cal["day_of_week"].to_numpy() - 1
    doy = cal["day_of_year"].to_numpy()
    holiday = cal["is_holiday"].to_numpy(bool)
    adjacent = cal["is_holiday_adjacent"].to_numpy(bool)
    names = cal["holiday_name"].fillna("").to_numpy(str)
    major = np.isin(
        names, ["Thanksgiving Day", "Christmas Day", "New Year's Day", "Independence Day"]
    )
    t = np.arange(days)
    city = np.ones(days)
    if weather:
        shock = np.zeros(days)
        noise = rng.normal(0, 0.06, days)
        for i in range(1, days):
            shock[i] = 0.75 * shock[i - 1] + noise[i]
        storms = np.flatnonzero(rng.random(days) < 5 / 365)
        storm = np.zeros(days)
        for day in storms:
            storm[day] -= 0.35
            for lag, bump in enumerate((0.45, 0.25, 0.1), start=1):
                if day + lag < days:
                    storm[day + lag] += bump
        year_end = cal["is_year_end_break"].to_numpy(bool) & ~holiday
        after_thanksgiving = cal["is_day_after_thanksgiving"].to_numpy(bool)
        city = np.exp(shock) * (1 + storm) * np.where(year_end, 0.8, 1.0)
        city = city * np.where(after_thanksgiving, 0.7, 1.0)
    frames = []
    for i in range(n_series):
        level = float(np.exp(rng.uniform(np.log(40), np.log(8000))))
        weekly_shape = (
            1 + rng.uniform(0.05, 0.35) * np.array([0.25, 0.2, 0.15, 0.1, 0.05, -0.4, -0.35]) / 0.4
        )
        yearly_amp = rng.uniform(0.05, 0.35)
        phase = rng.uniform(0, 2 * np.pi)
        yearly = 1 + yearly_amp * np.sin(2 * np.pi * doy / 365.25 + phase)
        trend = 1 + rng.uniform(-0.1, 0.2) * t / 365
        regime = np.ones(days)
        if covid_drop:
            start_drop = pd.Timestamp("2020-03-16")
            if ds[0] <= start_drop <= ds[-1]:
                drop_at = int((start_drop - ds[0]).days)
                depth = rng.uniform(0.3, 0.6)
                recovery = np.clip((t - drop_at) / rng.uniform(120, 400), 0, 1)
                regime = np.where(t >= drop_at, 1 - depth * (1 - recovery), 1.0)
        if rng.random() < 0.5:
            shift_at = int(rng.integers(days // 3, days - 60))
            regime = regime * np.where(t >= shift_at, rng.uniform(0.75, 1.35), 1.0)
        holiday_effect = np.where(holiday, np.where(major, 0.45, 0.8), 1.0)
        holiday_effect = holiday_effect * np.where(adjacent, 0.85, 1.0)
        exposure = rng.uniform(0.5, 1.5) if weather else 0.0  # how much a series feels the city
        mean = level * weekly_shape[dow] * yearly * trend * regime * holiday_effect
        mean = mean * city**exposure
        # Gamma-Poisson (overdispersed counts), like real complaint volumes.
        dispersion = rng.uniform(15, 60)
        lam = rng.gamma(dispersion, mean / dispersion)
        y = rng.poisson(lam).astype(float)
        frames.append(pd.DataFrame({"unique_id": f"series_{i:03d}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)
