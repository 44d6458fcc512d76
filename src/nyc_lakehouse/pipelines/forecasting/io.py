"""A Delta table read and written as a pandas DataFrame (the ``@pandas`` side of a table).

The forecasting pipeline works on small frames (one row per series per day), so it reads and
writes Delta without a Spark session: with delta-rs on a local or object-store path, and through
Spark only for Unity Catalog tables (``root: uc://<catalog>``, where delta-rs has no catalog).
Addressing as for every Delta table (docs/delta.md): ``table: <schema>.<name>`` + ``root``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import TablePreview

UC_SCHEME = "uc://"
SAVE_MODES = ("overwrite", "append")


class PandasDeltaTableDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Load a Delta table as pandas; save pandas as a Delta table (``overwrite`` or ``append``).

    Example (``catalog_ml.yml``)::

        "ml.daily_volume_panel@pandas":
          type: nyc_lakehouse.pipelines.forecasting.io.PandasDeltaTableDataset
          table: ml.daily_volume_panel
          root: ${globals:lakehouse_root}

    ``load_args``: ``columns`` (subset to read). ``save_args``: ``mode`` (``overwrite`` default,
    ``append``), ``partition_by``. Date columns are stored as Delta ``date``; overwrite replaces
    the schema too, so a changed column list never fails a rerun.
    """

    def __init__(
        self,
        table: str | None = None,
        root: str | None = None,
        path: str | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        storage_options: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if path is None and not table:
            raise DatasetError("PandasDeltaTableDataset needs `table: <schema>.<name>` or `path`")
        self._table = table
        self._uc_name: str | None = None
        if path is None:
            parts = str(table).split(".")
            if len(parts) != 2 or not all(parts):
                raise DatasetError(f"table must be '<schema>.<name>', got {table!r}")
            root = root or "data"
            if root.startswith(UC_SCHEME):
                self._uc_name = f"{root[len(UC_SCHEME) :].strip('/')}.{parts[0]}.{parts[1]}"
                path = None
            else:
                path = f"{root.rstrip('/')}/{parts[0]}/{parts[1]}"
        if path is not None and not urlparse(path).scheme:
            path = str(Path(path).resolve())
        self._path = path
        self._load_args = dict(load_args or {})
        self._save_args = dict(save_args or {})
        mode = self._save_args.get("mode", "overwrite")
        if mode not in SAVE_MODES:
            raise DatasetError(f"save_args.mode must be one of {SAVE_MODES}, got {mode!r}")
        self._storage_options = {**(storage_options or {}), **(credentials or {})}
        self.metadata = metadata

    # -- Kedro dataset API ----------------------------------------------------------------
    def load(self) -> pd.DataFrame:
        columns = self._load_args.get("columns")
        if self._uc_name:
            from nyc_lakehouse.spark import get_spark

            frame = get_spark().table(self._uc_name)
            return (frame.select(*columns) if columns else frame).toPandas()
        from deltalake import DeltaTable

        if not self._exists():
            raise DatasetError(
                f"Delta table {self._table or self._path} does not exist at {self._path}: "
                "run the pipeline that writes it first"
            )
        table = DeltaTable(self._path, storage_options=self._storage_options or None)
        return table.to_pandas(columns=columns)

    def save(self, data: pd.DataFrame) -> None:
        if not isinstance(data, pd.DataFrame):
            raise DatasetError(f"{self._table}: expected a pandas DataFrame, got {type(data)}")
        mode = self._save_args.get("mode", "overwrite")
        partition_by = self._save_args.get("partition_by")
        if self._uc_name:
            from nyc_lakehouse.spark import get_spark

            writer = get_spark().createDataFrame(data).write.format("delta").mode(mode)
            if mode == "overwrite":
                writer = writer.option("overwriteSchema", "true")
            if partition_by:
                writer = writer.partitionBy(*partition_by)
            writer.saveAsTable(self._uc_name)
            return
        import pyarrow as pa
        from deltalake import write_deltalake

        arrow = pa.Table.from_pandas(_dates_as_dates(data), preserve_index=False)
        if self._path and not urlparse(self._path).scheme:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        write_deltalake(
            self._path,
            arrow,
            mode=mode,
            partition_by=partition_by,
            schema_mode="overwrite" if mode == "overwrite" else "merge",
            storage_options=self._storage_options or None,
        )

    def _exists(self) -> bool:
        if self._uc_name:
            from nyc_lakehouse.spark import get_spark

            return bool(get_spark().catalog.tableExists(self._uc_name))
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(self._path, storage_options=self._storage_options or None)

    def _describe(self) -> dict[str, Any]:
        return {
            "table": self._table,
            "path": self._path,
            "uc_name": self._uc_name,
            "save_args": self._save_args,
        }

    def preview(self, nrows: int = 20) -> TablePreview:
        """First rows for kedro-viz (no Spark session needed for local tables)."""
        if self._uc_name or not self._exists():
            return TablePreview({"columns": [], "data": [], "index": []})
        from deltalake import DeltaTable

        table = DeltaTable(self._path, storage_options=self._storage_options or None)
        head = table.to_pyarrow_dataset().head(nrows).to_pandas()
        return TablePreview(head.astype(str).to_dict(orient="split"))


def _dates_as_dates(data: pd.DataFrame) -> pd.DataFrame:
    """Midnight-only ``ds``-like datetime columns become Delta ``date``s (the table contract)."""
    out = data.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_datetime64_any_dtype(series) and series.dt.tz is None:
            if column == "ds" or column.endswith("_date") or column == "cutoff":
                if (series.dropna() == series.dropna().dt.normalize()).all():
                    out[column] = series.dt.date
    return out
