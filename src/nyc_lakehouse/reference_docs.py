"""Generate the reference pages docs/tables.md and docs/quality-rules.md from the code.

Run ``make docs`` (``python -m nyc_lakehouse.reference_docs``) after changing a table, a column
or a rule; ``--check`` only compares and exits 1 when a committed page is stale (a test does the
same). No Kedro session or Spark engine is needed: the sources are plain Python and YAML.

Sources, one per fact:

* tables: gold's ``TableSpec`` registry (``pipelines/gold/tables.py``, which also drives the gold
  nodes and data tests) and the ``TableDoc`` registries next to the other pipelines' code
  (``pipelines/<pipeline>/tables.py``, ``pipelines/gold/results_table.py``);
* row rules: the ``rules`` lists of ``conf/base/parameters_*.yml`` (as ``rules_from_config``
  reads them), with the table each checks from ``pipelines/silver/tables.RULE_SETS``, and the
  actions' effects from ``quality.rules.ACTION_EFFECTS``;
* data tests: every gold and analytics ``DataTest``, after the ``gold.data_tests`` overrides of
  the parameters, their SQL placeholders filled in.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nyc_lakehouse.pipelines.bronze import tables as bronze_tables
from nyc_lakehouse.pipelines.forecasting import tables as forecasting_tables
from nyc_lakehouse.pipelines.gold import data_tests
from nyc_lakehouse.pipelines.gold.data_tests import DataTest
from nyc_lakehouse.pipelines.gold.results_table import GOLD_PUBLICATIONS, GOLD_TEST_RESULTS
from nyc_lakehouse.pipelines.gold.tables import TABLES as GOLD_TABLES
from nyc_lakehouse.pipelines.gold.tables import TableSpec, all_data_tests
from nyc_lakehouse.pipelines.ml_features import tables as ml_feature_tables
from nyc_lakehouse.pipelines.monitoring import tables as monitoring_tables
from nyc_lakehouse.pipelines.silver import tables as silver_tables
from nyc_lakehouse.quality.rules import ACTION_EFFECTS, ACTIONS, Rule, rules_from_config
from nyc_lakehouse.table_docs import TableDoc, column

COMMAND = "make docs"
MODULE = "nyc_lakehouse.reference_docs"
TABLES_PAGE = "docs/tables.md"
RULES_PAGE = "docs/quality-rules.md"
PARAMETER_FILES = "conf/base/parameters*.yml"

# Every rule registry in the parameters: section -> (checked table, quarantine table).
RULE_SETS: dict[str, tuple[str, str]] = {**silver_tables.RULE_SETS}

_SEVERITY_EFFECTS = {
    "error": "A failing test fails the run, after every result is written.",
    "warn": "A failing test is recorded and logged; the run goes on.",
}
_DATA_TEST_PIPELINES = ("gold", "analytics", "forecasting")


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


def load_parameters(root: Path) -> dict[str, Any]:
    """The shipped parameters (``conf/base/parameters*.yml``), merged as Kedro merges them.

    Only ``base``: a developer's ``conf/local`` must not change the committed reference.
    """
    files = sorted(root.glob(PARAMETER_FILES))
    if not files:
        raise FileNotFoundError(f"No {PARAMETER_FILES} under {root}: pass --root <project>")
    merged: dict[str, Any] = {}
    for path in files:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        clash = sorted(set(content) & set(merged))
        if clash:
            raise ValueError(f"{path.name}: top-level keys {clash} are declared twice")
        merged.update(content)
    return merged


@dataclass(frozen=True)
class RuleSet:
    """The rules of one parameter section and what they guard."""

    section: str
    table: str
    quarantine_table: str
    rules: tuple[Rule, ...]
    max_quarantine_share: float | None
    min_rows_for_share_check: int


def rule_sets(parameters: Mapping[str, Any]) -> list[RuleSet]:
    """Every ``rules`` list in the parameters, in file order; each must be in ``RULE_SETS``."""
    found: list[RuleSet] = []
    for section, config in _sections_with_rules(parameters, ""):
        if section not in RULE_SETS:
            raise ValueError(
                f"Parameters declare rules under {section}.rules, but no registry says which "
                f"table they check: add {section!r} to a RULE_SETS (pipelines/<p>/tables.py)"
            )
        table, quarantine = RULE_SETS[section]
        share = config.get("max_quarantine_share")
        found.append(
            RuleSet(
                section=section,
                table=table,
                quarantine_table=quarantine,
                rules=tuple(rules_from_config(config["rules"])),
                max_quarantine_share=None if share is None else float(share),
                min_rows_for_share_check=int(config.get("min_rows_for_share_check", 0)),
            )
        )
    missing = sorted(set(RULE_SETS) - {s.section for s in found})
    if missing:
        raise ValueError(f"RULE_SETS names {missing}, but the parameters have no such rules")
    return found


def _sections_with_rules(node: Any, path: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
    if not isinstance(node, Mapping):
        return
    if isinstance(node.get("rules"), list):
        yield path, node
    for key, value in node.items():
        yield from _sections_with_rules(value, f"{path}.{key}" if path else str(key))


def effective_data_tests(parameters: Mapping[str, Any]) -> list[DataTest]:
    """The gold and analytics data tests as the pipelines run them (parameter overrides applied)."""
    config = parameters.get("gold", {}).get("data_tests", {}) or {}
    tests: list[DataTest] = []
    for pipeline in _DATA_TEST_PIPELINES:
        tests += data_tests.apply_overrides(all_data_tests(pipeline), config)
    return tests


def gold_table_doc(spec: TableSpec) -> TableDoc:
    """A gold ``TableSpec`` as a :class:`TableDoc` (no types: gold's registry has none)."""
    return TableDoc(
        name=f"gold.{spec.name}",
        pipeline=spec.pipeline,
        grain=spec.grain,
        columns=tuple(column(name, "", text) for name, text in spec.columns.items()),
        write=spec.write,
    )


def all_tables() -> list[tuple[str, str, list[TableDoc]]]:
    """Every documented table, in sections: (title, introduction, tables)."""
    registries: list[TableDoc] = [
        *bronze_tables.TABLES.values(),
        *silver_tables.TABLES.values(),
        *(gold_table_doc(spec) for spec in GOLD_TABLES.values()),
        *ml_feature_tables.TABLES.values(),
        *forecasting_tables.TABLES.values(),
        GOLD_TEST_RESULTS,
        GOLD_PUBLICATIONS,
        *monitoring_tables.TABLES.values(),
    ]
    names = [doc.name for doc in registries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Tables documented twice: {duplicates}")

    def pick(test: Callable[[TableDoc], bool]) -> list[TableDoc]:
        chosen = [doc for doc in registries if test(doc)]
        return [d for d in chosen if not d.internal] + [d for d in chosen if d.internal]

    sections = [
        (
            "Bronze",
            "The landed records as received: every value a string, nothing changed.",
            pick(lambda d: d.schema == "bronze"),
        ),
        (
            "Silver",
            "Typed, cleaned, quality-checked tables with one row per real-world thing, merged "
            "incrementally.",
            pick(lambda d: d.schema == "silver"),
        ),
        (
            "Gold",
            "The 311 star schema (four dimensions, one fact), its aggregates and the 911 KPI "
            "tables: what dashboards and analysts query.",
            pick(lambda d: d.schema == "gold" and d.pipeline == "gold"),
        ),
        (
            "Analytics",
            "Seasonality, COVID impact, holidays and hotspots, built from gold (schema `gold`).",
            pick(lambda d: d.schema == "gold" and d.pipeline == "analytics"),
        ),
        (
            "ML",
            "The daily volume panel, its feature table and the forecasts.",
            pick(lambda d: d.schema == "ml" or d.pipeline in ("ml_features", "forecasting")),
        ),
        (
            "Monitoring",
            "The lakehouse's own records: quality results, batch logs and pipeline metrics.",
            pick(lambda d: d.schema == "monitoring"),
        ),
    ]
    placed = [doc.name for _, _, docs in sections for doc in docs]
    unplaced = sorted(set(names) - set(placed))
    if unplaced or len(placed) != len(names):
        raise ValueError(f"Tables in no section or in two: {unplaced or placed}")
    return sections


# --------------------------------------------------------------------------------------------
# Markdown helpers
# --------------------------------------------------------------------------------------------


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _cell(text: object) -> str:
    """Text for a table cell: one line, pipes escaped (also inside code spans, as GFM wants)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: object) -> str:
    value = " ".join(str(text).split())
    fence = "``" if "`" in value else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _generated_line(sources: str) -> str:
    return (
        f"> Generated by `{COMMAND}` (`python -m {MODULE}`) from {sources}. "
        "Do not edit by hand: change the source and run `make docs`."
    )


def _table_heading(name: str) -> str:
    return f"`{name}`"


def _table_link(name: str, page: str = "") -> str:
    return f"[`{name}`]({page}#{anchor(_table_heading(name))})"


# --------------------------------------------------------------------------------------------
# docs/tables.md
# --------------------------------------------------------------------------------------------


def _gold_keys(tests: Sequence[DataTest]) -> tuple[list[tuple[str, ...]], list[DataTest]]:
    """Tested keys of a gold table (unique columns, unique column sets) and its foreign keys."""
    not_null = {t.column for t in tests if t.check == "not_null"}
    single = [(t.column,) for t in tests if t.check == "unique" and t.column]
    composite = []
    for test in tests:
        match = re.search(r"GROUP BY (.+?) HAVING count\(\*\) > 1", test.sql or "")
        if test.check == "sql" and match:
            composite.append(tuple(c.strip() for c in match.group(1).split(",")))
    # The primary key first: a unique column also tested not null.
    single.sort(key=lambda key: key[0] not in not_null)
    return single + composite, [t for t in tests if t.check == "relationships"]


def _key(columns: Sequence[str]) -> str:
    return _names(columns) if len(columns) == 1 else f"({_names(columns)})"


def _columns_table(doc: TableDoc) -> list[str]:
    typed = any(c.type for c in doc.columns)
    header = ["column", "type", "description"] if typed else ["column", "description"]
    rows = []
    for col in doc.columns:
        shown = col.label or _names(col.names)
        # Types in code spans: a bare `array<string>` would be read as an HTML tag.
        kind = f"`{col.type}`" if col.type and " " not in col.type else col.type
        rows.append([shown, kind, col.description] if typed else [shown, col.description])
    return _table(header, rows)


def _render_table_doc(
    doc: TableDoc,
    tests: Sequence[DataTest],
    rules: Mapping[str, RuleSet],
) -> list[str]:
    lines = [f"### {_table_heading(doc.name)}", "", doc.grain, ""]
    facts: list[str] = []
    keys = [doc.keys] if doc.keys else []
    foreign: list[DataTest] = []
    if tests:
        tested_keys, foreign = _gold_keys(tests)
        keys = keys or tested_keys
    if keys:
        shown = _key(keys[0])
        if keys[1:]:
            shown += "; also unique: " + ", ".join(_key(k) for k in keys[1:])
        facts.append(f"**Key:** {shown}")
    else:
        facts.append("**Key:** none")
    if doc.partitioned_by and "partition" not in doc.write:
        facts.append(f"**Written:** {doc.write}; partitioned by {_names(doc.partitioned_by)}")
    else:
        facts.append(f"**Written:** {doc.write}")
    pipelines = [p.strip() for p in doc.pipeline.split(",")]
    facts.append(
        f"**Written by:** the {' and '.join(f'`{p}`' for p in pipelines)} "
        f"pipeline{'s' * (len(pipelines) > 1)}"
    )
    if foreign:
        joins = ", ".join(
            f"`{t.column}` -> {_table_link('gold.' + str(t.to_table))}.`{t.to_column}`"
            for t in foreign
        )
        facts.append(f"**Joins:** {joins}")
    if doc.rule_set:
        rule_set = rules[doc.rule_set]
        facts.append(
            f"**Checked by:** [{len(rule_set.rules)} data-quality rules]"
            f"(quality-rules.md#{anchor(_table_heading(doc.name))}) on every incoming row "
            f"(`{doc.rule_set}.rules`)"
        )
    if tests:
        prefix = f"{doc.name.removeprefix('gold.')}__"
        names = ", ".join(
            f"`{t.name.removeprefix(prefix)}`" + (" (warn)" if t.severity == "warn" else "")
            for t in tests
        )
        link = f"quality-rules.md#{anchor(_table_heading(doc.name))}"
        facts.append(f"**Data tests** ({len(tests)}, [conditions]({link})): {names}")
    lines += [f"- {fact}" for fact in facts]
    lines += ["", *_columns_table(doc), ""]
    for note in doc.notes:
        lines += [note, ""]
    for column_name, values in doc.values.items():
        lines += [f"Values of `{column_name}`:", ""]
        lines += _table([column_name, "meaning"], ([_code(v), text] for v, text in values.items()))
        lines.append("")
    return lines


def render_tables(parameters: Mapping[str, Any]) -> str:
    """``docs/tables.md``: every table of the lakehouse."""
    sections = all_tables()
    tests_by_table: dict[str, list[DataTest]] = {}
    for test in effective_data_tests(parameters):
        tests_by_table.setdefault(f"gold.{test.table}", []).append(test)
    rules = {s.section: s for s in rule_sets(parameters)}
    count = sum(len(docs) for _, _, docs in sections)
    lines = [
        _generated_line(
            "the table registries next to the code that builds each table "
            "(`src/nyc_lakehouse/pipelines/*/tables.py`)"
        ),
        "",
        "# Tables",
        "",
        f"Every table of the lakehouse ({count}): its grain (what one row is), key, how it is "
        "written, and each column. Locally a table `<schema>.<table>` is the Delta table at "
        "`data/<schema>/<table>`; on Databricks it is `<catalog>.<schema>.<table>`. Types "
        "are the Spark SQL types the local engine (Sail) writes. Working "
        "tables of the pipelines (scratch tables and logs) come last in their section. The "
        "rules and data tests named here are spelled out in [quality-rules.md](quality-rules.md) "
        "(data tests are shown without their `<table>__` prefix; error-level unless marked "
        "warn).",
        "",
        "## Contents",
        "",
    ]
    for title, _, docs in sections:
        links = ", ".join(_table_link(doc.name) for doc in docs)
        lines.append(f"- [{title}](#{anchor(title)}): {links}")
    lines.append("")
    for title, introduction, docs in sections:
        lines += [f"## {title}", "", introduction, ""]
        lines += _table(
            ["table", "one row per"],
            (
                [_table_link(doc.name), doc.grain.removeprefix("One row per ").rstrip(".")]
                for doc in docs
            ),
        )
        lines.append("")
        for doc in docs:
            lines += _render_table_doc(doc, tests_by_table.get(doc.name, []), rules)
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------
# docs/quality-rules.md
# --------------------------------------------------------------------------------------------


def _fill(text: str, placeholders: Mapping[str, Any]) -> str:
    return text.format(**placeholders) if placeholders else text


def _number(value: float) -> str:
    """A bound as written in the registry: ``0.000001``, not ``1e-06``."""
    return f"{value:.12f}".rstrip("0").rstrip(".")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else "-"


def describe_data_test(test: DataTest, placeholders: Mapping[str, Any]) -> str:
    """What a data test requires, in words (markdown), as its query checks it."""
    c = f"`{test.column}`"
    if test.check == "unique":
        return f"{c} is unique (nulls aside)"
    if test.check == "not_null":
        return f"{c} is never null"
    if test.check == "relationships":
        target = _table_link(f"gold.{test.to_table}", "tables.md")
        return f"every non-null {c} exists in {target}.`{test.to_column}`"
    if test.check == "accepted_values":
        return f"{c} is null or one of {_names(test.values or ())}"
    if test.check == "range":
        low, high = test.min_value, test.max_value
        if low is not None and high is not None:
            return f"{c} is null or between {_number(low)} and {_number(high)}"
        if low is not None:
            return f"{c} is null or at least {_number(low)}"
        return f"{c} is null or at most {_number(high)}"
    if test.check == "expression":
        return f"every row satisfies {_code(_fill(str(test.expression), placeholders))}"
    return f"this query returns no row: {_code(_fill(str(test.sql), placeholders))}"


def render_quality_rules(parameters: Mapping[str, Any]) -> str:
    """``docs/quality-rules.md``: every row rule and every data test."""
    sets = rule_sets(parameters)
    config = parameters.get("gold", {}).get("data_tests", {}) or {}
    # {horizon} of the forecasting feature table's tests is the forecasting horizon.
    horizon = (parameters.get("forecasting", {}) or {}).get("horizon")
    placeholders = {"horizon": horizon, **(config.get("placeholders") or {})}
    tests = effective_data_tests(parameters)
    by_table: dict[str, list[DataTest]] = {}
    for test in tests:
        by_table.setdefault(f"gold.{test.table}", []).append(test)
    rule_count = sum(len(s.rules) for s in sets)
    lines = [
        _generated_line(
            "the rule lists in `conf/base/parameters_*.yml` and the data tests declared next "
            "to each gold table (`src/nyc_lakehouse/pipelines/gold/tables.py`)"
        ),
        "",
        "# Data-quality rules and data tests",
        "",
        "The lakehouse checks its data twice:",
        "",
        f"- **Row rules** ({rule_count}) when silver loads an increment: every incoming row is "
        "checked; a rule's `condition` is SQL that a good row satisfies, and a row fails when "
        "it is false **or null**. Each rule's action decides what happens to a failing row. "
        "Counts per run and rule: `monitoring.dq_results`.",
        f"- **Data tests** ({len(tests)}) after gold and analytics build their tables: each is "
        "a query that returns the failing rows. Results per run and test: "
        "`monitoring.gold_test_results`.",
        "",
        "## Contents",
        "",
        "- [Actions and severities](#actions-and-severities)",
        "- [Row rules](#row-rules): "
        + ", ".join(f"{_table_link(s.table)} ({len(s.rules)})" for s in sets),
        "- [Data tests](#data-tests): "
        + ", ".join(f"{_table_link(t)} ({len(ts)})" for t, ts in by_table.items()),
        "- [Changing a rule or a test](#changing-a-rule-or-a-test)",
        "",
        "## Actions and severities",
        "",
    ]
    lines += _table(
        ["rule action", "what happens to a failing row"],
        ([f"`{action}`", ACTION_EFFECTS[action]] for action in ACTIONS),
    )
    lines += [
        "",
        "In silver, a row's failed `warn` rules are listed in its `dq_warnings` column.",
        "",
    ]
    lines += _table(
        ["test severity", "what a failing test does"],
        ([f"`{severity}`", effect] for severity, effect in _SEVERITY_EFFECTS.items()),
    )
    lines += [
        "",
        "A data test that cannot run (a missing table or column, an SQL error) is recorded "
        "with status `error` and counts as failing: it never passes by accident.",
        "",
        "## Row rules",
        "",
    ]
    for rule_set in sets:
        lines += [f"### {_table_heading(rule_set.table)}", ""]
        text = (
            f"Declared under `{rule_set.section}.rules`; quarantined rows go to "
            f"{_table_link(rule_set.quarantine_table, 'tables.md')}. "
            f"Table: {_table_link(rule_set.table, 'tables.md')}."
        )
        if rule_set.max_quarantine_share is not None:
            text += (
                f" The run also fails when more than {rule_set.max_quarantine_share:.0%} of an "
                f"increment is quarantined, if the increment has at least "
                f"{rule_set.min_rows_for_share_check:,} rows (`max_quarantine_share`, "
                "`min_rows_for_share_check`)."
            )
        lines += [text, ""]
        lines += _table(
            ["rule", "condition (a good row satisfies it)", "action", "why"],
            (
                [f"`{r.name}`", _code(r.condition), f"`{r.action}`", _sentence(r.description)]
                for r in rule_set.rules
            ),
        )
        lines.append("")
    lines += [
        "## Data tests",
        "",
        "Placeholders in the SQL are filled from `gold.data_tests.placeholders`; "
        "`gold.data_tests.severity_overrides`, `disabled` and `extra_tests` (parameters) are "
        "applied. In the queries, each gold table is named without its schema.",
        "",
    ]
    for table, table_tests in by_table.items():
        lines += [f"### {_table_heading(table)}", ""]
        lines += [f"Table: {_table_link(table, 'tables.md')}.", ""]
        lines += _table(
            ["test", "requires", "severity"],
            (
                [f"`{t.name}`", describe_data_test(t, placeholders), f"`{t.severity}`"]
                for t in table_tests
            ),
        )
        lines.append("")
    lines += [
        "## Changing a rule or a test",
        "",
        "- A row rule is an entry of `rules` in `conf/base/parameters_silver.yml`: `name`, "
        "`condition`, `action` (`warn`, `quarantine` or `fail`), `description` (the why). "
        "`tests/pipelines/silver/test_silver_rules.py` fails until the rule has a failing and a "
        "passing example.",
        "- A data test is declared next to its table in "
        "`src/nyc_lakehouse/pipelines/gold/tables.py`; parameters can change a test's severity, "
        "disable it or add tests (`gold.data_tests`).",
        f"- Then run `{COMMAND}`: a test fails while this page differs from the sources.",
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

PAGES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    TABLES_PAGE: render_tables,
    RULES_PAGE: render_quality_rules,
}


def render_all(root: Path) -> dict[str, str]:
    """Each page's expected content, from the sources under ``root``."""
    parameters = load_parameters(root)
    return {page: render(parameters) for page, render in PAGES.items()}


def stale_pages(root: Path) -> list[str]:
    """The pages whose committed file differs from what the sources give."""
    stale = []
    for page, text in render_all(root).items():
        path = root / page
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(page)
    return stale


def write_pages(root: Path) -> list[str]:
    """Write every stale page; return the pages written."""
    written = []
    for page, text in render_all(root).items():
        path = root / page
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(page)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {MODULE}",
        description=f"Generate {TABLES_PAGE} and {RULES_PAGE} from the code.",
    )
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: .)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.check:
        stale = stale_pages(root)
        for page in PAGES:
            print(f"{page}: {'stale' if page in stale else 'up to date'}")
        if stale:
            print(f"Run `{COMMAND}` and commit the result.", file=sys.stderr)
            return 1
        return 0
    written = write_pages(root)
    for page in PAGES:
        print(f"{page}: {'written' if page in written else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
