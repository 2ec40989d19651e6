"""Prefect flows and tasks: tier runs (and later delivery retries and retention)."""
