"""The ``ingestion`` pipeline."""

from nyc_lakehouse.pipelines.ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
