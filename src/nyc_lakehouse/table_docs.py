"""What a table is, written next to the code that builds it: the registries behind docs/tables.md.

A :class:`TableDoc` states a table's grain in one sentence, its keys, how it is written and the
type and meaning of every column. Each pipeline keeps the docs of the tables it writes in its
own ``tables.py`` (gold keeps its ``TableSpec``, which also drives its nodes and data tests);
``nyc_lakehouse.reference_docs`` renders them all into ``docs/tables.md`` (``make docs``), and
``tests/test_reference_docs.py`` compares each registry with the columns the pipeline really
produces, so the reference cannot drift from the code.

A column name may hold a placeholder in angle brackets (``lag_<k>``): one documented entry for
columns whose number depends on parameters or on the source (``lag_1``, ``lag_7``...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_PLACEHOLDER = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class ColumnDoc:
    """One column, or a group of columns documented together (``label`` replaces the names)."""

    names: tuple[str, ...]
    type: str
    description: str
    label: str = ""
    optional: bool = False

    def __post_init__(self) -> None:
        if not self.names or not all(self.names):
            raise ValueError(f"Column doc {self.label or self.names!r} has no names")
        if not self.description.strip():
            raise ValueError(f"Column {self.names[0]!r} has no description")


def column(
    names: str | Sequence[str],
    type_: str,
    description: str,
    label: str = "",
    optional: bool = False,
) -> ColumnDoc:
    """A :class:`ColumnDoc`; ``names`` may be one string of names separated by spaces.

    ``optional``: the column exists only when the source sends it (e.g. a legacy export field).
    """
    split = tuple(names.split()) if isinstance(names, str) else tuple(names)
    return ColumnDoc(split, type_, description, label, optional)


def columns_from(
    docs: Mapping[str, ColumnDoc], names: str | Iterable[str]
) -> tuple[ColumnDoc, ...]:
    """The docs of ``names`` (space-separated or a list), in that order, from a shared dictionary."""
    wanted = names.split() if isinstance(names, str) else list(names)
    return tuple(docs[name] for name in wanted)


def column_dictionary(*docs: ColumnDoc) -> dict[str, ColumnDoc]:
    """Index single-column docs by name, so several tables can share one description."""
    index: dict[str, ColumnDoc] = {}
    for doc in docs:
        for name in doc.names:
            if name in index:
                raise ValueError(f"Column {name!r} is documented twice")
            index[name] = (
                doc
                if len(doc.names) == 1
                else column(name, doc.type, doc.description, optional=doc.optional)
            )
    return index


@dataclass(frozen=True)
class TableDoc:
    """One table: grain, keys, how it is written, its columns, and what checks its rows.

    ``rule_set`` names the parameter section whose data-quality rules check the table's rows
    (``silver.nyc311`` means ``silver.nyc311.rules``); ``values`` documents the values of a
    code column (``{"metric": {"row_count": "rows in the table", ...}}``); ``ordered`` says the
    documented column order is the table's (tests check it); ``internal`` marks working tables
    of the pipelines (scratch and log tables) that analysts do not need to query.
    """

    name: str
    pipeline: str
    grain: str
    columns: tuple[ColumnDoc, ...]
    write: str
    keys: tuple[str, ...] = ()
    partitioned_by: tuple[str, ...] = ()
    rule_set: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    ordered: bool = True
    internal: bool = False

    def __post_init__(self) -> None:
        if "." not in self.name:
            raise ValueError(f"Table {self.name!r}: use <schema>.<table>")
        if not (self.grain.startswith("One row per") and self.grain.endswith(".")):
            raise ValueError(f"Table {self.name}: the grain is one sentence 'One row per ... .'")
        names = self.column_names
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"Table {self.name}: columns documented twice: {duplicates}")
        unknown = [k for k in (*self.keys, *self.partitioned_by, *self.values) if k not in names]
        if unknown:
            raise ValueError(f"Table {self.name}: {unknown} are not documented columns")

    @property
    def schema(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def column_names(self) -> list[str]:
        """Every documented column name (placeholders included), in order."""
        return [name for doc in self.columns for name in doc.names]


def name_pattern(name: str) -> re.Pattern[str]:
    """The regex a documented name stands for (``lag_<k>`` matches ``lag_1``, ``lag_364``)."""
    parts = _PLACEHOLDER.split(name)
    return re.compile("[A-Za-z0-9_]+".join(re.escape(part) for part in parts) + r"\Z")


def column_problems(
    doc: TableDoc,
    produced: Sequence[str] | Mapping[str, str],
    ignore: Iterable[str] = (),
) -> list[str]:
    """How ``produced`` (names, or names -> Spark type) differs from ``doc``; empty when equal.

    Names with a placeholder must match at least one produced column, and every produced column
    exactly one documented name; ``optional`` columns may be missing. Types are compared when
    ``produced`` is a mapping and the doc gives a plain one; the order is compared when the doc is ``ordered`` and has no placeholders.
    ``ignore``: documented columns the producer under test cannot add (e.g. added on write).
    """
    ignored = set(ignore)
    documented = [n for n in doc.column_names if n not in ignored]
    produced_names = list(produced)
    types = dict(produced) if isinstance(produced, Mapping) else {}
    patterns = {n: name_pattern(n) for n in documented}
    problems: list[str] = []
    matched: dict[str, list[str]] = {n: [] for n in documented}
    for name in produced_names:
        hits = [d for d, pattern in patterns.items() if pattern.match(name)]
        if not hits:
            problems.append(f"{doc.name}: produced column {name!r} is not documented")
        elif len(hits) > 1:
            problems.append(f"{doc.name}: produced column {name!r} matches {hits}")
        else:
            matched[hits[0]].append(name)
    optional = {n for d in doc.columns if d.optional for n in d.names}
    problems += [
        f"{doc.name}: documented column {name!r} is not produced"
        for name, hits in matched.items()
        if not hits and name not in optional
    ]
    type_of = {n: d.type for d in doc.columns for n in d.names}
    for documented_name, hits in matched.items():
        expected = type_of[documented_name]
        for name in hits:
            # A descriptive type ("as in silver") stands for several; only plain ones compare.
            if types and expected and " " not in expected and types[name] != expected:
                problems.append(
                    f"{doc.name}.{name}: documented as {expected}, produced as {types[name]}"
                )
    has_placeholders = any(_PLACEHOLDER.search(n) for n in documented)
    expected_order = [n for n in documented if matched[n]]
    if not problems and doc.ordered and not has_placeholders and expected_order != produced_names:
        problems.append(
            f"{doc.name}: column order differs:\n  documented {expected_order}\n"
            f"  produced   {produced_names}"
        )
    return problems
