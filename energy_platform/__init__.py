"""Energy data platform: solar and meter readings from S3 to clean, aggregated data, on Dagster."""
