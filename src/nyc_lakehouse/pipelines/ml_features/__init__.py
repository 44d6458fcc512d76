"""The ``ml_features`` pipeline."""

from nyc_lakehouse.pipelines.ml_features.pipeline import create_pipeline

__all__ = ["create_pipeline"]
