"""Laptop only: the emulator (moto's server, recorded and replayed) and `energy-platform dev`."""
