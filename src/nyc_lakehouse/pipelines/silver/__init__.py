"""The ``silver`` pipeline."""

from nyc_lakehouse.pipelines.silver.pipeline import create_pipeline

__all__ = ["create_pipeline"]
