"""PandasDeltaTableDataset: a Delta table as pandas, addressed by table + root."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from kedro.io import DatasetError

from nyc_lakehouse.pipelines.forecasting.io import PandasDeltaTableDataset


def test_round_trip_overwrite_and_dates(tmp_path):
    dataset = PandasDeltaTableDataset(table="ml.volume_forecasts", root=str(tmp_path))
    assert not dataset.exists()
    frame = pd.DataFrame(
        {
            "unique_id": ["a", "b"],
            "ds": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "y_hat": [1.0, 2.0],
        }
    )
    dataset.save(frame)
    dataset.save(frame.assign(extra=1))  # rerun with another column: overwrite, no error
    assert dataset.exists()
    loaded = dataset.load()
    assert len(loaded) == 2 and "extra" in loaded.columns
    arrow = DeltaTable(str(tmp_path / "ml" / "volume_forecasts")).to_pyarrow_table()
    assert pa.types.is_date32(arrow.schema.field("ds").type)
    preview = dataset.preview(nrows=1)
    assert preview["columns"][:2] == ["unique_id", "ds"] and len(preview["data"]) == 1


def test_append_mode_and_bad_configuration(tmp_path):
    dataset = PandasDeltaTableDataset(
        table="ml.log", root=str(tmp_path), save_args={"mode": "append"}
    )
    dataset.save(pd.DataFrame({"x": [1]}))
    dataset.save(pd.DataFrame({"x": [2]}))
    assert sorted(dataset.load()["x"]) == [1, 2]
    with pytest.raises(DatasetError, match="schema"):
        PandasDeltaTableDataset(table="no_schema", root=str(tmp_path))
    with pytest.raises(DatasetError, match="mode"):
        PandasDeltaTableDataset(table="ml.x", root=str(tmp_path), save_args={"mode": "upsert"})
    with pytest.raises(DatasetError, match="does not exist"):
        PandasDeltaTableDataset(table="ml.missing", root=str(tmp_path)).load()


def test_unity_catalog_root_names_the_table_without_a_path():
    dataset = PandasDeltaTableDataset(table="ml.volume_forecasts", root="uc://main")
    assert dataset._describe()["uc_name"] == "main.ml.volume_forecasts"
    assert dataset._describe()["path"] is None
