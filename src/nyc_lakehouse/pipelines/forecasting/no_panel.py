"""Forecasting without 311 data: every node runs, nothing is forecast, the tables stay valid.

Each source stands alone (:mod:`nyc_lakehouse.lakehouse_sources`): a 911-only lakehouse has an
empty ``ml.daily_volume_panel``. :func:`skip_without_panel` wraps the forecasting nodes so that
an empty panel does not fail the run: the first node hands on :data:`NO_PANEL` instead of a
panel, and every node that receives it returns, for each output,

* the table the output names, empty, with its real columns and types (the forecast and
  leaderboard from their :mod:`.tables` docs, the feature table from the feature function
  itself), so readers such as the dashboard find a table that says "nothing yet";
* a chart that says why there is no forecast, and a champion record without a model;
* no metrics for the MLflow run, and its copies of the tables and chart as above;
* :data:`NO_PANEL` for in-memory hand-overs.

Nodes whose inputs are real (the feature table's data tests) run as usual.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
from kedro.pipeline import Node, Pipeline

from nyc_lakehouse.lakehouse_sources import warn_absent

logger = logging.getLogger(__name__)

PANEL_NODE = "prepare_forecasting_panel"
FEATURES = "gold.volume_forecasting_features"
CHART = "forecasting.forecast_chart"
CHAMPION_INFO = "forecasting.champion_model_info"
RUN_METRICS = "forecasting.run_metrics"
# The MLflow run's copies of tables and of the chart (kedro-mlflow artifact datasets).
RUN_FILES = {
    "forecasting.run_leaderboard_csv": "ml.forecast_backtest_metrics",
    "forecasting.run_forecasts_csv": "ml.volume_forecasts",
    "forecasting.run_chart_html": CHART,
    "forecasting.run_chart_json": CHART,
}
REASON = "no 311 data: ml.daily_volume_panel is empty, so there is nothing to forecast"
_ARROW_TYPES = {
    "string": pa.string(),
    "double": pa.float64(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"),
}


class _NoPanel:
    """Stands in for every in-memory forecasting result when there is no panel."""

    def __repr__(self) -> str:
        return "NO_PANEL"

    # One instance: Kedro's memory datasets copy what they hold.
    def __copy__(self) -> _NoPanel:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _NoPanel:
        return self

    def __reduce__(self) -> str:
        return "NO_PANEL"


NO_PANEL = _NoPanel()


def is_absent(value: Any) -> bool:
    return value is NO_PANEL or (isinstance(value, Mapping) and bool(value.get("no_panel")))


def empty_table(name: str, params: Mapping[str, Any]) -> pd.DataFrame:
    """An empty frame with the columns and Delta types of a forecasting table's doc."""
    from nyc_lakehouse.pipelines.forecasting.tables import TABLES

    levels = [int(level) for level in params.get("levels", [])]
    fields = []
    for doc in TABLES[name].columns:
        for column_name in doc.names:
            names = (
                [column_name.replace("<level>", str(level)) for level in levels]
                if "<level>" in column_name
                else [column_name]
            )
            fields += [pa.field(n, _ARROW_TYPES[doc.type]) for n in names]
    return pa.schema(fields).empty_table().to_pandas(types_mapper=pd.ArrowDtype)


def empty_features(params: Mapping[str, Any]) -> pd.DataFrame:
    """The feature table, empty: the feature function's own columns and types.

    The function runs on two months of a flat synthetic series and the rows are dropped, so the
    empty table can never drift from what a real run writes.
    """
    from nyc_lakehouse.pipelines.forecasting.io import _dates_as_dates
    from nyc_lakehouse.pipelines.forecasting.nodes import build_volume_forecasting_features

    days = pd.date_range("2024-01-01", periods=60, freq="D")
    synthetic = pd.DataFrame({"unique_id": "citywide", "ds": days, "y": 1.0})
    rows = _dates_as_dates(build_volume_forecasting_features(synthetic, params))
    schema = pa.Table.from_pandas(rows, preserve_index=False).schema
    return schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)


def note_chart() -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(
        text=f"No forecast: {REASON}.", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    figure.update_layout(title="311 volume forecast", xaxis_visible=False, yaxis_visible=False)
    return figure


def _absent_output(name: str, params: Mapping[str, Any]) -> Any:
    from nyc_lakehouse.pipelines.forecasting.tables import TABLES

    table = RUN_FILES.get(name, name.split("@", 1)[0])
    if table == RUN_METRICS:
        return {}  # no metric to log
    if table == FEATURES:
        return empty_features(params)
    if table in TABLES:
        return empty_table(table, params)
    if table == CHART:
        return note_chart()
    if table == CHAMPION_INFO:
        return {"logged": False, "no_panel": True, "reason": REASON}
    return NO_PANEL


def _params_of(node: Node, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    values = dict(zip(node.inputs, args, strict=False))
    if isinstance(node._inputs, dict):  # noqa: SLF001 - kwargs inputs name their datasets
        values = {node._inputs[k]: v for k, v in kwargs.items()}  # noqa: SLF001
    return next((v for k, v in values.items() if k.startswith("params:forecasting")), {})


def _wrap(node: Node) -> Callable[..., Any]:
    func = node.func

    @functools.wraps(func)
    def without_panel(*args: Any, **kwargs: Any) -> Any:
        inputs = [*args, *kwargs.values()]
        if node.name == PANEL_NODE:
            panel = inputs[0]
            if isinstance(panel, pd.DataFrame) and panel.empty:
                warn_absent("nyc311", "forecasting forecasts nothing and writes empty tables")
                return NO_PANEL
        if not any(is_absent(value) for value in inputs):
            return func(*args, **kwargs)
        params = _params_of(node, args, kwargs)
        outputs = node._outputs  # noqa: SLF001 - str, list or dict, as declared
        if outputs is None:
            return None
        if isinstance(outputs, str):
            return _absent_output(outputs, params)
        if isinstance(outputs, dict):
            return {key: _absent_output(name, params) for key, name in outputs.items()}
        return [_absent_output(name, params) for name in outputs]

    return without_panel


def skip_without_panel(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with every node able to run on a lakehouse without 311 data."""
    return Pipeline(
        [
            Node(
                _wrap(n),
                inputs=n._inputs,  # noqa: SLF001 - the node as declared
                outputs=n._outputs,  # noqa: SLF001
                name=n._name,  # noqa: SLF001
                tags=n.tags,
                namespace=n.namespace,
            )
            for n in pipeline.nodes
        ]
    )
