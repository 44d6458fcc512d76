"""The ``bronze`` pipeline."""

from nyc_lakehouse.pipelines.bronze.pipeline import create_pipeline

__all__ = ["create_pipeline"]
