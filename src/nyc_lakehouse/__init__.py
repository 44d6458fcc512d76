"""nyc-lakehouse: NYC Open Data (311 and 911) lakehouse on Kedro, Spark Connect and Delta Lake."""

import os

# The project is meant to run offline; Kedro's telemetry plugin would otherwise try the network.
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")

__version__ = "0.1.0"
