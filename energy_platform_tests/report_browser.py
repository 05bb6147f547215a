"""Open an HTML page in headless Chromium and report what happened (no pytest fixtures here).

The page is copied with a small probe script at the top of `<head>` that records uncaught
errors, unhandled promise rejections, `console.error` calls and `window.alert` calls into
attributes of `<html>`, so `--dump-dom` shows them next to the rendered DOM.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ENSURE_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "ensure_chromium.sh"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

PROBE = """<script>
(function () {
  var root = document.documentElement, errors = [], alerts = [];
  function keep(name, list, item) { list.push(String(item)); root.setAttribute(name, JSON.stringify(list)); }
  window.addEventListener('error', function (e) { keep('data-probe-errors', errors, e.message || e); });
  window.addEventListener('unhandledrejection', function (e) { keep('data-probe-errors', errors, 'unhandled rejection: ' + e.reason); });
  var consoleError = console.error;
  console.error = function () { keep('data-probe-errors', errors, Array.prototype.join.call(arguments, ' ')); consoleError.apply(console, arguments); };
  window.alert = function (m) { keep('data-probe-alerts', alerts, m); };
  root.setAttribute('data-probe', 'ready');
})();
</script>"""


@dataclass(frozen=True)
class BrowserRun:
    """What Chromium showed: the DOM after scripts ran, recorded errors and alerts, its log."""

    dom: str
    errors: list[str]
    alerts: list[str]
    log: str

    @property
    def console_errors(self) -> list[str]:
        """Lines of Chromium's log about uncaught errors or refused (CSP-blocked) loads."""
        return [
            line
            for line in self.log.splitlines()
            if "Uncaught" in line or "Refused to" in line or ":ERROR:CONSOLE" in line
        ]


def ensure_chromium() -> bool:
    """Install Chromium with scripts/ensure_chromium.sh when missing; True when it is there."""
    if not CHROMIUM.exists() and ENSURE_SCRIPT.exists() and shutil.which("sh"):
        subprocess.run(["sh", str(ENSURE_SCRIPT)], check=False, timeout=900)
    return CHROMIUM.exists()


def html_attribute(dom: str, name: str) -> object:
    """The JSON value a probe stored in attribute `name` of `<html>`, or None."""
    match = re.search(rf'<html[^>]*\s{name}="([^"]*)"', dom)
    return json.loads(unescape(match.group(1))) if match else None


def _attribute_list(dom: str, name: str) -> list[str]:
    value = html_attribute(dom, name)
    return value if isinstance(value, list) else []


def _chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def open_page(
    page: Path, screenshot: Path | None = None, script: str = "", timeout: float = 180
) -> BrowserRun:
    """Load `page` (with the probe) until idle and dump its DOM; optionally keep a screenshot
    (of the page as is) and run `script` at the end of `<body>` before the dump."""
    with tempfile.TemporaryDirectory(prefix="report-probe-") as tmp:
        probed = Path(tmp) / page.name
        text = page.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1)
        if script:
            text = text.replace("</body>", f"<script>{script}</script></body>", 1)
        probed.write_text(text, encoding="utf-8")
        run = _chromium(
            [
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probed.as_uri(),
            ],
            timeout,
        )
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            _chromium(
                [
                    "--virtual-time-budget=10000",
                    "--window-size=1400,4000",
                    f"--screenshot={screenshot}",
                    page.resolve().as_uri(),
                ],
                timeout,
            )
    dom = run.stdout
    if 'data-probe="ready"' not in dom:
        raise RuntimeError(
            f"Chromium did not run the page (exit {run.returncode}): {run.stderr[-2000:]}"
        )
    return BrowserRun(
        dom=dom,
        errors=_attribute_list(dom, "data-probe-errors"),
        alerts=_attribute_list(dom, "data-probe-alerts"),
        log=run.stderr,
    )


VOID_TAGS = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}


class _PlotFinder(HTMLParser):
    """Ids of `.js-plotly-plot` elements that contain a `.main-svg` (a drawn chart)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.plots: set[str] = set()
        self.drawn: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        plot_id = (a.get("id") or "?") if "js-plotly-plot" in classes else None
        if plot_id is not None:
            self.plots.add(plot_id)
        if tag == "svg" and "main-svg" in classes:
            self.drawn.update(p for _, p in self.stack if p is not None)
        if tag not in VOID_TAGS:
            self.stack.append((tag, plot_id))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return


def drawn_charts(dom: str) -> tuple[set[str], set[str]]:
    """(ids of every Plotly chart element, ids of those that drew their SVG)."""
    finder = _PlotFinder()
    finder.feed(dom)
    return finder.plots, finder.drawn
