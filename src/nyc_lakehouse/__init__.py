"""nyc-lakehouse: NYC Open Data (311 and 911) lakehouse on Kedro, Spark Connect and Delta Lake."""

import os
import warnings

# The project is meant to run offline; Kedro's telemetry plugin would otherwise try the network.
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")

# Noise that says nothing about the project: Kedro 1.7 and kedro-mlflow call their own
# deprecated resolver API, and `<schema>.<table>` dataset names are this project's convention
# (they mirror Unity Catalog names), not accidental namespaces.
warnings.filterwarnings("ignore", message=r".*register_new_resolver\(\) is deprecated.*")
warnings.filterwarnings("ignore", message=r"One or more dataset names contain '\.'.*")

__version__ = "0.1.0"
