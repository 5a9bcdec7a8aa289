"""Instance-type hourly prices derived from a FOCUS bill (pure; rows come from ``sources.billing``).

A row gives an instance price when its ``PricingUnit`` is hours, its ``ListUnitPrice`` is above zero
and either its ``SkuPriceDetails`` (FOCUS 1.1+) names an instance type, or its ``ChargeDescription``
reads like AWS's ``"$0.0416 per On Demand Linux t3.medium Instance Hour"``. The list unit price is
used (the public on-demand price), never the billed or effective cost, so discounts and commitments
do not leak into estimates.

When several rows price one instance type in one region, the winner is, in order: a Linux row over
other operating systems; a ``Standard`` (or unset) ``PricingCategory`` over ``Committed``/``Other``;
the price seen on the most billing rows; the highest price. Rows with ``PricingCategory`` ``Dynamic``
are spot prices and are kept apart. Prices are per region; see
:func:`tollgate.cost.pricebook.index_instances` for which region is used when none is asked for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tollgate.cost.pricebook import with_instances
from tollgate.errors import InputError
from tollgate.model.billing import FocusPriceRow
from tollgate.model.cost import InstancePrice, PriceBook, PriceSource

__all__ = ["FocusInstancePrices", "instance_prices_from_focus", "pricebook_with_focus", "prices_from_focus"]

_HOUR_UNITS = {"hours", "hour", "hrs", "hr", "1 hour"}
_AWS_ON_DEMAND = re.compile(
    r"per On[- ]Demand (?P<os>[A-Za-z][A-Za-z0-9/ ()+-]*?) (?P<type>[a-z][a-z0-9-]*\.[a-z0-9-]+) Instance[- ]Hour",
    re.IGNORECASE,
)
_TYPE_KEYS = ("instancetype", "x_instancetype", "instance_type", "instancetypename")
_OS_KEYS = ("operatingsystem", "x_operatingsystem", "operating_system", "os")
_LINUX = {"linux", "linux/unix", "unix/linux"}


@dataclass(frozen=True, slots=True)
class FocusInstancePrices:
    """On-demand and spot prices found in a bill, one per ``(instance_type, region)``."""

    on_demand: tuple[InstancePrice, ...]
    spot: tuple[InstancePrice, ...]
    currency: str | None

    @property
    def instance_types(self) -> set[str]:
        return {p.instance_type for p in self.on_demand}


@dataclass(frozen=True, slots=True)
class _Candidate:
    price: InstancePrice
    rank: tuple[bool, bool, int, float]


def _details(row: FocusPriceRow) -> Mapping[str, Any]:
    if not row.sku_price_details:
        return {}
    try:
        data = json.loads(row.sku_price_details)
    except ValueError:
        return {}
    return {str(k).lower(): v for k, v in data.items()} if isinstance(data, dict) else {}


def _parse(row: FocusPriceRow) -> tuple[str, str | None] | None:
    """(instance type, operating system) priced by this row, or None."""
    details = _details(row)
    for key in _TYPE_KEYS:
        value = details.get(key)
        if isinstance(value, str) and value.strip():
            os_name = next((str(details[k]) for k in _OS_KEYS if details.get(k)), None)
            return value.strip(), os_name
    match = _AWS_ON_DEMAND.search(row.charge_description or "")
    if match:
        return match.group("type").lower(), match.group("os").strip()
    return None


def instance_prices_from_focus(rows: Iterable[FocusPriceRow]) -> FocusInstancePrices:
    """Pick one hourly price per instance type and region from FOCUS price rows."""
    best: dict[tuple[bool, str, str | None], _Candidate] = {}
    currencies: set[str] = set()
    for row in rows:
        if row.list_unit_price is None or row.list_unit_price <= 0:
            continue
        if (row.pricing_unit or "").strip().lower() not in _HOUR_UNITS:
            continue
        if (row.charge_category or "Usage").lower() != "usage":
            continue
        parsed = _parse(row)
        if parsed is None:
            continue
        instance_type, os_name = parsed
        category = (row.pricing_category or "Standard").lower()
        spot = category == "dynamic"
        is_linux = os_name is None or os_name.lower() in _LINUX
        description = f"FOCUS list price: {row.charge_description or instance_type}"
        if row.provider:
            description += f" ({row.provider}"
            description += f", {os_name})" if os_name else ")"
        price = InstancePrice(
            instance_type=instance_type,
            hourly=row.list_unit_price,
            source=PriceSource.FOCUS,
            region=row.region,
            description=description,
        )
        rank = (is_linux, category == "standard", row.occurrences, row.list_unit_price)
        key = (spot, instance_type, row.region)
        current = best.get(key)
        if current is None or rank > current.rank:
            best[key] = _Candidate(price, rank)
        if row.currency:
            currencies.add(row.currency.upper())
    if len(currencies) > 1:
        raise InputError(f"FOCUS instance prices are in several currencies ({', '.join(sorted(currencies))})")
    ordered = sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][2] or ""))
    return FocusInstancePrices(
        on_demand=tuple(c.price for (spot, _, _), c in ordered if not spot),
        spot=tuple(c.price for (spot, _, _), c in ordered if spot),
        currency=currencies.pop() if currencies else None,
    )


def prices_from_focus(rows: Iterable[FocusPriceRow]) -> tuple[InstancePrice, ...]:
    """Just the on-demand prices of :func:`instance_prices_from_focus` (for ``with_instances``).

    Prefer :func:`pricebook_with_focus`, which also keeps spot prices and checks the currency.
    """
    return instance_prices_from_focus(rows).on_demand


def pricebook_with_focus(
    book: PriceBook, rows: Iterable[FocusPriceRow], *, preferred_region: str | None = None
) -> PriceBook:
    """``book`` plus the bill's instance prices (they win over the book's for the same type/region).

    Raises :class:`InputError` when the bill's currency is not the book's.
    """
    prices = instance_prices_from_focus(rows)
    if prices.currency is not None and prices.currency != book.currency:
        raise InputError(
            f"the FOCUS bill is in {prices.currency} but price book {book.name!r} is in {book.currency}",
            hint="tollgate does not convert currencies",
        )
    return with_instances(book, prices.on_demand, preferred_region=preferred_region, spot=prices.spot)
