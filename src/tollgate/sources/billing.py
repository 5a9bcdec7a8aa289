"""FOCUS billing exports read with DuckDB: the rows unit prices are derived from.

Reads a FOCUS (1.0 to 1.3) file -- CSV, gzip-compressed CSV or Parquet -- and returns one
:class:`~tollgate.model.billing.FocusPriceRow` per distinct price-describing combination of columns,
with how many billing rows share it. Both the 1.3 ``ServiceProviderName`` and the deprecated
``ProviderName`` are accepted. The bare token ``NULL`` and empty strings count as nulls (the FOCUS
sample data uses both).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tollgate.errors import InputError, ParseError
from tollgate.model.billing import FocusPriceRow

__all__ = ["REQUIRED_PRICE_COLUMNS", "read_focus_price_rows"]

#: Columns a FOCUS file must have for unit prices (plus ServiceProviderName or ProviderName).
REQUIRED_PRICE_COLUMNS = ("ChargeDescription", "ListUnitPrice", "PricingUnit", "RegionId")
_PROVIDER_COLUMNS = ("ServiceProviderName", "ProviderName")
#: Optional columns, as FocusPriceRow field -> FOCUS column.
_OPTIONAL = {
    "service": "ServiceName",
    "resource_type": "ResourceType",
    "pricing_category": "PricingCategory",
    "charge_category": "ChargeCategory",
    "currency": "BillingCurrency",
    "sku_id": "SkuId",
    "sku_price_details": "SkuPriceDetails",
}
_NULLS = ("", "NULL", "null")


def _source_sql(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "read_parquet($path)"
    if name.endswith((".csv", ".csv.gz", ".gz", ".tsv")):
        return "read_csv($path, all_varchar = true, nullstr = ['NULL', ''], header = true)"
    raise InputError(f"{path}: unknown billing file type (use .csv, .csv.gz or .parquet)")


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def read_focus_price_rows(path: str | Path) -> list[FocusPriceRow]:
    """Distinct unit-price rows of a FOCUS file, most frequent first.

    Raises :class:`InputError` when the file is missing or lacks a required column (named), and
    :class:`ParseError` when DuckDB cannot read it or a ``ListUnitPrice`` is not a number.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: billing file not found")
    source = _source_sql(path)
    con = duckdb.connect(":memory:")
    try:
        try:
            # The SQL text holds only our own constants and quoted column names; the path is a parameter.
            described = con.execute(f"DESCRIBE SELECT * FROM {source}", {"path": str(path)}).fetchall()  # noqa: S608
        except duckdb.Error as exc:
            raise ParseError(str(path), f"cannot read FOCUS data: {exc}") from exc
        columns = {str(row[0]).lower(): str(row[0]) for row in described}
        missing = [c for c in REQUIRED_PRICE_COLUMNS if c.lower() not in columns]
        if missing:
            raise InputError(
                f"{path}: FOCUS column(s) {', '.join(missing)} missing",
                hint="tollgate derives unit prices from a FOCUS 1.x cost and usage export",
            )
        provider = next((columns[c.lower()] for c in _PROVIDER_COLUMNS if c.lower() in columns), None)
        if provider is None:
            raise InputError(f"{path}: FOCUS column ServiceProviderName (or ProviderName) missing")

        fields: dict[str, str | None] = {
            "provider": provider,
            "region": columns["regionid"],
            "list_unit_price": columns["listunitprice"],
            "pricing_unit": columns["pricingunit"],
            "charge_description": columns["chargedescription"],
        }
        fields.update({f: columns.get(col.lower()) for f, col in _OPTIONAL.items()})
        present = [f for f, col in fields.items() if col is not None]
        select = ", ".join(f"CAST({_quote(str(fields[f]))} AS VARCHAR) AS {f}" for f in present)
        sql = (
            f"SELECT {select}, count(*) AS occurrences FROM {source} "  # noqa: S608
            f"WHERE {_quote(str(fields['list_unit_price']))} IS NOT NULL "
            f"GROUP BY ALL ORDER BY occurrences DESC, charge_description"
        )
        try:
            result = con.execute(sql, {"path": str(path)}).fetchall()
        except duckdb.Error as exc:
            raise ParseError(str(path), f"cannot read FOCUS data: {exc}") from exc
    finally:
        con.close()

    rows: list[FocusPriceRow] = []
    for record in result:
        values = dict(zip([*present, "occurrences"], record, strict=True))
        clean = {k: (None if isinstance(v, str) and v.strip() in _NULLS else v) for k, v in values.items()}
        price_text = clean.pop("list_unit_price")
        clean.pop("occurrences")
        rows.append(
            FocusPriceRow(
                list_unit_price=_price(price_text, path),
                occurrences=int(values["occurrences"]),
                **{k: (None if v is None else str(v).strip()) for k, v in clean.items()},
            )
        )
    return rows


def _price(text: object, path: Path) -> float | None:
    if text is None:
        return None
    cleaned = str(text).strip().replace("$", "").replace(",", "")
    if cleaned in _NULLS:
        return None
    try:
        return float(cleaned)
    except ValueError:
        raise ParseError(str(path), f"column ListUnitPrice: {text!r} is not a number") from None
