"""Everything Dagster: assets, checks, sensors, jobs, schedules, partitions and their helpers.

energy_platform.definitions gathers them into the one Definitions object.
"""
