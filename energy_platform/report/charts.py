"""The report's Plotly figures, built from the small frames of `ReportData`.

Text from the data (county names, site ids, anomaly types, reasons) goes through `plotly_text`:
Plotly reads a few HTML-like tags and entities in labels, so `<`, `>` and `&` are escaped to show
a county named `<b>x</b>` as typed.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from energy_platform import contract as c
from energy_platform.transforms.report_data import ReportData

GENERATED_COLOR = "#2a9d8f"
CONSUMED_COLOR = "#e76f51"
SURPLUS_COLOR = "#43aa8b"
DEFICIT_COLOR = "#f94144"
ANOMALY_COLORS = {
    c.AnomalyType.NEGATIVE_VALUE: "#577590",
    c.AnomalyType.DEVICE_FLAGGED: "#f8961e",
    c.AnomalyType.OUT_OF_RANGE: "#f94144",
    c.AnomalyType.SPIKE: "#90be6d",
    c.AnomalyType.STUCK_SENSOR: "#9b5de5",
}
BUCKET_LABELS = {"hour": "hourly", "day": "daily", "week": "weekly"}
BUCKET_MS = {"hour": 3_600_000, "day": 86_400_000, "week": 7 * 86_400_000}

RANGE_SELECTOR: dict[str, Any] = {
    "buttons": [
        {"count": 1, "label": "1d", "step": "day", "stepmode": "backward"},
        {"count": 7, "label": "7d", "step": "day", "stepmode": "backward"},
        {"count": 1, "label": "1m", "step": "month", "stepmode": "backward"},
        {"count": 3, "label": "3m", "step": "month", "stepmode": "backward"},
        {"step": "all", "label": "all"},
    ],
    "x": 0,
    "y": 1.12,
}
"""The period selector on every time chart (the page keeps their periods in step)."""


@dataclass(frozen=True)
class Chart:
    """One chart slot of the page: a figure, or a message when there is nothing to plot."""

    chart_id: str
    title: str
    figure: go.Figure | None
    empty_message: str
    time_axis: bool = False
    """True when the x axis is time: the page's period selector drives it."""
    caption: str = ""


def plotly_text(value: object) -> str:
    """`value` as text Plotly shows literally (its label markup and entities escaped)."""
    return html.escape(str(value), quote=False)


def plotly_texts(values: Iterable[object]) -> list[str]:
    return [plotly_text(v) for v in values]


def _periods(series: pd.Series) -> list[str]:
    return pd.to_datetime(series).dt.strftime("%Y-%m-%d %H:%M").to_list()


def _values(series: pd.Series, digits: int = 3) -> list[float | None]:
    rounded = pd.to_numeric(series, errors="coerce").astype(float).round(digits)
    return [None if np.isnan(v) else float(v) for v in rounded.to_numpy()]


def _layout(fig: go.Figure, *, height: int = 380, time_axis: bool = False, **extra: Any) -> None:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 50 if time_axis else 20, "b": 40},
        legend={"orientation": "h", "y": -0.15 if not time_axis else -0.25},
        hovermode="x unified" if time_axis else "closest",
        **extra,
    )
    if time_axis:
        fig.update_xaxes(type="date", rangeselector=RANGE_SELECTOR, title_text="UTC")


def _count_axis(largest: float) -> dict[str, Any]:
    """An axis of whole counts: no 0.5 ticks when the counts are small."""
    axis: dict[str, Any] = {"tickformat": ",d", "rangemode": "tozero"}
    if largest <= 10:
        axis["dtick"] = 1
    return axis


def _in_period(bucket: str) -> dict[str, Any]:
    """Draw a point of a bucketed series in the middle of its bucket, not at its start."""
    return {"xperiod": BUCKET_MS[bucket], "xperiodalignment": "middle"}


def _line(x: list[str], y: list[float | None], name: str, color: str, **style: Any) -> go.Scatter:
    """One line of a time chart (`style`: more line settings, or trace settings such as fill)."""
    line = {"color": color, **style.pop("line", {})}
    return go.Scatter(x=x, y=y, name=name, mode="lines", line=line, **style)


def _ranked_axis(**extra: Any) -> dict[str, Any]:
    """The category axis of a ranked horizontal bar chart: first item on top."""
    return {"type": "category", "autorange": "reversed", "automargin": True, **extra}


def _bar_time_axis(figure: go.Figure, bucket: str, periods: pd.Series) -> None:
    """With few buckets, show each whole bucket with one centred label (one day stays a day)."""
    if len(periods) > 31 or bucket == "hour":
        return
    start = pd.to_datetime(periods).min()
    end = pd.to_datetime(periods).max() + pd.Timedelta(milliseconds=BUCKET_MS[bucket])
    figure.update_xaxes(
        range=[start.strftime("%Y-%m-%d %H:%M"), end.strftime("%Y-%m-%d %H:%M")],
        dtick=BUCKET_MS[bucket],
        tickformat="%b %d",
        ticklabelmode="period",
    )


def energy_trend(data: ReportData) -> Chart:
    """Generation and consumption per time bucket, with a range slider."""
    s = data.energy_series
    bucket = BUCKET_LABELS[data.series_bucket]
    figure = None
    if not s.empty:
        x = _periods(s["period"])
        figure = go.Figure(
            [
                _line(x, _values(s[c.GENERATED_SUM]), "generated", GENERATED_COLOR),
                _line(x, _values(s[c.CONSUMED_SUM]), "consumed", CONSUMED_COLOR),
            ]
        )
        _layout(figure, height=440, time_axis=True, yaxis_title=f"kWh ({bucket})")
        figure.update_xaxes(rangeslider={"visible": True, "thickness": 0.08})
    return Chart(
        "energy_trend",
        "Generation vs consumption",
        figure,
        "No aggregated readings yet (gold/county_5min is empty).",
        time_axis=True,
        caption=f"{bucket.capitalize()} sums over readings without anomalies, all counties.",
    )


def net_energy(data: ReportData) -> Chart:
    """Net energy per time bucket: surplus above zero, deficit below."""
    s = data.energy_series
    bucket = BUCKET_LABELS[data.series_bucket]
    figure = None
    if not s.empty:
        x = _periods(s["period"])
        net = s[c.NET].astype(float)
        area = {"line": {"width": 1}, "fill": "tozeroy"}
        figure = go.Figure(
            [
                _line(x, _values(net.clip(lower=0)), "surplus", SURPLUS_COLOR, **area),
                _line(x, _values(net.clip(upper=0)), "deficit", DEFICIT_COLOR, **area),
            ]
        )
        _layout(figure, time_axis=True, yaxis_title=f"net kWh ({bucket})")
    return Chart(
        "net_energy",
        "Net energy (generated - consumed)",
        figure,
        "No aggregated readings yet.",
        time_axis=True,
        caption=f"{bucket.capitalize()} net energy; above zero the sites produced more than they used.",
    )


def efficiency_trend(data: ReportData) -> Chart:
    """Generation and consumption per day, with self-sufficiency on a second axis."""
    s = data.efficiency_series
    bucket = BUCKET_LABELS[data.efficiency_bucket]
    figure = None
    if not s.empty:
        x = _periods(s["period"])
        figure = go.Figure(
            [
                go.Bar(
                    x=x,
                    y=_values(s[c.GENERATED_SUM]),
                    name="generated",
                    marker_color=GENERATED_COLOR,
                    width=BUCKET_MS[data.efficiency_bucket] * 0.4,
                    offset=-BUCKET_MS[data.efficiency_bucket] * 0.4,
                    **_in_period(data.efficiency_bucket),
                ),
                go.Bar(
                    x=x,
                    y=_values(s[c.CONSUMED_SUM]),
                    name="consumed",
                    marker_color=CONSUMED_COLOR,
                    width=BUCKET_MS[data.efficiency_bucket] * 0.4,
                    offset=0,
                    **_in_period(data.efficiency_bucket),
                ),
                go.Scatter(
                    x=x,
                    y=_values(s["self_sufficiency"] * 100, 2),
                    name="self-sufficiency %",
                    mode="lines+markers",
                    yaxis="y2",
                    line={"color": "#264653"},
                    **_in_period(data.efficiency_bucket),
                ),
            ]
        )
        _layout(
            figure,
            time_axis=True,
            barmode="group",
            yaxis={"title": {"text": f"kWh ({bucket})"}},
            yaxis2={
                "title": {"text": "self-sufficiency %"},
                "overlaying": "y",
                "side": "right",
                "range": [0, 105],
                "tickvals": [0, 20, 40, 60, 80, 100],
                "showgrid": False,
            },
        )
        _bar_time_axis(figure, data.efficiency_bucket, s["period"])
    return Chart(
        "efficiency_trend",
        "Efficiency: self-sufficiency over time",
        figure,
        "No aggregated readings yet.",
        time_axis=True,
        caption="Self-sufficiency = min(generated, consumed) / consumed, per "
        f"{data.efficiency_bucket}.",
    )


def county_efficiency(data: ReportData) -> Chart:
    """Self-sufficiency of the counties that consume the most."""
    s = data.county_efficiency
    figure = None
    if not s.empty:
        counties = plotly_texts(s[c.COUNTY])
        custom = np.column_stack(
            [
                s[c.GENERATED_SUM].astype(float).round(1),
                s[c.CONSUMED_SUM].astype(float).round(1),
            ]
        ).tolist()
        figure = go.Figure(
            go.Bar(
                x=_values(s["self_sufficiency"] * 100, 2),
                y=counties,
                orientation="h",
                marker_color=GENERATED_COLOR,
                customdata=custom,
                hovertemplate="%{y}<br>self-sufficiency %{x:.1f}%<br>"
                "generated %{customdata[0]:,.1f} kWh<br>consumed %{customdata[1]:,.1f} kWh"
                "<extra></extra>",
            )
        )
        _layout(
            figure,
            height=max(260, 60 + 24 * len(s)),
            xaxis={"title": {"text": "self-sufficiency %"}, "range": [0, 105]},
            yaxis=_ranked_axis(),
        )
    shown = len(s)
    return Chart(
        "county_efficiency",
        "Self-sufficiency by county",
        figure,
        "No aggregated readings yet.",
        caption=f"The {shown} of {data.counties_total} counties that consume the most energy.",
    )


def county_heatmap(data: ReportData) -> Chart:
    """Net energy by county (rows) and time (columns)."""
    wide = data.county_heatmap
    bucket = BUCKET_LABELS[data.heatmap_bucket]
    figure = None
    if not wide.empty:
        z = wide.to_numpy(dtype=float).round(2)
        figure = go.Figure(
            go.Heatmap(
                z=[[None if np.isnan(v) else float(v) for v in row] for row in z],
                x=_periods(pd.Series(wide.columns)),
                y=plotly_texts(wide.index),
                colorscale="RdBu",
                zmid=0,
                colorbar={"title": {"text": "net kWh"}},
                hovertemplate="%{y}<br>%{x}<br>net %{z:,.2f} kWh<extra></extra>",
            )
        )
        _layout(
            figure,
            height=max(300, 120 + 22 * len(wide)),
            time_axis=True,
            yaxis=_ranked_axis(),
        )
        figure.update_layout(hovermode="closest")
    return Chart(
        "county_heatmap",
        "Net energy by county over time",
        figure,
        "No aggregated readings yet.",
        time_axis=True,
        caption=f"{bucket.capitalize()} net kWh from gold/county_5min for the {len(wide)} of "
        f"{data.counties_total} counties that consume the most; red = deficit, blue = surplus.",
    )


def anomaly_trend(data: ReportData) -> Chart:
    """Anomalies per time bucket, stacked by type."""
    s = data.anomaly_series
    bucket = BUCKET_LABELS[data.anomaly_bucket]
    figure = None
    if not s.empty:
        figure = go.Figure(
            [
                go.Bar(
                    x=_periods(part["period"]),
                    y=part["anomalies"].astype(int).to_list(),
                    name=plotly_text(kind),
                    marker_color=ANOMALY_COLORS.get(str(kind)),
                    width=BUCKET_MS[data.anomaly_bucket] * 0.8,
                    **_in_period(data.anomaly_bucket),
                )
                for kind, part in s.groupby(c.ANOMALY_TYPE, sort=True)
            ]
        )
        per_period = s.groupby("period")["anomalies"].sum()
        _layout(
            figure,
            time_axis=True,
            barmode="stack",
            yaxis={"title": {"text": f"anomalies ({bucket})"}, **_count_axis(per_period.max())},
        )
        _bar_time_axis(figure, data.anomaly_bucket, per_period.index.to_series())
    return Chart(
        "anomaly_trend",
        "Anomalies over time by type",
        figure,
        "No anomalies found.",
        time_axis=True,
        caption=f"{bucket.capitalize()} anomaly rows from silver/anomalies (one per reading and type).",
    )


def anomaly_sites(data: ReportData) -> Chart:
    """The sites with the most anomalies, stacked by type."""
    s = data.top_anomaly_sites
    figure = None
    if not s.empty:
        order = plotly_texts(s.drop_duplicates(c.SITE_ID)[c.SITE_ID])
        figure = go.Figure(
            [
                go.Bar(
                    x=part["anomalies"].astype(int).to_list(),
                    y=plotly_texts(part[c.SITE_ID]),
                    orientation="h",
                    name=plotly_text(kind),
                    marker_color=ANOMALY_COLORS.get(str(kind)),
                )
                for kind, part in s.groupby(c.ANOMALY_TYPE, sort=True)
            ]
        )
        _layout(
            figure,
            height=max(260, 80 + 24 * len(order)),
            barmode="stack",
            xaxis={"title": {"text": "anomalies"}, **_count_axis(s["site_total"].max())},
            yaxis=_ranked_axis(categoryorder="array", categoryarray=order),
        )
    return Chart(
        "anomaly_sites",
        "Sites with the most anomalies",
        figure,
        "No anomalies found.",
        caption=f"Top {s[c.SITE_ID].nunique() if not s.empty else 0} sites by anomaly rows.",
    )


def quarantine_reasons(data: ReportData) -> Chart:
    """Quarantined records per reason."""
    s = data.quarantine_by_reason
    figure = None
    if not s.empty:
        figure = go.Figure(
            go.Bar(
                x=s["records"].astype(int).to_list(),
                y=plotly_texts(s[c.REASON]),
                orientation="h",
                marker_color="#6c757d",
                hovertemplate="%{y}: %{x:,} records<extra></extra>",
            )
        )
        _layout(
            figure,
            height=max(220, 80 + 28 * len(s)),
            xaxis={"title": {"text": "quarantined records"}, **_count_axis(s["records"].max())},
            yaxis=_ranked_axis(),
        )
    return Chart(
        "quarantine_reasons",
        "Quarantined records by reason",
        figure,
        "Nothing quarantined: every raw record passed validation.",
        caption="Records rejected during ingestion (quarantine/), kept with their reason.",
    )


def energy_lost(data: ReportData) -> Chart:
    """Sites ranked by the energy they lost to underperformance."""
    s = data.energy_lost_sites
    figure = None
    if not s.empty:
        figure = go.Figure(
            go.Bar(
                x=_values(s[c.ENERGY_LOST]),
                y=plotly_texts(s[c.SITE_ID]),
                orientation="h",
                marker_color=DEFICIT_COLOR,
                customdata=list(
                    zip(plotly_texts(s[c.COUNTY]), s["events"].astype(int), strict=True)
                ),
                hovertemplate="%{y} (%{customdata[0]}): %{x:,.1f} kWh lost in "
                "%{customdata[1]} events<extra></extra>",
            )
        )
        _layout(
            figure,
            height=max(220, 80 + 24 * len(s)),
            xaxis={"title": {"text": "energy lost, kWh"}, "rangemode": "tozero"},
            yaxis=_ranked_axis(),
        )
    return Chart(
        "energy_lost",
        "Sites ranked by energy lost to underperformance",
        figure,
        "No underperformance found: every judged site produced what its baseline expected.",
        caption="Expected minus actual generation while a site stayed below its baseline "
        "(gold/underperformance; rules in docs/ANOMALIES.md).",
    )


def analytics_charts(data: ReportData) -> list[Chart]:
    return [energy_lost(data)]


def executive_charts(data: ReportData) -> list[Chart]:
    return [efficiency_trend(data), county_efficiency(data)]


def exploratory_charts(data: ReportData) -> list[Chart]:
    return [
        energy_trend(data),
        net_energy(data),
        county_heatmap(data),
        anomaly_trend(data),
        anomaly_sites(data),
    ]


def quality_charts(data: ReportData) -> list[Chart]:
    return [quarantine_reasons(data)]
