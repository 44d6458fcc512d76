"""The ``reporting`` pipeline: plotly charts and an offline HTML dashboard from gold tables."""

from nyc_lakehouse.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
