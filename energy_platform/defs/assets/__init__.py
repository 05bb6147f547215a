"""Dagster assets: ingestion (per batch of raw files), silver and gold (per day), reporting."""
