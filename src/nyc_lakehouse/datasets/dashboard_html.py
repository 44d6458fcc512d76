"""The dashboard page as a text file, previewed in kedro-viz as an HTML outline of the page.

kedro-viz shows an ``HTMLPreview`` by sanitising it (DOMPurify) into its side panel: scripts
are stripped, so the dashboard's plotly charts cannot draw there, and shipping the page itself
would send megabytes of embedded plotly.js only to be thrown away. The preview is therefore a
small outline built from the page: its title and build time, every section with the title of
each chart in it, the headline KPI values, any empty slot's note, and where the interactive
page is. Each chart is also previewed interactively on its own ``reporting.<chart>_chart``
dataset.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from kedro_datasets._typing import HTMLPreview
from kedro_datasets.text import TextDataset

# How plotly's ``to_html`` hands a figure to the browser: the div id, then data and layout JSON.
_NEW_PLOT = re.compile(r'Plotly\.newPlot\(\s*"(?P<div>[^"]+)",\s*')


@dataclass
class _Chart:
    div_id: str
    title: str = ""
    kpis: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


@dataclass
class _Section:
    heading: str
    charts: list[_Chart] = field(default_factory=list)


class _DashboardParser(HTMLParser):
    """Collects the page's title, header line, sections and chart slots (scripts kept raw)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.subtitle = ""
        self.footer = ""
        self.sections: list[_Section] = []
        self.scripts: list[str] = []
        self._stack: list[str] = []
        self._text: list[str] | None = None
        self._note_slot: _Chart | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag in {"h1", "h2", "footer", "script"} or (tag == "p" and "header" in self._stack):
            self._text = []
        if tag == "p" and "note" in classes and self.sections:
            self._note_slot = _Chart(div_id="")
            self.sections[-1].charts.append(self._note_slot)
            self._text = []
        if tag == "div" and "plotly-graph-div" in classes and self.sections:
            self.sections[-1].charts.append(_Chart(div_id=attributes.get("id") or ""))
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass
        if self._text is None:
            return
        text = "".join(self._text)
        collapsed = " ".join(text.split())
        if tag == "h1":
            self.title = collapsed
        elif tag == "h2":
            self.sections.append(_Section(heading=collapsed))
        elif tag == "footer":
            self.footer = collapsed
        elif tag == "script":
            self.scripts.append(text)
        elif tag == "p" and self._note_slot is not None:
            self._note_slot.note = collapsed
            self._note_slot = None
        elif tag == "p":
            self.subtitle = collapsed
        else:
            return
        self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def _format_number(value: float, number: dict[str, Any]) -> str:
    """An indicator's value the way plotly prints it, for the d3 formats the KPI tiles use."""
    spec = str(number.get("valueformat") or "")
    match = re.fullmatch(r"(,)?\.(\d+)f", spec)
    if match:
        text = f"{value:{',' if match.group(1) else ''}.{match.group(2)}f}"
    else:
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{number.get('prefix', '')}{text}{number.get('suffix', '')}"


def _read_figures(scripts: list[str]) -> dict[str, tuple[list[dict], dict]]:
    """div id -> (traces, layout) of every ``Plotly.newPlot`` call in the page's scripts."""
    decoder = json.JSONDecoder()
    figures: dict[str, tuple[list[dict], dict]] = {}
    for script in scripts:
        for match in _NEW_PLOT.finditer(script):
            try:
                traces, end = decoder.raw_decode(script, match.end())
                end = script.index(",", end) + 1
                while script[end].isspace():
                    end += 1
                layout, _ = decoder.raw_decode(script, end)
            except (ValueError, IndexError):
                continue  # not a figure this outline understands: the slot keeps its id
            figures[match.group("div")] = (traces, layout)
    return figures


def _title(layout: dict) -> str:
    title = layout.get("title")
    text = title.get("text", "") if isinstance(title, dict) else str(title or "")
    return re.sub(r"<[^>]+>", " ", text).strip()


def dashboard_outline(page: str, location: str) -> str:
    """HTML outline of a dashboard page written by ``reporting.nodes.build_dashboard``."""
    parser = _DashboardParser()
    parser.feed(page)
    parser.close()
    figures = _read_figures(parser.scripts)
    for section in parser.sections:
        for chart in section.charts:
            traces, layout = figures.get(chart.div_id, ([], {}))
            chart.title = _title(layout)
            chart.kpis = [
                (_title(trace), _format_number(trace["value"], trace.get("number") or {}))
                for trace in traces
                if trace.get("type") == "indicator"
                and trace.get("visible", True) is True
                and isinstance(trace.get("value"), int | float)
            ]

    esc = html.escape
    parts = [f"<h2>{esc(parser.title or 'Dashboard')}</h2>"]
    if parser.subtitle:
        parts.append(f"<p>{esc(parser.subtitle)}</p>")
    for section in parser.sections:
        parts.append(f"<h3>{esc(section.heading)}</h3>")
        items = []
        for chart in section.charts:
            if chart.note:
                items.append(f"<li><em>{esc(chart.note)}</em></li>")
                continue
            label = chart.title or chart.div_id
            kpis = "".join(
                f"<li>{esc(name)}: <strong>{esc(value)}</strong></li>" for name, value in chart.kpis
            )
            items.append(f"<li>{esc(label)}{f'<ul>{kpis}</ul>' if kpis else ''}</li>")
        parts.append(f"<ul>{''.join(items)}</ul>")
    charts = sum(1 for s in parser.sections for c in s.charts if not c.note)
    parts.append(
        f"<p>{charts} interactive charts: open <code>{esc(location)}</code> in a browser "
        f"({len(page.encode()) / 1e6:.1f} MB, plotly.js embedded, works offline).</p>"
    )
    if parser.footer:
        parts.append(f"<p><small>{esc(parser.footer)}</small></p>")
    return "\n".join(parts)


class DashboardHTMLDataset(TextDataset):
    """A ``text.TextDataset`` of the dashboard page whose kedro-viz preview is its outline.

    Loads and saves exactly like ``text.TextDataset`` (the pipeline hands it the page as a
    string); only :meth:`preview` is added.
    """

    def preview(self) -> HTMLPreview:
        """The page's outline (see the module docstring), or how to build the page."""
        location = str(self._filepath)
        if self._protocol not in {"file", "local"}:
            location = f"{self._protocol}://{location}"
        if not self.exists():
            return HTMLPreview(
                f"<p>No dashboard yet at <code>{html.escape(location)}</code>: run "
                "<code>kedro run --pipeline reporting</code> to build it.</p>"
            )
        return HTMLPreview(dashboard_outline(self.load(), location))
