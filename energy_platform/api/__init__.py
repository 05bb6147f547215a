"""The query service: a FastAPI app over the serving tables (`energy-platform api`)."""
