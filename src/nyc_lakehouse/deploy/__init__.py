"""Deployment helpers: the Databricks job entry point and the Databricks wheel build step."""
