"""The ``forecasting`` pipeline."""

from nyc_lakehouse.pipelines.forecasting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
