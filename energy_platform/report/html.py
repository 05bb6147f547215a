"""Assemble the energy report: one self-contained HTML page with plotly.js inline.

Everything taken from the data is escaped here: `esc` for HTML text and attributes, and
`script_json` for the JSON blocks (figures, KPIs), whose `<`, `>`, `&` become `\\u003c`-style
escapes so no value can close the `<script>` element that holds it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from plotly.offline import get_plotlyjs
from plotly.utils import PlotlyJSONEncoder

from energy_platform import contract as c
from energy_platform.report import charts
from energy_platform.report.charts import Chart
from energy_platform.transforms.report_data import KPI_KEYS, ReportData

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)
"""The page loads nothing from anywhere: no CDN, no fonts, no network."""

CSS = """
:root { --ink: #1d2939; --muted: #667085; --line: #e4e7ec; --bg: #f6f7f9; --good: #2a9d8f; --bad: #e63946; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header { background: #264653; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; opacity: .85; }
nav { position: sticky; top: 0; z-index: 10; background: #fff; border-bottom: 1px solid var(--line); padding: 8px 32px; }
nav a { color: #264653; margin-right: 20px; text-decoration: none; font-weight: 600; }
main { padding: 16px 32px 48px; max-width: 1500px; margin: 0 auto; }
section { margin-top: 24px; }
section > h2 { font-size: 20px; margin: 0 0 4px; }
.hint { color: var(--muted); margin: 0 0 12px; }
.kpis { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px; }
.kpi { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.kpi-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.kpi-value { font-size: 26px; font-weight: 700; margin-top: 4px; }
.kpi-note { color: var(--muted); font-size: 12px; margin-top: 2px; }
.kpi-value.small { font-size: 17px; padding-top: 6px; }
.kpi.positive .kpi-value { color: var(--good); }
.kpi.negative .kpi-value { color: var(--bad); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; min-width: 0; }
.card h3 { margin: 0; font-size: 16px; }
.card .caption { color: var(--muted); font-size: 12px; margin: 2px 0 6px; }
.card.wide { grid-column: 1 / -1; }
.empty { color: var(--muted); font-style: italic; padding: 24px 0; }
.banner { background: #fff7e6; border: 1px solid #f5c16c; border-radius: 10px; padding: 16px 20px; margin-top: 16px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: #f2f4f7; position: sticky; top: 0; }
th:first-child, td:first-child, th.text, td.text { text-align: left; }
td.text { white-space: normal; word-break: break-all; }
.table-wrap { max-height: 520px; overflow: auto; }
footer { color: var(--muted); font-size: 12px; padding: 0 32px 32px; max-width: 1500px; margin: 0 auto; }
@media (max-width: 900px) { .kpis { grid-template-columns: repeat(2, minmax(0, 1fr)); } .grid { grid-template-columns: 1fr; } }
"""

INIT_JS = """
(function () {
  var figures = JSON.parse(document.getElementById('figures').textContent);
  var config = {displaylogo: false, responsive: true};
  var timeCharts = [];
  var syncing = false;
  function rangeOf(ev) {
    if (ev['xaxis.autorange']) return 'auto';
    if (ev['xaxis.range']) return ev['xaxis.range'];
    if (ev['xaxis.range[0]'] !== undefined && ev['xaxis.range[1]'] !== undefined) {
      return [ev['xaxis.range[0]'], ev['xaxis.range[1]']];
    }
    return null;
  }
  function follow(source) {
    source.on('plotly_relayout', function (ev) {
      var range = rangeOf(ev);
      if (syncing || !range) return;
      syncing = true;
      var update = range === 'auto' ? {'xaxis.autorange': true} : {'xaxis.range': range};
      Promise.all(timeCharts.filter(function (t) { return t !== source; })
        .map(function (t) { return Plotly.relayout(t, update); }))
        .then(function () { syncing = false; }, function () { syncing = false; });
    });
  }
  figures.forEach(function (f) {
    var el = document.getElementById(f.id);
    try {
      Plotly.newPlot(el, f.figure.data, f.figure.layout, config);
      if (f.time) { timeCharts.push(el); follow(el); }
    } catch (err) {
      el.textContent = 'This chart could not be drawn: ' + err;
      setTimeout(function () { throw err; });
    }
  });
})();
"""


def esc(value: object) -> str:
    """`value` as HTML text or attribute value."""
    return html.escape(str(value), quote=True)


def script_json(value: Any) -> str:
    """JSON that is safe inside a `<script>` element (no `</script>`, `<!--` or `&` sequences)."""
    text = json.dumps(value, cls=PlotlyJSONEncoder, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def format_energy(kwh: float) -> str:
    """kWh with a unit that keeps the number short: 950 kWh, 12.3 MWh, 4.56 GWh."""
    size = abs(kwh)
    for unit, factor in (("TWh", 1e9), ("GWh", 1e6), ("MWh", 1e3)):
        if size >= factor:
            return f"{kwh / factor:,.2f} {unit}"
    return f"{kwh:,.1f} kWh"


def format_percent(fraction: float | None, digits: int = 1) -> str:
    return "n/a" if fraction is None else f"{fraction * 100:.{digits}f}%"


def format_count(n: int | float | None) -> str:
    return "n/a" if n is None or pd.isna(n) else f"{int(n):,}"


def format_kwh(v: float | None) -> str:
    return "" if v is None or pd.isna(v) else f"{round(float(v), 2) + 0.0:,.2f}"  # no "-0.00"


def _kpi_card(
    key: str, label: str, value: str, raw: Any, note: str = "", tone: str = "", small: bool = False
) -> str:
    raw_attr = "" if raw is None else repr(raw) if isinstance(raw, float) else str(raw)
    return (
        f'<div class="kpi {esc(tone)}" data-kpi="{esc(key)}" data-value="{esc(raw_attr)}">'
        f'<div class="kpi-label">{esc(label)}</div>'
        f'<div class="kpi-value{" small" if small else ""}">{esc(value)}</div>'
        f'<div class="kpi-note">{esc(note)}</div></div>'
    )


def render_kpis(k: dict[str, Any]) -> str:
    net = k["net_kwh"]
    cards = [
        _kpi_card("generated_kwh", "Energy generated", format_energy(k["generated_kwh"]), k["generated_kwh"], "readings without anomalies"),
        _kpi_card("consumed_kwh", "Energy consumed", format_energy(k["consumed_kwh"]), k["consumed_kwh"], "readings without anomalies"),
        _kpi_card("net_kwh", "Net energy", format_energy(net), net, "generated - consumed", "positive" if net >= 0 else "negative"),
        _kpi_card("self_sufficiency", "Self-sufficiency", format_percent(k["self_sufficiency"]), k["self_sufficiency"], "min(generated, consumed) / consumed"),
        _kpi_card("anomaly_rate", "Anomaly rate", format_percent(k["anomaly_rate"], 2), k["anomaly_rate"], f"{format_count(k['anomalous_readings'])} of {format_count(k['readings'])} readings"),
        _kpi_card("sites_reporting", "Sites reporting", format_count(k["sites_reporting"]), k["sites_reporting"], f"in {format_count(k['counties'])} counties"),
        _kpi_card("newest_reading", "Newest reading", (k["newest_reading"] or "none").replace("T", " ").replace("Z", " UTC"), k["newest_reading"], f"first: {k['first_reading'] or 'none'}", small=True),
        _kpi_card("quarantined_records", "Quarantined records", format_count(k["quarantined_records"]), k["quarantined_records"], "rejected at ingestion, see data quality"),
    ]  # fmt: skip
    return f'<div class="kpis">{"".join(cards)}</div>'


Column = tuple[str, str, Callable[[Any], str], bool]
"""(frame column, header, formatter, is_text)."""


def render_table(frame: pd.DataFrame, columns: Sequence[Column], table_id: str) -> str:
    """A small HTML table; every cell escaped."""
    head = "".join(
        f'<th class="{"text" if is_text else ""}">{esc(label)}</th>'
        for _, label, _, is_text in columns
    )
    records = frame.to_dict("records")  # small: bounded by ReportData's limits
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"text" if is_text else ""}">{esc(fmt(row[col]))}</td>'
            for col, _, fmt, is_text in columns
        )
        + "</tr>"
        for row in records
    )
    return (
        f'<div class="table-wrap"><table id="{esc(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


SITE_DAILY_COLUMNS: list[Column] = [
    (c.DATE, "date", str, True),
    (c.SITE_ID, "site", str, True),
    (c.READING_COUNT, "readings", format_count, False),
    (c.ANOMALY_COUNT, "anomalous", format_count, False),
    (c.GENERATED_SUM, "generated kWh", format_kwh, False),
    (c.CONSUMED_SUM, "consumed kWh", format_kwh, False),
    (c.NET, "net kWh", format_kwh, False),
    (c.MIN_NET, "min net kWh", format_kwh, False),
    (c.MAX_NET, "max net kWh", format_kwh, False),
]
DEVICE_COLUMNS: list[Column] = [
    (c.DEVICE_ID, "device", str, True),
    (c.SITE_ID, "site", str, True),
    (c.READING_COUNT, "readings", format_count, False),
    (c.ANOMALY_COUNT, "anomalous", format_count, False),
    (c.ANOMALY_SHARE, "anomalous share", format_percent, False),
    (c.GENERATED_SUM, "generated kWh", format_kwh, False),
    (c.CONSUMED_SUM, "consumed kWh", format_kwh, False),
    (c.MIN_GENERATED, "min gen. kWh", format_kwh, False),
    (c.AVG_GENERATED, "avg gen. kWh", format_kwh, False),
    (c.MAX_GENERATED, "max gen. kWh", format_kwh, False),
    (c.AVG_CONSUMED, "avg cons. kWh", format_kwh, False),
    (c.MAX_CONSUMED, "max cons. kWh", format_kwh, False),
]
ENERGY_LOST_COLUMNS: list[Column] = [
    (c.SITE_ID, "site", str, True),
    (c.COUNTY, "county", str, True),
    ("events", "events", format_count, False),
    (c.ENERGY_LOST, "energy lost kWh", format_kwh, False),
    (c.PERFORMANCE_RATIO, "actual / expected", format_percent, False),
    ("first_start", "first start", str, True),
    ("last_end", "last end", str, True),
]
QUARANTINE_SOURCE_COLUMNS: list[Column] = [
    (c.SOURCE_KEY, "source key", str, True),
    ("records", "records", format_count, False),
    ("reasons", "reasons", str, True),
]


def _chart_card(chart: Chart, wide: bool = False) -> str:
    body = (
        f'<div id="{esc(chart.chart_id)}" class="chart" data-chart="{esc(chart.chart_id)}"></div>'
        if chart.figure is not None
        else f'<p class="empty">{esc(chart.empty_message)}</p>'
    )
    return (
        f'<div class="card{" wide" if wide else ""}"><h3>{esc(chart.title)}</h3>'
        f'<p class="caption">{esc(chart.caption)}</p>{body}</div>'
    )


def _table_card(title: str, caption: str, table: str, wide: bool = True) -> str:
    return (
        f'<div class="card{" wide" if wide else ""}"><h3>{esc(title)}</h3>'
        f'<p class="caption">{esc(caption)}</p>{table}</div>'
    )


def _row_counts_table(data: ReportData) -> str:
    names = {
        "readings": "silver/readings",
        "anomalies": "silver/anomalies",
        "county_5min": "gold/county_5min",
        "site_daily": "gold/site_daily",
        "quarantine": "quarantine/",
        "device_daily": "gold/device_daily",
        "underperformance": "gold/underperformance",
    }
    frame = pd.DataFrame(
        {"dataset": list(names.values()), "rows": [data.row_counts[k] for k in names]}
    )
    return render_table(
        frame,
        [("dataset", "dataset", str, True), ("rows", "rows", format_count, False)],
        "row-counts",
    )


def render_report(data: ReportData, generated_at: datetime, source: str) -> str:
    """The whole page as one string: styles, data, plotly.js and the charts, nothing external."""
    k = data.kpis
    executive = charts.executive_charts(data)
    exploratory = charts.exploratory_charts(data)
    quality = charts.quality_charts(data)
    analytics = charts.analytics_charts(data)
    plotted = [
        ch for ch in (*executive, *exploratory, *analytics, *quality) if ch.figure is not None
    ]
    figures = [
        {"id": ch.chart_id, "time": ch.time_axis, "figure": ch.figure.to_plotly_json()}
        for ch in plotted
        if ch.figure is not None
    ]
    period = (
        f"Readings from {k['first_reading']} to {k['newest_reading']} (UTC)"
        if k["newest_reading"]
        else "No readings yet"
    )
    banner = (
        '<div class="banner" id="empty-lake"><strong>No data yet.</strong> The lake holds no '
        "cleaned readings or aggregates: once the pipeline has processed raw files "
        "(cleaned_readings, county_5min_aggregates, ...), materialize energy_report again.</div>"
        if data.is_empty
        else ""
    )
    by_type = ", ".join(
        f"{t}: {n:,}"
        for t, n in zip(
            data.anomalies_by_type[c.ANOMALY_TYPE], data.anomalies_by_type["anomalies"], strict=True
        )
    )
    site_rows = len(data.site_daily_table)
    site_table = (
        render_table(data.site_daily_table, SITE_DAILY_COLUMNS, "site-daily")
        if site_rows
        else '<p class="empty">No daily site aggregates yet (gold/site_daily is empty).</p>'
    )
    sources_table = (
        render_table(data.quarantine_top_sources, QUARANTINE_SOURCE_COLUMNS, "quarantine-sources")
        if len(data.quarantine_top_sources)
        else '<p class="empty">No quarantined records.</p>'
    )
    analytics_cards = "".join(_chart_card(ch, wide=True) for ch in analytics)
    loss_table = (
        render_table(data.energy_lost_sites, ENERGY_LOST_COLUMNS, "energy-lost")
        if len(data.energy_lost_sites)
        else '<p class="empty">No underperformance events (gold/underperformance is empty).</p>'
    )
    device_rows = len(data.device_table)
    device_table = (
        render_table(data.device_table, DEVICE_COLUMNS, "device-daily")
        if device_rows
        else '<p class="empty">No device statistics yet (gold/device_daily is empty).</p>'
    )
    device_day = data.device_table[c.DATE].iloc[0] if device_rows else "none"
    exec_cards = "".join(_chart_card(ch) for ch in executive)
    explore_cards = "".join(
        _chart_card(ch, wide=ch.chart_id in ("energy_trend", "net_energy", "county_heatmap"))
        for ch in exploratory
    )
    quality_cards = "".join(_chart_card(ch) for ch in quality)
    kpi_json = {key: k[key] for key in KPI_KEYS}
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{esc(CONTENT_SECURITY_POLICY)}">
<title>Energy report</title>
<style>{CSS}</style>
</head>
<body>
<header><h1>Energy report</h1>
<p>{esc(period)} &middot; generated {esc(generated_at.strftime(c.TS_FORMAT))} from {esc(source)}</p></header>
<nav><a href="#executive">Executive summary</a><a href="#exploratory">Exploratory</a><a href="#analytics">Sites and devices</a><a href="#quality">Data quality</a></nav>
<main>
{banner}
<section id="executive"><h2>Executive summary</h2>
<p class="hint">Totals over all data in the lake. Energy sums leave out readings flagged as anomalies.</p>
{render_kpis(k)}
<div class="grid" style="margin-top:16px">{exec_cards}</div>
</section>
<section id="exploratory"><h2>Exploratory</h2>
<p class="hint">Pick a period with the buttons or the range slider, or zoom on any time chart: the other time charts follow.
Anomaly rows by type: {esc(by_type or "none")}.</p>
<div class="grid">{explore_cards}
{_table_card("Per-site daily totals", f"{site_rows:,} of {data.row_counts['site_daily']:,} rows of gold/site_daily: the newest days, for the sites with the most energy.", site_table)}
</div>
</section>
<section id="analytics"><h2>Sites and devices</h2>
<p class="hint">Underperformance: a site's daylight generation below its own baseline for long (docs/ANOMALIES.md).</p>
<div class="grid">{analytics_cards}
{_table_card("Sites ranked by energy lost", f"{len(data.energy_lost_sites):,} sites with underperformance events, most energy lost first.", loss_table)}
{_table_card("Device statistics", f"{device_rows:,} devices of {device_day} (gold/device_daily; readings without a device under their site), largest anomalous share first.", device_table)}
</div>
</section>
<section id="quality"><h2>Data quality</h2>
<p class="hint">{esc(format_count(k["quarantined_records"]))} records quarantined; {esc(format_count(k["readings"]))} cleaned readings kept.</p>
<div class="grid">{quality_cards}
{_table_card("Files with the most quarantined records", "Source keys under raw/ and their reasons.", sources_table, wide=False)}
{_table_card("Rows per dataset", "What the report read.", _row_counts_table(data), wide=False)}
</div>
</section>
</main>
<footer>Self-sufficiency = min(generated, consumed) / consumed. Anomaly rate = readings with at least one anomaly / all cleaned readings.
Charts plot aggregated series (hourly, daily or weekly buckets and top-N counties and sites), never single readings.</footer>
<script type="application/json" id="kpis">{script_json(kpi_json)}</script>
<script type="application/json" id="figures">{script_json(figures)}</script>
<script>{get_plotlyjs()}</script>
<script>{INIT_JS}</script>
</body>
</html>
"""
