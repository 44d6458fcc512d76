"""Data-derived text in plotly charts, shown as text and never as plotly's label markup.

Plotly renders a subset of HTML in trace names, legend entries, tick labels, titles and
dropdown labels: ``<a href=...>`` becomes a clickable link, ``<b>``/``<br>``/``<span style>``
change the layout. A complaint type or an agency name comes from the open data portal, so a
crafted value would put a link into the dashboard. Escaping ``&``, ``<`` and ``>`` as entities
makes plotly draw the characters themselves (it decodes the entities when it renders text).
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd


def escape_label(value: Any) -> str:
    """One label as plain text for plotly (``<b>x</b>`` is drawn as typed, not in bold)."""
    return html.escape(str(value), quote=False)


def escape_labels(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """The frame with the given label columns escaped (nulls stay null)."""
    out = frame.copy()
    for column in columns:
        out[column] = out[column].map(escape_label, na_action="ignore")
    return out
