"""The ``monitoring`` pipeline."""

from nyc_lakehouse.pipelines.monitoring.pipeline import create_pipeline

__all__ = ["create_pipeline"]
