"""Operator tooling behind the `energy-platform` command: provision, simulate, replay, the API
server. Each runs against the emulator or AWS alike."""
