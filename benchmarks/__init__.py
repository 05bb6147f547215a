"""Benchmarks of the platform's heavy steps (run one with `python -m benchmarks.<name>`)."""
