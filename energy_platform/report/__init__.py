"""The energy report: open the lake (`lake.py`), build figures (`charts.py`), assemble the page
(`html.py`). The numbers come from `energy_platform.transforms.report_data`."""
