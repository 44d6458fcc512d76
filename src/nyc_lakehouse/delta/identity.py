"""Storage columns: the row identity and first-load tag the library puts on rows it stores.

A table written with ``add_row_hash`` / ``add_row_id`` (silver 311's persisted increment) carries
a content hash and a unique row id; an increment laid out for a first load also carries
:data:`KIND_COLUMN` (see :mod:`nyc_lakehouse.delta.first_load`). The upsert that reads such a
table ranks repeated keys on those narrow columns (see :mod:`nyc_lakehouse.delta.dedup`) and
drops them: they never reach the target table. Nodes never name them: a node that reshapes such
rows selects its columns with :func:`select_columns`, which keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from nyc_lakehouse.delta.spec import RowIdentitySpec

ROW_ID_COLUMN = "_row_id"
ROW_HASH_COLUMN = "_row_hash"
ROW_IDENTITY_COLUMNS = (ROW_ID_COLUMN, ROW_HASH_COLUMN)
KIND_COLUMN = "_kind"
"""``final`` (the row can become the target's as stored) or ``pending`` (ranked first)."""
FINAL, PENDING = "final", "pending"
STORAGE_COLUMNS = (*ROW_IDENTITY_COLUMNS, KIND_COLUMN)


def select_columns(data: DataFrame, columns: Sequence[str]) -> DataFrame:
    """``data.select(*columns)``, plus the storage columns ``data`` carries, last.

    For a node between two Delta tables (silver 311: the persisted increment and the upsert):
    the dataset that reads the increment hands over its row identity and first-load tag, and
    the dataset that writes the result uses them. A plain ``select`` would drop them, and the
    upsert would then stage and identify the whole batch again.
    """
    present = set(data.columns)
    return data.select(*columns, *[c for c in STORAGE_COLUMNS if c in present])


def with_identity(data: DataFrame, spec: RowIdentitySpec) -> DataFrame:
    """``data`` with the row hash and id that ``spec`` asks for (the id last: see below)."""
    if spec.row_hash_exclude is not None:
        data = with_row_hash(data, spec.row_hash_exclude)
    if spec.add_row_id:
        data = with_row_id(data)
    return data


def with_row_identity(data: DataFrame) -> DataFrame:
    """``data`` with a unique row id and a hash of the row's content, for deduplication.

    An upsert source that carries both, persisted before the upsert reads it, is deduplicated
    on narrow columns only (see :func:`nyc_lakehouse.delta.dedup.latest_per_key_staged`): the id
    tells apart rows whose content is identical, the hash breaks ties on the sequence by
    content, so the kept row never depends on row order. The id is only stable once stored:
    compute both before persisting.
    """
    return with_row_id(with_row_hash(data))


def with_row_hash(data: DataFrame, exclude: Sequence[str] = ()) -> DataFrame:
    """``data`` with :data:`ROW_HASH_COLUMN`, a hash of the row's content (map columns aside).

    A dataset with ``save_args.add_row_id`` adds the id as the last step of the write, after
    this hash. An id is a volatile expression, and a plan that computes one cannot drop the
    columns a narrow query does not need, so even counting the keys of a wide table would
    compute every column. ``exclude`` names columns that vary from run to run (a run's time):
    hashed, they would let a replay keep a different row of a tie.
    """
    return data.withColumn(ROW_HASH_COLUMN, row_hash_expression(data, exclude))


def row_hash_expression(data: DataFrame, exclude: Sequence[str] = ()) -> Column:
    """The content hash of :func:`with_row_hash` as an expression over ``data``'s columns."""
    from pyspark.sql import functions as F

    hashed = [
        F.col(c)
        for c, kind in data.dtypes
        if not kind.startswith("map") and c not in (*STORAGE_COLUMNS, *exclude)
    ]
    return F.xxhash64(*hashed)


def with_row_id(data: DataFrame) -> DataFrame:
    """``data`` with :data:`ROW_ID_COLUMN`, unique per row once stored (see above)."""
    from pyspark.sql import functions as F

    return data.withColumn(ROW_ID_COLUMN, F.monotonically_increasing_id())
