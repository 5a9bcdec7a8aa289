"""The FOCUS billing store: FOCUS 1.0-1.3 exports ingested into DuckDB, read back as cost cubes.

Ingest (:meth:`BillingStore.ingest`) reads CSV (plain or gzip) and Parquet with DuckDB, maps the columns
onto one canonical FOCUS 1.2 table (1.3's ``ServiceProviderName`` fills ``ProviderName`` when that is
absent; column names match case-insensitively), keeps ``x_`` and other custom columns as text columns,
stores ``Tags`` as DuckDB JSON, and tolerates the quirks of real exports:

* ``NULL``/``null`` literals and empty strings are nulls;
* timestamps without ``T``/``Z`` (``2024-09-18 22:00:00``), with offsets, or US dates (``4/1/25``) parse
  as UTC; values that do not parse become null and are reported;
* casing drift in enumerated columns ("Usage-based") is normalised to the spec spelling and reported.

Validation against ``finops.md`` §1.2 is reported as warnings (never fatal): missing mandatory columns,
nulls where the spec forbids them, ``ListCost = ListUnitPrice x PricingQuantity`` (and the contracted
twin), ``EffectiveCost = BilledCost`` on credits and adjustments, commitment balance per
``CommitmentDiscountId`` (purchases billed = usage amortised), charge periods that end before they
start, invalid ``Tags`` JSON, several currencies. A file without ``BilledCost``, ``EffectiveCost`` or
``ChargePeriodStart`` is refused with :class:`~tollgate.errors.InputError` naming the file and column.

Idempotence: a file whose SHA-256 digest was ingested before is skipped; rows of a new file that are
identical to rows already stored from another file (same row identity: a hash of every column value)
are dropped, so re-exports that overlap earlier ones do not double-count. Only stored rows in the new
file's ``ChargePeriodStart`` range are compared.

Storage (a memory store keeps every row in the table): a clean Parquet file (FOCUS types already, valid
JSON, enumerations in spec spelling) whose charge period range holds no stored row is kept as is, copied
byte for byte to ``<store>.parts/part-<digest>.parquet`` (never read from the user's path again); its row
identity is computed only when a later file overlaps it. A file up to :data:`CONVERTED_PART_MAX_BYTES`
that needs conversions is written converted, with its quirk flags, as ``conv-<digest>.parquet``; larger
ones and any file overlapping stored rows go into the DuckDB table ``focus_base``. ``focus_rows`` shows
them all (a temp view per connection, bound only when rows are queried); each file's ``ChargePeriodStart``
span is recorded so an overlap check opens only the parts it may meet. Each ingested file also adds its
daily cost per currency and :data:`ROLLUP_DIMS` to the ``focus_daily`` rollup, so daily cubes over those
dimensions read the rollup rather than the rows.

Series (:meth:`BillingStore.cube`): cost per hour or day bucket (UTC) and any set of dimensions. Mixed
granularity rule: a row whose charge period fits in one bucket is counted in the bucket of its
``ChargePeriodStart``; a row whose charge period spans several buckets (a daily Azure row in an hourly
cube, a monthly charge in a daily cube) is spread over the buckets it covers, in proportion to the time
it overlaps each one. Totals are therefore preserved exactly at every granularity.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np

from tollgate.errors import DependencyError, InputError, ParseError
from tollgate.model.focus import FileIngest, IngestSummary
from tollgate.model.series import DEFAULT_DIMS, CostCube, CostMetric, Granularity, bucket_unit

__all__ = [
    "COST_COLUMNS",
    "DIMENSIONS",
    "REQUIRED_COLUMNS",
    "BillingSource",
    "BillingStore",
    "FakeBillingStore",
    "file_digest",
    "write_focus_files",
]

log = logging.getLogger(__name__)

TABLE = "focus_rows"  # every stored row: the base table, or a temp view of it and the Parquet parts
BASE = "focus_base"  # rows read through conversions (CSV, quirky Parquet, memory stores)
FILES = "focus_files"
ROLLUP = "focus_daily"  # daily cost per file, currency and ROLLUP_DIMS, kept at ingest
#: Cube dimensions the daily rollup carries; a daily cube over these (and filters on them) never reads rows.
#: The tags are those ``tollgate cost anomalies`` drills into by default (``app``, ``application``).
ROLLUP_DIMS: tuple[str, ...] = (*DEFAULT_DIMS, "tag:app", "tag:application")

_TS, _NUM, _JSON, _STR = "TIMESTAMP", "DOUBLE", "JSON", "VARCHAR"

#: Canonical FOCUS 1.2 (+1.3) columns and their store types.
FOCUS_COLUMNS: dict[str, str] = {
    "AvailabilityZone": _STR, "BilledCost": _NUM, "BillingAccountId": _STR, "BillingAccountName": _STR,
    "BillingAccountType": _STR, "BillingCurrency": _STR, "BillingPeriodEnd": _TS, "BillingPeriodStart": _TS,
    "CapacityReservationId": _STR, "CapacityReservationStatus": _STR, "ChargeCategory": _STR,
    "ChargeClass": _STR, "ChargeDescription": _STR, "ChargeFrequency": _STR, "ChargePeriodEnd": _TS,
    "ChargePeriodStart": _TS, "CommitmentDiscountCategory": _STR, "CommitmentDiscountId": _STR,
    "CommitmentDiscountName": _STR, "CommitmentDiscountQuantity": _NUM, "CommitmentDiscountStatus": _STR,
    "CommitmentDiscountType": _STR, "CommitmentDiscountUnit": _STR, "ConsumedQuantity": _NUM,
    "ConsumedUnit": _STR, "ContractedCost": _NUM, "ContractedUnitPrice": _NUM, "EffectiveCost": _NUM,
    "InvoiceId": _STR, "InvoiceIssuerName": _STR, "ListCost": _NUM, "ListUnitPrice": _NUM,
    "PricingCategory": _STR, "PricingCurrency": _STR, "PricingCurrencyContractedUnitPrice": _NUM,
    "PricingCurrencyEffectiveCost": _NUM, "PricingCurrencyListUnitPrice": _NUM, "PricingQuantity": _NUM,
    "PricingUnit": _STR, "ProviderName": _STR, "PublisherName": _STR, "RegionId": _STR, "RegionName": _STR,
    "ResourceId": _STR, "ResourceName": _STR, "ResourceType": _STR, "ServiceCategory": _STR,
    "ServiceName": _STR, "ServiceSubcategory": _STR, "SkuId": _STR, "SkuMeter": _STR,
    "SkuPriceDetails": _JSON, "SkuPriceId": _STR, "SubAccountId": _STR, "SubAccountName": _STR,
    "SubAccountType": _STR, "Tags": _JSON,
    # FOCUS 1.3
    "ServiceProviderName": _STR, "HostProviderName": _STR, "AllocatedMethodId": _STR,
    "AllocatedMethodDetails": _JSON, "AllocatedResourceId": _STR, "AllocatedResourceName": _STR,
    "AllocatedTags": _JSON, "ContractApplied": _JSON,
}

#: Spec spellings of the enumerated columns (values are normalised case-insensitively to these).
ENUMS: dict[str, tuple[str, ...]] = {
    "ChargeCategory": ("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
    "ChargeClass": ("Correction",),
    "ChargeFrequency": ("One-Time", "Recurring", "Usage-Based"),
    "PricingCategory": ("Standard", "Dynamic", "Committed", "Other"),
    "CommitmentDiscountCategory": ("Spend", "Usage"),
    "CommitmentDiscountStatus": ("Used", "Unused"),
    "CapacityReservationStatus": ("Used", "Unused"),
}

#: A file without one of these cannot be turned into cost series: refused (exit 2).
REQUIRED_COLUMNS = ("BilledCost", "EffectiveCost", "ChargePeriodStart")
#: Mandatory in FOCUS 1.x; a missing one is a warning. (ProviderName may come as ServiceProviderName.)
MANDATORY_COLUMNS = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingAccountId", "BillingCurrency",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
    "ChargeClass", "ChargeDescription", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "InvoiceIssuerName", "ServiceName", "ServiceCategory",
)
#: Mandatory columns that may not hold nulls (finops.md §1.2 "null?" = no).
NOT_NULL_COLUMNS = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ChargePeriodStart", "ChargePeriodEnd",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargeCategory", "BillingCurrency", "ServiceName",
    "BillingAccountId",
)

#: Cost metric -> FOCUS column.
COST_COLUMNS: dict[str, str] = {
    "effective": "EffectiveCost",
    "billed": "BilledCost",
    "list": "ListCost",
    "contracted": "ContractedCost",
}

#: Cube dimension -> SQL over the store table (``tag:<key>`` and ``x_`` columns are handled apart).
DIMENSIONS: dict[str, str] = {
    "provider": 'coalesce("ServiceProviderName", "ProviderName")',
    "host_provider": '"HostProviderName"',
    "publisher": '"PublisherName"',
    "service": '"ServiceName"',
    "service_category": '"ServiceCategory"',
    "service_subcategory": '"ServiceSubcategory"',
    "billing_account": '"BillingAccountId"',
    "sub_account": '"SubAccountId"',
    "sub_account_name": '"SubAccountName"',
    "region": '"RegionId"',
    "availability_zone": '"AvailabilityZone"',
    "resource_id": '"ResourceId"',
    "resource_name": '"ResourceName"',
    "resource_type": '"ResourceType"',
    "charge_category": '"ChargeCategory"',
    "charge_frequency": '"ChargeFrequency"',
    "pricing_category": '"PricingCategory"',
    "sku": '"SkuId"',
    "commitment_discount_id": '"CommitmentDiscountId"',
    "currency": '"BillingCurrency"',
}

# Row quirk flags (bit mask stored per row, counted per file for the warnings).
_F_CASE, _F_TS_FORMAT, _F_TS_BAD, _F_NUM_BAD, _F_JSON_BAD, _F_NUM_FORMAT = 1, 2, 4, 8, 16, 32
_NULL_TOKENS = ["NULL", "null", "Null", ""]
_US_DATE_FORMATS = ["%m/%d/%y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%m/%d/%y %H:%M", "%m/%d/%Y %H:%M",
                    "%m/%d/%y", "%m/%d/%Y"]
_TOLERANCE = "(1e-6 + 1e-4 * abs({a}))"
_FOCUS_TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


#: Columns of ``focus_files`` in insert order (the part and span columns were added after the first version).
_FILE_COLUMNS = ("(id, digest, path, format, rows_read, rows_inserted, ingested_at, warnings, part, part_sql, "
                 "span_lo, span_hi, null_starts)")
#: Placeholder for a part's reader in the SELECT stored with it (the store directory may move).
_SOURCE = "@@PART_SOURCE@@"
#: A file up to this size that needs conversions (CSV, quirky Parquet) becomes a converted Parquet part of a
#: file store (a day's or a week's export: no write-ahead log, no checkpoint); larger files go into the
#: base table, which DuckDB compresses better and scans faster.
CONVERTED_PART_MAX_BYTES = 256 << 20
#: DuckDB checkpoints when its write-ahead log passes this: small appends commit without a checkpoint.
CHECKPOINT_THRESHOLD = "1GB"
#: An ingest call that added at least this many rows to the base table checkpoints at its end.
CHECKPOINT_ROWS = 1_000_000


class _TypedReadFailed(Exception):
    """The typed CSV fast path met a value it cannot read; the file is read again as text."""


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _file_format(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    return "csv"


def _source_sql(path: Path, fmt: str, types: Mapping[str, str] | None = None) -> str:
    """DuckDB reader of a file: Parquet as is; CSV all text, or with ``types`` (source column -> type) typed.

    The typed CSV reader accepts only FOCUS-form timestamps and plain numbers; a file with any other value
    in those columns fails to read and goes through the all-text, quirk-tolerant reader instead.
    """
    p = _lit(str(path))
    if fmt == "parquet":
        return f"read_parquet({p})"
    nulls = ", ".join(_lit(t) for t in _NULL_TOKENS)
    compression = "gzip" if fmt == "csv.gz" else "none"
    common = f"header = true, nullstr = [{nulls}], compression = {_lit(compression)}"
    if not types:
        return f"read_csv({p}, all_varchar = true, {common})"
    typed = ", ".join(f"{_lit(name)}: {_lit(kind)}" for name, kind in types.items())
    return (f"read_csv({p}, {common}, all_varchar = true, types = {{{typed}}}, "
            f"timestampformat = {_lit(_FOCUS_TS_FORMAT)})")


def _part_exprs(plan: Sequence[_Column]) -> list[str] | None:
    """Store values of a Parquet file's columns without conversion work, or None if one needs it.

    Each expression gives the same value (and type) as :meth:`BillingStore._convert` on a clean file, so the
    row identity of a part equals the one the table path would store.
    """
    exprs: list[str] = []
    for col in plan:
        src, kind = q(col.source), col.source_type.upper().strip('"')
        if kind == "NULL":
            exprs.append(f"CAST({src} AS {col.target_type})")
        elif col.target_type in (_NUM, _TS):
            if kind == "VARCHAR":
                return None
            exprs.append(BillingStore._convert(col)[0])
        elif col.target_type == _JSON:
            if kind == "JSON":
                exprs.append(src)
            elif kind == "VARCHAR":
                exprs.append(f"CAST({src} AS JSON)")
            else:
                return None
        elif kind == "VARCHAR":
            exprs.append(src)
        elif col.target in ENUMS:
            return None
        else:
            exprs.append(f"CAST({src} AS VARCHAR)")
    return exprs


def _uncast_json(plan: Sequence[_Column], exprs: Sequence[str]) -> list[str]:
    """``exprs`` with the JSON casts of :func:`_part_exprs` left out (text that JSON functions read as well)."""
    return [e.removeprefix("CAST(").removesuffix(" AS JSON)")
            if c.target_type == _JSON and c.source_type.upper() == "VARCHAR" else e
            for c, e in zip(plan, exprs, strict=True)]


def _part_checks(plan: Sequence[_Column]) -> list[str]:
    """Aggregates over :func:`_part_select` counting rows the table path would change (invalid JSON, casing)."""
    checks: list[str] = []
    for col in plan:
        if col.source_type.upper() not in ("VARCHAR", "JSON"):
            continue
        src = q(col.target)
        if col.target_type == _JSON:
            checks.append(f"count(*) FILTER (WHERE {src} IS NOT NULL AND NOT json_valid({src}))")
        elif col.target in ENUMS:
            spellings = ENUMS[col.target]
            canon = ", ".join(_lit(v) for v in spellings)
            lower = ", ".join(_lit(v.lower()) for v in spellings)
            checks.append(f"count(*) FILTER (WHERE {src} NOT IN ({canon}) AND lower({src}) IN ({lower}))")
    return checks


def _part_select(plan: Sequence[_Column], exprs: Sequence[str], file_id: int, source: str,
                 flags: str = "CAST(0 AS UTINYINT)") -> str:
    """A Parquet part as store rows: every FOCUS column (absent ones null), file id, row identity, flags."""
    present = {c.target for c in plan}
    cols = [f"{e} AS {q(c.target)}" for c, e in zip(plan, exprs, strict=True)]
    cols += [f"CAST(NULL AS {t}) AS {q(name)}" for name, t in FOCUS_COLUMNS.items() if name not in present]
    return (f"SELECT {', '.join(cols)}, CAST({file_id} AS INTEGER) AS _tg_file, "  # noqa: S608
            f"hash({', '.join(exprs)}) AS _tg_key, {flags} AS _tg_flags FROM {source}")


def _dimension_sql(dim: str) -> str:
    """SQL of a named dimension or ``tag:<key>`` (see :meth:`BillingStore.dimension_sql` for x_ columns)."""
    if dim in DIMENSIONS:
        return DIMENSIONS[dim]
    return f"json_extract_string(Tags, {_tag_path(dim[4:])})"


def _tag_path(key: str) -> str:
    """JSONPath literal of one tag key (quoted, so dots and spaces in keys are literal)."""
    return _lit("$." + chr(34) + key.replace("\\", "\\\\").replace('"', '\\"') + chr(34))


def _rollup_insert(relation: str, where: str) -> str:
    """INSERT of the daily rollup rows of ``relation`` rows matching ``where`` (see :meth:`BillingStore.cube`).

    Same bucketing as the cube: a row within one day counts on the day of its start, a longer one is spread
    over the days it covers. ``n`` counts rows once (on their first day; null-start rows have a null day);
    ``zb`` is, for a row that ends at or before its start, the last day before its end, so a cube starting
    at a midnight leaves it out exactly as the row query does.
    """
    day = "INTERVAL 1 DAY"
    # every tag key from one parse of Tags
    tags = [d for d in ROLLUP_DIMS if d.startswith("tag:")]
    paths = ", ".join(_tag_path(d[4:]) for d in tags)
    dims = ", ".join(f"_tags[{tags.index(d) + 1}] AS {q(d)}" if d in tags else f"{_dimension_sql(d)} AS {q(d)}"
                     for d in ROLLUP_DIMS)
    source = f"(SELECT *, json_extract_string(Tags, [{paths}]) AS _tags FROM {relation})" if tags else relation  # noqa: S608
    names = ", ".join(q(d) for d in ROLLUP_DIMS)
    metrics = [q(m) for m in COST_COLUMNS]
    plain = ", ".join(metrics)
    shared = ", ".join(f"{m} * epoch(least(e, b + {day}) - greatest(s, b)) / epoch(e - s) AS {m}" for m in metrics)
    sums = ", ".join(f"sum({m})" for m in metrics)
    loaded = ", ".join(f"{q(c)} AS {q(m)}" for m, c in COST_COLUMNS.items())
    return f"""
        INSERT INTO {ROLLUP}
        WITH base AS NOT MATERIALIZED (
            SELECT _tg_file AS f, ChargePeriodStart AS s,
                   greatest(coalesce(ChargePeriodEnd, ChargePeriodStart), ChargePeriodStart) AS e,
                   date_trunc('day', ChargePeriodStart) AS b0,
                   CASE WHEN coalesce(ChargePeriodEnd, ChargePeriodStart) <= ChargePeriodStart
                        THEN date_trunc('day', coalesce(ChargePeriodEnd, ChargePeriodStart) - INTERVAL 1 MICROSECOND)
                   END AS zb,
                   BillingCurrency AS cur, {dims}, {loaded}
            FROM {source} WHERE {where}
        ),
        spread AS (
            SELECT f, b0 AS b, zb, cur, {names}, {plain}, 1 AS n FROM base WHERE s IS NULL OR e <= b0 + {day}
            UNION ALL
            SELECT f, b, zb, cur, {names}, {shared}, CASE WHEN b = b0 THEN 1 ELSE 0 END AS n
            FROM (SELECT *, unnest(generate_series(b0, e - INTERVAL 1 MICROSECOND, {day})) AS b
                  FROM base WHERE e > b0 + {day})
        )
        SELECT f, b, zb, cur, {names}, {sums}, sum(n) FROM spread GROUP BY f, b, zb, cur, {names}
    """  # noqa: S608 - only our own identifiers and expressions are interpolated


class BillingSource(Protocol):
    """What analyzers' callers need from a billing store."""

    def cube(
        self,
        *,
        start: date | datetime | str | None = None,
        end: date | datetime | str | None = None,
        granularity: Granularity = "day",
        dims: Sequence[str] = DEFAULT_DIMS,
        cost: CostMetric = "effective",
        filters: Mapping[str, str | Sequence[str]] | None = None,
        currency: str | None = None,
    ) -> CostCube: ...

    def summary(self) -> IngestSummary: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Column:
    source: str  # name in the file
    source_type: str  # DuckDB type in the file
    target: str  # name in the store
    target_type: str



def _filter_clause(expr: str, wanted: str | Sequence[str], where: list[str], params: list[Any]) -> None:
    """Add ``expr = ?`` (one value) or ``expr IN (?, …)`` (several; none matches nothing) to a WHERE list."""
    if isinstance(wanted, str):
        where.append(f"{expr} = ?")
        params.append(wanted)
        return
    values = list(wanted)
    where.append(f"{expr} IN ({', '.join('?' for _ in values)})" if values else "false")
    params.extend(values)

class BillingStore:
    """A DuckDB file (or ``None``/``":memory:"`` for memory) holding FOCUS rows.

    ``memory_limit`` and ``threads`` are passed to DuckDB (the machine is shared; the default keeps a
    2 GB ceiling). Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: Path | str | None = None, *, memory_limit: str = "2GB", threads: int | None = None,
                 read_only: bool = False) -> None:
        target = ":memory:" if path is None or str(path) == ":memory:" else str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(target, read_only=read_only)
        except duckdb.IOException as exc:
            raise DependencyError(f"{target}: cannot open the billing store: {exc}",
                                  hint="another process may hold it open for writing") from exc
        except duckdb.Error as exc:
            raise InputError(f"{target}: not a DuckDB billing store: {exc}") from exc
        self.path = target
        #: Where clean Parquet files are kept (``<store>.parts``); None for a memory store.
        self.parts_dir: Path | None = None if target == ":memory:" else Path(target + ".parts")
        self._base = BASE
        self._has_rollup = True
        self._view_ready = False
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET enable_progress_bar = false")
        self._con.execute(f"SET memory_limit = {_lit(memory_limit)}")
        # Inserts need not keep file order (every read orders or aggregates): lets DuckDB write in parallel.
        self._con.execute("SET preserve_insertion_order = false")
        if threads:
            self._con.execute(f"SET threads = {int(threads)}")
        # Small appends stay in the write-ahead log (no checkpoint at commit); large ingests checkpoint.
        self._con.execute(f"SET checkpoint_threshold = {_lit(CHECKPOINT_THRESHOLD)}")
        if not read_only:
            self._create()
        else:
            if not self._has_table(BASE) and self._has_table(TABLE):  # written before parts and the rollup
                self._base = TABLE
            self._has_rollup = self._rollup_current()
        self._refresh_view()
        if not read_only and not self._rollup_current():
            self._build_rollup()

    # -- lifecycle ------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the DuckDB connection."""
        self._con.close()

    def __enter__(self) -> BillingStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The underlying DuckDB connection (for ad-hoc SQL over ``focus_rows``)."""
        self._rows()
        return self._con

    def _has_table(self, name: str) -> bool:
        row = self._con.execute("SELECT count(*) FROM duckdb_tables() WHERE NOT temporary AND table_name = ?",
                                [name]).fetchone()
        return bool(row and row[0])

    def _create(self) -> None:
        con = self._con
        if self._has_table(TABLE) and not self._has_table(BASE):  # a store written before parts existed
            con.execute(f"ALTER TABLE {TABLE} RENAME TO {BASE}")
        cols = ", ".join(f"{q(c)} {t}" for c, t in FOCUS_COLUMNS.items())
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {BASE} ({cols}, _tg_file INTEGER NOT NULL, _tg_key UBIGINT NOT NULL, "
            "_tg_flags UTINYINT NOT NULL)"
        )
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {FILES} (id INTEGER PRIMARY KEY, digest VARCHAR UNIQUE NOT NULL, "
            "path VARCHAR NOT NULL, format VARCHAR NOT NULL, rows_read BIGINT NOT NULL, "
            "rows_inserted BIGINT NOT NULL, ingested_at TIMESTAMP NOT NULL, warnings VARCHAR[])"
        )
        con.execute(f"ALTER TABLE {FILES} ADD COLUMN IF NOT EXISTS part VARCHAR")
        con.execute(f"ALTER TABLE {FILES} ADD COLUMN IF NOT EXISTS part_sql VARCHAR")
        # ChargePeriodStart span of each file's rows and its rows without one (null: not recorded)
        for column, kind in (("span_lo", "TIMESTAMP"), ("span_hi", "TIMESTAMP"), ("null_starts", "BIGINT")):
            con.execute(f"ALTER TABLE {FILES} ADD COLUMN IF NOT EXISTS {column} {kind}")

    def _rollup_current(self) -> bool:
        """Whether the rollup table exists with the columns of this version (ROLLUP_DIMS)."""
        rows = self._con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                                 "AND schema_name = 'main' AND table_name = ?", [ROLLUP]).fetchall()
        expected = {"f", "b", "zb", "cur", *ROLLUP_DIMS, *COST_COLUMNS, "n"}
        return {str(r[0]) for r in rows} == expected

    def _build_rollup(self) -> None:
        """(Re)build the rollup from every stored row: a new store, or one from before it or its columns."""
        con = self._con
        dims = ", ".join(f"{q(d)} VARCHAR" for d in ROLLUP_DIMS)
        metrics = ", ".join(f"{q(m)} DOUBLE" for m in COST_COLUMNS)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DROP TABLE IF EXISTS {ROLLUP}")
            con.execute(f"CREATE TABLE {ROLLUP} (f INTEGER NOT NULL, b TIMESTAMP, zb TIMESTAMP, cur VARCHAR, "
                        f"{dims}, {metrics}, n BIGINT)")
            con.execute(_rollup_insert(self._rows(), "true"))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _refresh_view(self) -> None:
        """Mark ``focus_rows`` stale: it is redefined before the next query over rows."""
        self._view_ready = False

    def _rows(self) -> str:
        """``focus_rows``, (re)defined if a part was added: the base table and every part, by column name.

        Binding the view opens every part, so only queries over rows pay for it; ingest checks the charge
        period spans recorded per file first and cubes over the rollup never need it.
        """
        if self._view_ready or self._base == TABLE:
            return TABLE
        sql = f"SELECT * FROM main.{BASE}"  # noqa: S608
        if self.parts_dir is not None:
            rows = self._con.execute(
                f"SELECT part, part_sql FROM {FILES} WHERE part IS NOT NULL ORDER BY id").fetchall()  # noqa: S608
            for name, select in rows:
                reader = _source_sql(self.parts_dir / str(name), "parquet")
                sql += f" UNION ALL BY NAME {str(select).replace(_SOURCE, reader)}"
        self._con.execute(f"CREATE OR REPLACE TEMP VIEW {TABLE} AS {sql}")
        self._view_ready = True
        return TABLE

    def _store_columns(self, relation: str | None = None) -> dict[str, str]:
        relation = relation or self._rows()
        rows = self._con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()  # noqa: S608
        return {str(r[0]): str(r[1]) for r in rows}

    # -- ingest ---------------------------------------------------------------------------------------------

    def ingest(self, paths: Iterable[Path | str]) -> IngestSummary:
        """Ingest FOCUS files; return totals over the rows this call added, with validation warnings.

        Raises :class:`InputError` for a missing file or one lacking a required column (named), and
        :class:`ParseError` when DuckDB cannot read a file. Each file is one transaction.
        """
        files: list[FileIngest] = []
        warnings: list[str] = []
        new_ids: list[int] = []
        table_rows = 0
        for raw in paths:
            path = Path(raw)
            if not path.is_file():
                raise InputError(f"{path}: billing file not found")
            started = time.perf_counter()
            digest = file_digest(path)
            fmt = _file_format(path)
            seen = self._con.execute(f"SELECT id, rows_read FROM {FILES} WHERE digest = ?",  # noqa: S608
                                     [digest]).fetchone()
            if seen is not None:
                warnings.append(f"{path}: already ingested (same digest), skipped")
                files.append(FileIngest(str(path), digest, fmt, int(seen[1]), 0, already_ingested=True,
                                        seconds=time.perf_counter() - started))
                continue
            file_id, read, inserted, dupes, file_warnings, in_table = self._ingest_file(path, fmt, digest)
            table_rows += inserted if in_table else 0
            new_ids.append(file_id)
            warnings.extend(file_warnings)
            files.append(FileIngest(str(path), digest, fmt, read, inserted, dupes,
                                    seconds=time.perf_counter() - started))
        if table_rows >= CHECKPOINT_ROWS:
            self._con.execute("CHECKPOINT")
        return self._summarise([self._totals(*self._file_relation(i)) for i in new_ids], warnings, tuple(files))

    def _describe(self, path: Path, source: str) -> list[tuple[str, str]]:
        try:
            described = self._con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()  # noqa: S608
        except duckdb.Error as exc:
            raise ParseError(str(path), f"cannot read FOCUS data: {exc}") from exc
        return [(str(r[0]), str(r[1])) for r in described]

    def _plan(self, path: Path, described: list[tuple[str, str]], warnings: list[str]) -> list[_Column]:
        canon = {c.lower(): c for c in FOCUS_COLUMNS}
        plan: list[_Column] = []
        used: set[str] = set()
        for name, dtype in described:
            clean = name.lstrip("\ufeff").strip()
            target = canon.get(clean.lower())
            if target is None:
                if not clean.lower().startswith("x_"):
                    warnings.append(f"{path}: column {clean!r} is not a FOCUS column and lacks the x_ prefix "
                                    "(kept as a custom column)")
                target, target_type = clean, _STR
            else:
                target_type = FOCUS_COLUMNS[target]
                if target != clean:
                    warnings.append(f"{path}: column {clean!r} read as FOCUS {target!r} (name casing)")
            if target in used:
                warnings.append(f"{path}: column {clean!r} appears twice; the first one is kept")
                continue
            used.add(target)
            plan.append(_Column(name, dtype, target, target_type))
        present = {c.target for c in plan}
        missing = [c for c in REQUIRED_COLUMNS if c not in present]
        if missing:
            raise InputError(
                f"{path}: FOCUS column {missing[0]} is missing"
                + (f" (also {', '.join(missing[1:])})" if len(missing) > 1 else ""),
                hint="tollgate needs BilledCost, EffectiveCost and ChargePeriodStart in a FOCUS cost export",
            )
        if "ProviderName" not in present and "ServiceProviderName" in present:
            plan.append(_Column(next(c.source for c in plan if c.target == "ServiceProviderName"), _STR,
                                "ProviderName", _STR))
            present.add("ProviderName")
        absent = [c for c in MANDATORY_COLUMNS if c not in present]
        if absent:
            warnings.append(f"{path}: mandatory FOCUS column(s) missing: {', '.join(absent)}")
        return plan

    @classmethod
    def _converted_columns(cls, plan: Sequence[_Column]) -> tuple[list[str], str]:
        """The SELECT list converting every planned column (``<expr> AS <target>``) and the SQL of the OR-ed
        quirk flags (``0`` when no column can raise one)."""
        values: list[str] = []
        flags: list[str] = []
        for col in plan:
            value, flag = cls._convert(col)
            values.append(f"{value} AS {q(col.target)}")
            if flag is not None:
                flags.append(flag)
        return values, (" | ".join(f"({f})" for f in flags) if flags else "0")

    @staticmethod
    def _convert(col: _Column) -> tuple[str, str | None]:
        """(SQL value in the store type, SQL of a quirk flag or None) for one column."""
        src = q(col.source)
        is_text = col.source_type.upper() == "VARCHAR"
        if col.target_type == _NUM:
            if not is_text:
                return f"TRY_CAST({src} AS DOUBLE)", None
            plain = f"TRY_CAST({src} AS DOUBLE)"
            # "$10,100.00 " (spreadsheet-formatted money) is read as 10100.0 and flagged.
            value = f"coalesce({plain}, TRY_CAST(regexp_replace({src}, '[$,\\s]', '', 'g') AS DOUBLE))"
            flag = (f"CASE WHEN {src} IS NULL OR {plain} IS NOT NULL THEN 0 WHEN {value} IS NULL THEN {_F_NUM_BAD} "
                    f"ELSE {_F_NUM_FORMAT} END")
            return value, flag
        if col.target_type == _TS:
            if not is_text:
                if "TIME ZONE" in col.source_type.upper():
                    return f"CAST({src} AS TIMESTAMP)", None
                return f"TRY_CAST({src} AS TIMESTAMP)", None
            formats = ", ".join(_lit(f) for f in _US_DATE_FORMATS)
            value = (f"(CASE WHEN contains({src}, '/') THEN try_strptime({src}, [{formats}]) "
                     f"ELSE TRY_CAST(TRY_CAST({src} AS TIMESTAMPTZ) AS TIMESTAMP) END)")
            flag = (f"(CASE WHEN {src} IS NOT NULL AND {value} IS NULL THEN {_F_TS_BAD} "
                    f"WHEN {src} IS NOT NULL AND NOT ({src}[11] = 'T' AND ends_with({src}, 'Z')) "
                    f"THEN {_F_TS_FORMAT} ELSE 0 END)")
            return value, flag
        if col.target_type == _JSON:
            text = src if is_text else f"CAST({src} AS VARCHAR)"
            value = f"(CASE WHEN json_valid({text}) THEN CAST({text} AS JSON) END)"
            return value, f"CASE WHEN {text} IS NOT NULL AND NOT json_valid({text}) THEN {_F_JSON_BAD} ELSE 0 END"
        text = src if is_text else f"CAST({src} AS VARCHAR)"
        spellings = ENUMS.get(col.target)
        if spellings is None:
            return text, None
        cases = " ".join(f"WHEN {_lit(s.lower())} THEN {_lit(s)}" for s in spellings)
        value = f"(CASE lower({text}) {cases} ELSE {text} END)"
        canon_list = ", ".join(_lit(s) for s in spellings)
        flag = (f"CASE WHEN {text} IS NOT NULL AND {text} NOT IN ({canon_list}) AND {value} IN ({canon_list}) "
                f"THEN {_F_CASE} ELSE 0 END")
        return value, flag

    def _ingest_file(self, path: Path, fmt: str, digest: str) -> tuple[int, int, int, int, list[str], bool]:
        """Ingest one file: a clean Parquet file as a part; CSV through the typed fast path, then as text.

        A file store keeps a small file that needs conversions as a converted part, a large one in the base
        table. Returns (file id, rows read, rows inserted, duplicates, warnings, whether rows went to the
        base table).
        """
        source = _source_sql(path, fmt)
        warnings: list[str] = []
        plan = self._plan(path, self._describe(path, source), warnings)
        parts = self.parts_dir is not None and self._base == BASE
        if fmt == "parquet" and parts:
            done = self._try_part(path, digest, source, plan, warnings)
            if done is not None:
                return (*done, False)
        as_part = parts and path.stat().st_size <= CONVERTED_PART_MAX_BYTES
        if fmt != "parquet":
            typed = {c.source: c.target_type for c in plan if c.target_type in (_NUM, _TS)}
            if typed:
                fast = [_Column(c.source, typed.get(c.source, c.source_type), c.target, c.target_type)
                        for c in plan]
                try:
                    return self._load(path, fmt, digest, _source_sql(path, fmt, typed), fast, warnings, as_part,
                                      typed=True)
                except _TypedReadFailed as exc:
                    log.debug("%s: typed CSV read failed (%s); reading it as text", path, exc)
        return self._load(path, fmt, digest, source, plan, warnings, as_part, typed=False)

    def _load(self, path: Path, fmt: str, digest: str, source: str, plan: list[_Column], warnings: list[str],
              as_part: bool, *, typed: bool) -> tuple[int, int, int, int, list[str], bool]:
        """Converted rows into a part (if asked and nothing stored overlaps) or else into the base table."""
        if as_part:
            done = self._converted_part(path, fmt, digest, source, plan, warnings, typed=typed)
            if done is not None:
                return (*done, False)
        return (*self._insert_file(path, fmt, digest, source, plan, warnings), True)

    def _next_file_id(self) -> int:
        row = self._con.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {FILES}").fetchone()  # noqa: S608
        return int(row[0]) if row else 1

    def _try_part(self, path: Path, digest: str, source: str, plan: list[_Column],
                  plan_warnings: list[str]) -> tuple[int, int, int, int, list[str]] | None:
        """Keep a clean Parquet file as a part (a byte copy) when no stored row shares its charge period range.

        None when the file needs conversions or overlaps stored rows (the caller then converts it, into a
        part or the base table, where row-by-row deduplication applies).
        """
        exprs = _part_exprs(plan)
        if exprs is None:
            return None
        # one pass over the file: span, what the table path would change, and the validation warnings
        span = ["count(*)", "min(ChargePeriodStart)", "max(ChargePeriodStart)", "count(ChargePeriodStart)",
                *_part_checks(plan)]
        warnings = list(plan_warnings)
        try:
            # JSON columns as read (the casts only type them): their validity is one of the checks
            found, row = self._validate(path, f"({_part_select(plan, _uncast_json(plan, exprs), 0, source)})",
                                        "true", [],
                                        {c.target for c in plan}, span)
        except duckdb.Error as exc:
            raise ParseError(str(path), f"cannot read FOCUS data: {exc}") from exc
        read, lo, hi, dated = int(row[0]), row[1], row[2], int(row[3])
        if any(row[4:]) or dated < read:
            return None  # quirks to normalise, or null starts (compared row by row)
        if self._overlapping(0, lo, hi):
            return None
        assert self.parts_dir is not None
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        part = self.parts_dir / f"part-{digest}.parquet"
        scratch = self.parts_dir / f".part-{digest}.parquet.tmp"
        shutil.copyfile(path, scratch)
        return self._commit_part(path, "parquet", digest, scratch, part, plan, exprs, "CAST(0 AS UTINYINT)", read,
                                 [*warnings, *found], (lo, hi, read - dated), validated=True)

    def _converted_part(self, path: Path, fmt: str, digest: str, source: str, plan: list[_Column],
                        plan_warnings: list[str], *, typed: bool) -> tuple[int, int, int, int, list[str]] | None:
        """Write a file's converted rows (and quirk flags) as a Parquet part, unless stored rows overlap it.

        None when stored rows share its charge period range (the caller inserts it into the base table,
        where known rows are dropped row by row).
        """
        assert self.parts_dir is not None
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        part = self.parts_dir / f"conv-{digest}.parquet"
        scratch = self.parts_dir / f".conv-{digest}.parquet.tmp"
        values, flag_sql = self._converted_columns(plan)
        try:
            self._con.execute(
                f"COPY (SELECT {', '.join(values)}, CAST({flag_sql} AS UTINYINT) AS _tg_flags FROM {source}) "  # noqa: S608
                f"TO {_lit(str(scratch))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)")
        except duckdb.Error as exc:
            scratch.unlink(missing_ok=True)
            if typed:
                raise _TypedReadFailed(str(exc)) from exc
            raise ParseError(str(path), f"cannot read FOCUS data: {exc}") from exc
        row = self._con.execute("SELECT count(*), min(ChargePeriodStart), max(ChargePeriodStart), "  # noqa: S608
                                f"count(ChargePeriodStart) FROM {_source_sql(scratch, 'parquet')}").fetchone()
        assert row is not None
        read, lo, hi, dated = int(row[0]), row[1], row[2], int(row[3])
        if dated < read or self._overlapping(0, lo, hi):
            scratch.unlink()
            return None
        stored = [q(c.target) for c in plan]
        return self._commit_part(path, fmt, digest, scratch, part, plan, stored, "_tg_flags", read, plan_warnings,
                                 (lo, hi, read - dated))

    def _commit_part(self, path: Path, fmt: str, digest: str, scratch: Path, part: Path, plan: list[_Column],
                     exprs: list[str], flags: str, read: int, plan_warnings: list[str], span: tuple[Any, Any, int],
                     *, validated: bool = False) -> tuple[int, int, int, int, list[str]]:
        """One transaction: move ``scratch`` to ``part``, validate it (unless done), roll it up, record it."""
        con = self._con
        warnings = list(plan_warnings)
        con.execute("BEGIN TRANSACTION")
        try:
            file_id = self._next_file_id()
            scratch.replace(part)
            select = _part_select(plan, exprs, file_id, _SOURCE, flags)
            relation = f"({select.replace(_SOURCE, _source_sql(part, 'parquet'))})"
            if not validated:
                warnings.extend(self._validate(path, relation, "true", [], {c.target for c in plan})[0])
            con.execute(
                f"INSERT INTO {FILES} {_FILE_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                [file_id, digest, str(path), fmt, read, read, warnings, part.name, select, *span],
            )
            if self._has_rollup:  # tags read as text: a JSON cast would parse every value once more
                plain = _part_select(plan, _uncast_json(plan, exprs), file_id, _source_sql(part, "parquet"), flags)
                con.execute(_rollup_insert(f"({plain})", "true"))
            self._refresh_view()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            scratch.unlink(missing_ok=True)
            part.unlink(missing_ok=True)
            self._refresh_view()
            raise
        return file_id, read, read, 0, warnings

    def _insert_file(self, path: Path, fmt: str, digest: str, source: str, plan: list[_Column],
                     plan_warnings: list[str]) -> tuple[int, int, int, int, list[str]]:
        """One transaction: insert the converted rows, drop known rows, validate, roll up, record the file."""
        warnings = list(plan_warnings)
        typed_csv = fmt != "parquet" and "types =" in source
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            existing = self._store_columns(BASE)
            for col in plan:
                if col.target not in existing:
                    con.execute(f"ALTER TABLE {BASE} ADD COLUMN {q(col.target)} {col.target_type}")
            file_id = self._next_file_id()
            values, flag_sql = self._converted_columns(plan)
            targets = [q(c.target) for c in plan]
            insert = (
                f"INSERT INTO {BASE} BY NAME "  # noqa: S608 - identifiers are quoted, paths are literals
                f"SELECT *, {file_id} AS _tg_file, hash({', '.join(targets)}) AS _tg_key FROM ("
                f"SELECT {', '.join(values)}, CAST({flag_sql} AS UTINYINT) AS _tg_flags FROM {source})"
            )
            try:
                con.execute(insert)
            except duckdb.Error as exc:
                if typed_csv:
                    raise _TypedReadFailed(str(exc)) from exc
                raise ParseError(str(path), f"cannot read FOCUS data: {exc}") from exc
            read, lo, hi, dated = self._file_span(file_id)
            dupes = self._drop_duplicates(file_id, lo, hi)
            warnings.extend(self._validate(path, BASE, "_tg_file = ?", [file_id], {c.target for c in plan})[0])
            con.execute(
                f"INSERT INTO {FILES} {_FILE_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, NULL, NULL, "  # noqa: S608
                "?, ?, ?)", [file_id, digest, str(path), fmt, read, read - dupes, warnings, lo, hi, read - dated],
            )
            if self._has_rollup:
                con.execute(_rollup_insert(BASE, f"_tg_file = {file_id}"))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if self._base == BASE:  # a column added to the base table shows in the view once it is redefined
            self._refresh_view()
        if dupes:
            warnings.append(f"{path}: {dupes} row(s) already in the store from another file, not added again")
        return file_id, read, read - dupes, dupes, warnings

    def _file_span(self, file_id: int) -> tuple[int, Any, Any, int]:
        """(rows, first and last ChargePeriodStart, rows with one) of a file in the base table."""
        row = self._con.execute(
            f"SELECT count(*), min(ChargePeriodStart), max(ChargePeriodStart), count(ChargePeriodStart) "  # noqa: S608
            f"FROM {BASE} WHERE _tg_file = ?", [file_id]).fetchone()
        assert row is not None
        return int(row[0]), row[1], row[2], int(row[3])

    @staticmethod
    def _overlap(lo: Any, hi: Any) -> tuple[str, list[Any]]:
        """Condition (and parameters) on stored rows in a file's ``ChargePeriodStart`` range."""
        if lo is None:
            return "ChargePeriodStart IS NULL", []
        return "ChargePeriodStart BETWEEN ? AND ?", [lo, hi]

    def _overlap_relation(self, file_id: int, lo: Any, hi: Any) -> str | None:
        """Rows of the other files whose recorded span meets ``[lo, hi]`` (all nulls if ``lo`` is None).

        None when no file's span does, so a file of new dates is checked without opening any part.
        """
        if lo is None:
            span, params = "null_starts IS NULL OR null_starts > 0", [file_id]
        else:
            span, params = "null_starts IS NULL OR (span_lo <= ? AND span_hi >= ?)", [file_id, hi, lo]
        rows = self._con.execute(
            f"SELECT id, part, part_sql FROM {FILES} WHERE id <> ? AND ({span}) ORDER BY id", params).fetchall()  # noqa: S608
        if not rows:
            return None
        in_base = [str(int(r[0])) for r in rows if r[1] is None]
        pieces = [f"SELECT * FROM main.{BASE} WHERE _tg_file IN ({', '.join(in_base)})"] if in_base else []  # noqa: S608
        for _, name, select in (r for r in rows if r[1] is not None):
            assert self.parts_dir is not None
            pieces.append(str(select).replace(_SOURCE, _source_sql(self.parts_dir / str(name), "parquet")))
        return "(" + " UNION ALL BY NAME ".join(pieces) + ")"

    def _overlapping(self, file_id: int, lo: Any, hi: Any) -> bool:
        """Whether another file stored a row in this range (Parquet row-group statistics prune the parts)."""
        relation = self._overlap_relation(file_id, lo, hi)
        if relation is None:
            return False
        cond, params = self._overlap(lo, hi)
        row = self._con.execute(f"SELECT 1 FROM {relation} WHERE {cond} LIMIT 1", params).fetchone()  # noqa: S608
        return row is not None

    def _drop_duplicates(self, file_id: int, lo: Any, hi: Any) -> int:
        """Delete this file's rows that another file already stored; the time range bounds the scan."""
        relation = self._overlap_relation(file_id, lo, hi)
        if relation is None:
            return 0
        cond, params = self._overlap(lo, hi)
        deleted = self._con.execute(
            f"DELETE FROM {BASE} WHERE _tg_file = ? AND _tg_key IN ("  # noqa: S608
            f"SELECT _tg_key FROM {relation} WHERE {cond})",
            [file_id, *params],
        ).fetchone()
        return int(deleted[0]) if deleted else 0

    def _validate(self, path: Path, relation: str, where: str, params: list[Any], present: set[str],
                  extra: Sequence[str] = ()) -> tuple[list[str], tuple[Any, ...]]:
        """Warnings for the FOCUS invariants and quirks of one file's rows (``present``: its columns).

        ``extra`` aggregates are computed in the same pass; their values come back after the warnings.
        """
        con = self._con
        checks: list[tuple[str, str]] = []
        for column in (c for c in NOT_NULL_COLUMNS if c in present):
            checks.append((f"count(*) FILTER (WHERE {q(column)} IS NULL)", f"null {column} (not allowed)"))
        tol = _TOLERANCE
        checks += [
            ("count(*) FILTER (WHERE ListUnitPrice IS NOT NULL AND PricingQuantity IS NOT NULL AND ListCost IS NOT "
             "NULL AND ChargeClass IS DISTINCT FROM 'Correction' AND abs(ListCost - ListUnitPrice * PricingQuantity)"
             f" > {tol.format(a='ListCost')})", "ListCost != ListUnitPrice x PricingQuantity"),
            ("count(*) FILTER (WHERE ContractedUnitPrice IS NOT NULL AND PricingQuantity IS NOT NULL AND "
             "ContractedCost IS NOT NULL AND ChargeClass IS DISTINCT FROM 'Correction' AND "
             f"abs(ContractedCost - ContractedUnitPrice * PricingQuantity) > {tol.format(a='ContractedCost')})",
             "ContractedCost != ContractedUnitPrice x PricingQuantity"),
            ("count(*) FILTER (WHERE ChargeCategory IN ('Credit', 'Adjustment') AND "
             f"abs(EffectiveCost - BilledCost) > {tol.format(a='BilledCost')})",
             "EffectiveCost != BilledCost on a Credit or Adjustment"),
            ("count(*) FILTER (WHERE ChargePeriodEnd <= ChargePeriodStart)", "ChargePeriodEnd not after its start"),
            ("count(*) FILTER (WHERE BillingPeriodEnd <= BillingPeriodStart)",
             "BillingPeriodEnd not after its start"),
            (f"count(*) FILTER (WHERE _tg_flags & {_F_CASE} <> 0)",
             "enumerated values in non-spec casing (normalised, e.g. 'Usage-based' -> 'Usage-Based')"),
            (f"count(*) FILTER (WHERE _tg_flags & {_F_TS_FORMAT} <> 0)",
             "timestamps not in FOCUS form YYYY-MM-DDTHH:mm:ssZ (read as UTC)"),
            (f"count(*) FILTER (WHERE _tg_flags & {_F_TS_BAD} <> 0)", "unparseable timestamps (stored as null)"),
            (f"count(*) FILTER (WHERE _tg_flags & {_F_NUM_BAD} <> 0)", "unparseable numbers (stored as null)"),
            (f"count(*) FILTER (WHERE _tg_flags & {_F_NUM_FORMAT} <> 0)",
             "numbers written with currency symbols or thousands separators (read as numbers)"),
            (f"count(*) FILTER (WHERE _tg_flags & {_F_JSON_BAD} <> 0)", "invalid JSON in Tags/JSON columns (dropped)"),
            # valid JSON (invalid Tags are flagged and nulled) is an object when it opens with a brace
            ("count(*) FILTER (WHERE Tags IS NOT NULL AND NOT starts_with(ltrim(CAST(Tags AS VARCHAR), "
             "' ' || chr(9) || chr(10) || chr(13)), '{'))", "Tags that are not a JSON object"),
        ]
        sql = ", ".join([*(expr for expr, _ in checks), *extra])
        currencies = ("list(DISTINCT BillingCurrency ORDER BY BillingCurrency) FILTER "
                      "(WHERE BillingCurrency IS NOT NULL)")
        row = con.execute(f"SELECT {currencies}, {sql} FROM {relation} WHERE {where}", params).fetchone()  # noqa: S608
        warnings: list[str] = []
        assert row is not None
        for (_, message), count in zip(checks, row[1:len(checks) + 1], strict=True):
            if count:
                warnings.append(f"{path}: {int(count)} row(s) with {message}")
        listed = row[0]
        if listed and len(listed) > 1:
            warnings.append(f"{path}: several billing currencies ({', '.join(listed)}); each cost cube uses one")
        warnings.extend(self._commitment_balance(path, relation, where, params))
        return warnings, tuple(row[len(checks) + 1:])

    def _commitment_balance(self, path: Path, relation: str, where: str, params: list[Any]) -> list[str]:
        """Σ BilledCost(Purchase) = Σ EffectiveCost(Usage) per commitment that has both in the file."""
        rows = self._con.execute(
            f"""SELECT CommitmentDiscountId,
                       sum(BilledCost) FILTER (WHERE ChargeCategory = 'Purchase') AS bought,
                       sum(EffectiveCost) FILTER (WHERE ChargeCategory = 'Usage') AS used
                FROM {relation} WHERE {where} AND CommitmentDiscountId IS NOT NULL
                GROUP BY 1
                HAVING count(*) FILTER (WHERE ChargeCategory = 'Purchase') > 0
                   AND count(*) FILTER (WHERE ChargeCategory = 'Usage') > 0
                   AND abs(bought - used) > 1e-6 + 1e-4 * abs(bought)
                ORDER BY 1 LIMIT 5""",  # noqa: S608
            params).fetchall()
        return [f"{path}: commitment {r[0]}: purchases billed {r[1]:.6g} but usage amortised {r[2]:.6g} "
                "(EffectiveCost of its Usage rows should equal BilledCost of its Purchase rows)" for r in rows]

    # -- summaries ------------------------------------------------------------------------------------------

    def _totals(self, relation: str, where: str) -> tuple[int, set[str], set[str], Any, Any]:
        """(rows, providers, billing period dates, first start, last end) of some stored rows."""
        row = self._con.execute(
            f"SELECT count(*), list(DISTINCT {DIMENSIONS['provider']}) FILTER (WHERE {DIMENSIONS['provider']} "  # noqa: S608
            "IS NOT NULL), list(DISTINCT CAST(BillingPeriodStart AS DATE)) FILTER (WHERE BillingPeriodStart"
            f" IS NOT NULL), min(ChargePeriodStart), max(ChargePeriodEnd) FROM {relation} WHERE {where}"
        ).fetchone()
        assert row is not None
        return (int(row[0]), set(row[1] or []), {d.isoformat() for d in row[2] or []}, row[3], row[4])

    def _summarise(self, parts: list[tuple[int, set[str], set[str], Any, Any]], warnings: list[str],
                   files: tuple[FileIngest, ...]) -> IngestSummary:
        starts = [p[3] for p in parts if p[3] is not None]
        ends = [p[4] for p in parts if p[4] is not None]
        return IngestSummary(
            rows=sum(p[0] for p in parts),
            providers=tuple(sorted(set().union(*(p[1] for p in parts)))),
            billing_periods=tuple(sorted(set().union(*(p[2] for p in parts)))),
            charge_start=min(starts) if starts else None,
            charge_end=max(ends) if ends else None,
            warnings=tuple(warnings),
            files=files,
        )

    def _file_relation(self, file_id: int) -> tuple[str, str]:
        """(relation, condition) holding one file's stored rows, without the view over every part."""
        row = self._con.execute(f"SELECT part, part_sql FROM {FILES} WHERE id = ?", [file_id]).fetchone()  # noqa: S608
        if row is None or row[0] is None or self.parts_dir is None:
            return self._base, f"_tg_file = {int(file_id)}"
        return f"({str(row[1]).replace(_SOURCE, _source_sql(self.parts_dir / str(row[0]), 'parquet'))})", "true"

    def summary(self) -> IngestSummary:
        """Totals over the whole store; warnings are those recorded when its files were ingested."""
        sql = f"SELECT path, format, digest, rows_read, rows_inserted, warnings FROM {FILES} ORDER BY id"  # noqa: S608
        stored = self._con.execute(sql).fetchall()
        warnings = [w for r in stored for w in (r[5] or [])]
        files = tuple(FileIngest(str(r[0]), str(r[2]), str(r[1]), int(r[3]), int(r[4])) for r in stored)
        return self._summarise([self._totals(self._rows(), "true")], warnings, files)

    def row_count(self) -> int:
        """Rows in the store."""
        row = self._con.execute(f"SELECT count(*) FROM {self._rows()}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0

    # -- series ---------------------------------------------------------------------------------------------

    def dimension_sql(self, dim: str) -> str:
        """SQL expression of a cube dimension (raises InputError naming an unknown one)."""
        if dim in DIMENSIONS or (dim.startswith("tag:") and len(dim) > 4):
            return _dimension_sql(dim)
        if dim.lower().startswith("x_") and dim in self._store_columns():
            return f"CAST({q(dim)} AS VARCHAR)"
        raise InputError(f"unknown cost dimension {dim!r}",
                         hint=f"use one of {', '.join(DIMENSIONS)}, tag:<key> or a stored x_ column")

    def cube(
        self,
        *,
        start: date | datetime | str | None = None,
        end: date | datetime | str | None = None,
        granularity: Granularity = "day",
        dims: Sequence[str] = DEFAULT_DIMS,
        cost: CostMetric = "effective",
        filters: Mapping[str, str | Sequence[str]] | None = None,
        currency: str | None = None,
    ) -> CostCube:
        """Cost per bucket (``[start, end)``, UTC) and dimension values; see the module doc for mixed granularity.

        ``cost`` picks EffectiveCost (default, amortised), BilledCost (invoice view), ListCost or
        ContractedCost. One currency per cube: ``currency`` or the one with most rows; rows with a null
        currency count as that one, others are left out and counted in ``other_currency_rows``.

        A daily cube over :data:`ROLLUP_DIMS` (filters too) whose bounds are midnights reads the rollup kept
        at ingest; the numbers are the same as from the rows (up to float summation order).
        """
        unit = bucket_unit(granularity)
        if cost not in COST_COLUMNS:
            raise InputError(f"unknown cost metric {cost!r} (use {', '.join(COST_COLUMNS)})")
        dim_sql = [self.dimension_sql(d) for d in dims]
        lo = _ts(start)
        hi = _ts(end)
        chosen = currency or self._main_currency()
        if (self._has_rollup and granularity == "day" and all(d in ROLLUP_DIMS for d in (*dims, *(filters or {})))
                and all(t is None or t == _trunc(t, "D") for t in (lo, hi))):
            result = self._rollup_cube(dims, cost, filters or {}, chosen, lo, hi)
        else:
            result = self._row_cube(dim_sql, granularity, cost, filters or {}, chosen, lo, hi)
        bucket = np.asarray(result["b"]).astype(f"datetime64[{unit}]")
        dnames = [f"d{i}" for i in range(len(dims))]
        columns = {d: np.asarray(result[n], dtype=object) for d, n in zip(dims, dnames, strict=True)}
        return CostCube(bucket, columns, np.asarray(result["cost"], dtype=np.float64), currency=chosen,
                        granularity=granularity, metric=cost, other_currency_rows=self._other_currency_rows(chosen))

    def _rollup_cube(self, dims: Sequence[str], cost: CostMetric, filters: Mapping[str, str | Sequence[str]],
                     chosen: str, lo: datetime | None, hi: datetime | None) -> dict[str, Any]:
        """The cube's columns from the daily rollup (bounds are midnights, dimensions in ROLLUP_DIMS)."""
        column = {d: q(d) for d in ROLLUP_DIMS}
        metric = q(cost)
        where = ["b IS NOT NULL", f"{metric} IS NOT NULL", "(cur IS NULL OR cur = ?)"]
        params: list[Any] = [chosen]
        for name, wanted in filters.items():
            _filter_clause(column[name], wanted, where, params)
        if lo is not None:
            where.append("b >= ? AND (zb IS NULL OR zb >= ?)")
            params += [lo, lo]
        if hi is not None:
            where.append("b < ?")
            params.append(hi)
        picked = [f"coalesce({column[d]}, '') AS d{i}" for i, d in enumerate(dims)]
        group = ", ".join(["b", *(f"d{i}" for i in range(len(dims)))])
        sql = (f"SELECT b{''.join(', ' + p for p in picked)}, sum({metric}) AS cost FROM {ROLLUP} "  # noqa: S608
               f"WHERE {' AND '.join(where)} GROUP BY {group} ORDER BY {group}")
        return self._con.execute(sql, params).fetchnumpy()

    def _other_currency_rows(self, chosen: str) -> int:
        if self._has_rollup:
            sql = f"SELECT sum(n) FROM {ROLLUP} WHERE cur IS NOT NULL AND cur <> ?"  # noqa: S608
        else:
            sql = f"SELECT count(*) FROM {self._rows()} WHERE BillingCurrency IS NOT NULL AND BillingCurrency <> ?"  # noqa: S608
        other = self._con.execute(sql, [chosen]).fetchone()
        return int(other[0]) if other and other[0] is not None else 0

    def _row_cube(self, dim_sql: Sequence[str], granularity: Granularity, cost: CostMetric,
                  filters: Mapping[str, str | Sequence[str]], chosen: str, lo: datetime | None,
                  hi: datetime | None) -> dict[str, Any]:
        """The cube's columns from the stored rows (any dimension, hourly, bounds inside a day)."""
        unit = bucket_unit(granularity)
        params: list[Any] = []
        where = ["ChargePeriodStart IS NOT NULL", f"{q(COST_COLUMNS[cost])} IS NOT NULL"]
        where.append("(BillingCurrency IS NULL OR BillingCurrency = ?)")
        params.append(chosen)
        for name, wanted in filters.items():
            _filter_clause(self.dimension_sql(name), wanted, where, params)
        if lo is not None:
            where.append("coalesce(ChargePeriodEnd, ChargePeriodStart) > ?")
            params.append(lo)
        if hi is not None:
            where.append("ChargePeriodStart < ?")
            params.append(hi)
        step = f"INTERVAL 1 {granularity.upper()}"
        dim_cols = [f"coalesce(CAST({expr} AS VARCHAR), '') AS d{i}" for i, expr in enumerate(dim_sql)]
        dnames = [f"d{i}" for i in range(len(dim_sql))]
        group = ", ".join(["b", *dnames])
        sql = f"""
            WITH base AS NOT MATERIALIZED (
                SELECT ChargePeriodStart AS s,
                       greatest(coalesce(ChargePeriodEnd, ChargePeriodStart), ChargePeriodStart) AS e,
                       date_trunc('{granularity}', ChargePeriodStart) AS b0,
                       {q(COST_COLUMNS[cost])} AS c
                       {''.join(', ' + d for d in dim_cols)}
                FROM {self._rows()} WHERE {' AND '.join(where)}
            ),
            spread AS (
                SELECT b0 AS b, c {''.join(', ' + d for d in dnames)} FROM base WHERE e <= b0 + {step}
                UNION ALL
                SELECT b, c * epoch(least(e, b + {step}) - greatest(s, b)) / epoch(e - s)
                       {''.join(', ' + d for d in dnames)}
                FROM (SELECT *, unnest(generate_series(b0, e - INTERVAL 1 MICROSECOND, {step})) AS b
                      FROM base WHERE e > b0 + {step})
            )
            SELECT b {''.join(', ' + d for d in dnames)}, sum(c) AS cost FROM spread
            WHERE true {'AND b >= ?' if lo is not None else ''} {'AND b < ?' if hi is not None else ''}
            GROUP BY {group} ORDER BY {group}
        """  # noqa: S608 - only our own identifiers and expressions are interpolated; values are parameters
        if lo is not None:
            params.append(_trunc(lo, unit))
        if hi is not None:
            params.append(hi)
        try:
            result: dict[str, Any] = self._con.execute(sql, params).fetchnumpy()
        except duckdb.Error as exc:
            raise InputError(f"cannot build the cost cube: {exc}") from exc
        return result

    def _main_currency(self) -> str:
        if self._has_rollup:
            sql = f"SELECT cur FROM {ROLLUP} WHERE cur IS NOT NULL GROUP BY 1 ORDER BY sum(n) DESC, 1 LIMIT 1"  # noqa: S608
        else:
            sql = (f"SELECT BillingCurrency FROM {self._rows()} WHERE BillingCurrency IS NOT NULL "  # noqa: S608
                   "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
        row = self._con.execute(sql).fetchone()
        return str(row[0]) if row else "USD"


def _ts(value: date | datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"not an ISO date or time: {value!r}") from None
    return _ts(parsed)


def _trunc(value: datetime, unit: str) -> datetime:
    if unit == "D":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    return value.replace(minute=0, second=0, microsecond=0)


class FakeBillingStore:
    """An in-memory :class:`BillingSource` over a ready cube (for analyzer tests without DuckDB).

    Give it an hourly cube to serve both granularities; ``dims`` of :meth:`cube` must be in the cube.
    """

    def __init__(self, cube: CostCube, summary: IngestSummary | None = None) -> None:
        self._cube = cube
        self._summary = summary

    def cube(
        self,
        *,
        start: date | datetime | str | None = None,
        end: date | datetime | str | None = None,
        granularity: Granularity = "day",
        dims: Sequence[str] = DEFAULT_DIMS,
        cost: CostMetric = "effective",
        filters: Mapping[str, str | Sequence[str]] | None = None,
        currency: str | None = None,
    ) -> CostCube:
        """The held cube filtered, windowed and (hour -> day) re-bucketed; ``cost``/``currency`` must match."""
        if cost != self._cube.metric or (currency is not None and currency != self._cube.currency):
            raise InputError(f"FakeBillingStore holds {self._cube.metric} {self._cube.currency} cost only")
        cube = self._cube.filter(filters)
        if granularity == "day":
            cube = cube.to_day()
        elif cube.granularity != "hour":
            raise InputError("FakeBillingStore cannot make an hourly cube from a daily one")
        lo, hi = _ts(start), _ts(end)
        cube = cube.window(None if lo is None else np.datetime64(lo), None if hi is None else np.datetime64(hi))
        return CostCube(cube.bucket, {d: cube.dims[d] for d in dims}, cube.cost, currency=cube.currency,
                        granularity=cube.granularity, metric=cube.metric)

    def summary(self) -> IngestSummary:
        """The summary given at construction, else one derived from the cube."""
        if self._summary is not None:
            return self._summary
        dates = self._cube.dates()
        providers = self._cube.values("provider") if "provider" in self._cube.dims else ()
        return IngestSummary(
            rows=len(self._cube), providers=providers, billing_periods=(),
            charge_start=None if len(dates) == 0 else dates[0].astype("datetime64[s]").item(),
            charge_end=None if len(dates) == 0 else (dates[-1] + 1).astype("datetime64[s]").item(),
        )

    def close(self) -> None:
        """Nothing to close."""


def write_focus_files(
    chunks: Iterable[Mapping[str, np.ndarray]],
    *,
    csv: Path | None = None,
    parquet: Path | None = None,
    time_columns: Sequence[str] = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"),
    memory_limit: str = "2GB",
    threads: int | None = None,
) -> int:
    """Write column chunks (e.g. from the FOCUS generator) as one FOCUS CSV and/or Parquet file; return rows.

    Chunks are appended to a scratch DuckDB file beside the output, so memory stays bounded whatever the
    row count; CSV timestamps are written in FOCUS form (``YYYY-MM-DDTHH:mm:ssZ``), Parquet keeps them typed.
    """
    import pandas as pd  # type: ignore[import-untyped]  # only the writer needs it: DuckDB scans a DataFrame of numpy columns without copies

    target = csv or parquet
    if target is None:
        raise InputError("write_focus_files: give csv and/or parquet")
    scratch = target.with_name(target.name + ".scratch.duckdb")
    scratch.unlink(missing_ok=True)
    con = duckdb.connect(str(scratch))
    rows = 0
    try:
        con.execute(f"SET memory_limit = {_lit(memory_limit)}")
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET enable_progress_bar = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        created = False
        for chunk in chunks:
            frame = pd.DataFrame(dict(chunk), copy=False)
            con.register("chunk_frame", frame)
            if not created:
                con.execute("CREATE TABLE gen AS SELECT * FROM chunk_frame")
                created = True
            else:
                con.execute("INSERT INTO gen SELECT * FROM chunk_frame")
            con.unregister("chunk_frame")
            rows += len(frame)
        if not created:
            raise InputError("write_focus_files: no rows to write")
        if csv is not None:
            replace = ", ".join(f"strftime({q(c)}, '%Y-%m-%dT%H:%M:%SZ') AS {q(c)}" for c in time_columns)
            con.execute(f"COPY (SELECT * REPLACE ({replace}) FROM gen) TO {_lit(str(csv))} "  # noqa: S608
                        "(FORMAT csv, HEADER true)")
        if parquet is not None:
            con.execute(f"COPY gen TO {_lit(str(parquet))} (FORMAT parquet, COMPRESSION snappy)")
    finally:
        con.close()
        scratch.unlink(missing_ok=True)
        scratch.with_name(scratch.name + ".wal").unlink(missing_ok=True)
    return rows


def gzip_copy(src: Path, dst: Path) -> Path:
    """Write a gzip copy of a file (for tests and the benchmark)."""
    with src.open("rb") as fin, gzip.open(dst, "wb", compresslevel=1) as fout:
        while chunk := fin.read(1 << 22):
            fout.write(chunk)
    return dst
