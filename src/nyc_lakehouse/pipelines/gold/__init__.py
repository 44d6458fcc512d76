"""The ``gold`` pipeline."""

from nyc_lakehouse.pipelines.gold.pipeline import create_pipeline

__all__ = ["create_pipeline"]
