"""The ``analytics`` pipeline."""

from nyc_lakehouse.pipelines.analytics.pipeline import create_pipeline

__all__ = ["create_pipeline"]
