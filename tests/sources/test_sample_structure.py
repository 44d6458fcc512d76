"""The bundled sample's daily volumes and 911 pickups have the structure of the city's data."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from nyc_lakehouse.sources import sample
from nyc_lakehouse.sources.sample import daily_intensity, generate_nyc911

START, END = date(2019, 1, 1), date(2022, 12, 31)


@pytest.fixture(scope="module")
def volumes() -> pd.DataFrame:
    """Expected requests per day (rows) and complaint type (columns) over the default window."""
    days = [START + timedelta(days=i) for i in range((END - START).days + 1)]
    names = [t.complaint_type for t in sample._model_311().types]
    return pd.DataFrame(daily_intensity(days), index=pd.to_datetime(days), columns=names)


def test_weekday_profile_monday_high_sunday_low(volumes):
    total = volumes.sum(axis=1)
    profile = total.groupby(total.index.dayofweek).mean()
    profile /= profile.mean()
    assert profile.idxmax() == 0 and profile.idxmin() == 6
    assert profile[0] > 1.03 and profile[6] < 0.9


def test_days_around_holidays(volumes):
    office = volumes["Street Condition"]  # a week-profile "weekday" type

    def vs_same_weekday(day: str) -> float:
        when = pd.Timestamp(day)
        around = [when + pd.Timedelta(weeks=k) for k in (-3, -2, 2, 3)]
        return office[when] / office[around].mean()

    assert vs_same_weekday("2019-11-29") < 0.85  # Thanksgiving Friday
    assert vs_same_weekday("2019-12-24") < 0.85  # Christmas Eve
    assert vs_same_weekday("2019-12-27") < 0.9  # between Christmas and New Year
    assert vs_same_weekday("2019-01-22") > 1.1  # the Tuesday after Martin Luther King Day
    assert vs_same_weekday("2022-11-24") < 0.6  # Thanksgiving itself
    # the noise of Christmas Eve parties does not follow the offices
    assert (
        volumes.loc["2019-12-24", "Noise - Residential"]
        > volumes.loc["2019-12-17", "Noise - Residential"]
    )


def test_storms_dip_the_day_then_leave_damage(volumes):
    total = volumes.sum(axis=1)
    blizzard = pd.Timestamp("2022-01-29")  # a Saturday
    saturdays = total[[blizzard + pd.Timedelta(weeks=k) for k in (-2, -1, 1, 2)]].mean()
    others = total[blizzard] - volumes.loc[blizzard, "Snow or Ice"]
    assert others < 0.75 * saturdays
    snow = volumes["Snow or Ice"]
    assert snow[blizzard] > 4 * snow["2022-01-15"]
    assert snow["2022-01-30"] > snow["2022-02-03"] > snow["2022-01-15"]  # fading


def test_yearly_season_is_smooth(volumes):
    days = [START + timedelta(days=i) for i in range(3 * 365)]
    season = sample._season(days, sample._model_311().season)
    # no step on the first of the month: the season factor moves by a little a day at most
    assert abs(season[1:] - season[:-1]).max() < 0.25  # monthly steps reach 5
    assert abs(season.mean(axis=0) - 1).max() < 0.05  # profiles keep their mean of 1
    heat = volumes["HEAT/HOT WATER"]
    assert heat["2019-01-15"] > 5 * heat["2019-07-15"]


def test_911_weeks_breach_the_five_second_pickup_target_sometimes():
    table = pa.concat_tables(generate_nyc911(START, END)).to_pandas()
    table = table.drop_duplicates("_socrata_id", keep="last")  # the latest revision
    pickup = table["call_to_first_pickup"].astype(float)
    incidents = table["of_incidents_calculated"].astype(float)
    breaching = incidents[pickup > 5].sum() / incidents.sum()
    assert 0.06 < breaching < 0.16  # about a tenth of incidents, as in the real data
    weeks = table.loc[pickup > 5, "week_start_date"].str[:10].unique()
    assert 15 <= len(weeks) <= 40
    assert "2020-03-30" in weeks and "2019-03-04" not in weeks  # the COVID surge, a calm week
    ordinary = pickup[
        table["week_start_date"]
        .str[:10]
        .map(lambda w: sample.pickup_stress(date.fromisoformat(w)) == 1.0)
    ]
    assert ordinary.median() == pytest.approx(3.6, abs=0.15) and (ordinary < 5).all()
