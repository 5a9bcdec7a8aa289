"""Price books: the shipped OpenCost defaults, user price books in YAML or CSV, and merging.

A price book has four per-resource node prices (OpenCost semantics, all hourly) and a table of
instance-type hourly prices. Prices that a user book leaves out fall back to the shipped defaults.

YAML shape::

    name: acme-negotiated          # optional; defaults to the name given to load_pricebook
    currency: USD                  # ISO 4217, default USD
    region: us-east-1              # optional: region of instance prices given as plain numbers
    cpu_core_hour: 0.03            # $ per vCPU-hour          } each optional; missing ones
    ram_gib_hour: 0.004            # $ per GiB-hour of RAM    } keep the OpenCost defaults
    gpu_hour: 0.9                  # $ per GPU-hour           }
    storage_gb_hour: 0.00005       # $ per GiB-hour of volume }
    instances:
      m5.large: 0.096                              # plain hourly price
      t3.medium: {hourly: 0.0416, region: us-east-1}
      m6i.large:                                   # several regions
        - {hourly: 0.096, region: us-east-1}
        - {hourly: 0.107, region: eu-west-1}
    spot_instances:                # optional spot prices, same shapes as instances
      m5.large: 0.035

CSV shape: one or more sections, each starting with a header row; ``#`` lines and blank lines are
ignored. The first header cell decides the section:

* ``instance_type,region,hourly[,currency][,pricing]`` -- one instance price per row; ``region`` may
  be empty; ``pricing`` is ``on-demand`` (default) or ``spot``.
* ``resource,unit_price[,currency]`` -- one per-resource price per row; ``resource`` is one of
  ``cpu_core_hour``, ``ram_gib_hour``, ``gpu_hour``, ``storage_gb_hour``.

Example::

    resource,unit_price,currency
    cpu_core_hour,0.028,USD
    ram_gib_hour,0.0037,USD

    instance_type,region,hourly,currency,pricing
    m5.large,us-east-1,0.096,USD,on-demand
    m5.large,us-east-1,0.035,USD,spot

When one instance type has prices in several regions, the price used without an explicit region is
the one in the preferred region if given, else the one without a region, else the highest (so that an
estimate never understates). Every regional price stays available through :func:`instance_price`.
Errors raise :class:`~tollgate.errors.ConfigError` naming the book and the line or field.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tollgate.errors import ConfigError
from tollgate.model.cost import InstancePrice, PriceBook, PriceSource

RESOURCE_FIELDS = ("cpu_core_hour", "ram_gib_hour", "gpu_hour", "storage_gb_hour")

__all__ = [
    "RESOURCE_FIELDS",
    "default_pricebook",
    "index_instances",
    "instance_price",
    "load_pricebook",
    "merge_pricebooks",
    "with_instances",
]


# --------------------------------------------------------------------------------------------- defaults


@cache
def default_pricebook() -> PriceBook:
    """The shipped OpenCost default prices (``cost/pricebooks/default.yaml``); no instance types."""
    text = resources.files("tollgate.cost").joinpath("pricebooks/default.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return PriceBook(
        cpu_core_hour=float(data["cpu_core_hour"]),
        ram_gib_hour=float(data["ram_gib_hour"]),
        gpu_hour=float(data["gpu_hour"]),
        storage_gb_hour=float(data["storage_gb_hour"]),
        currency=str(data["currency"]),
        resource_source=PriceSource.DEFAULT,
        name=str(data["name"]),
    )


# --------------------------------------------------------------------------------------------- lookups


def index_instances(
    prices: Iterable[InstancePrice], preferred_region: str | None = None
) -> tuple[dict[str, InstancePrice], dict[tuple[str, str], InstancePrice]]:
    """Split prices into (one price per type, every regional price by ``(type, region)``).

    The one price per type is chosen as the module docstring says: preferred region, else no region,
    else the highest.
    """
    regional: dict[tuple[str, str], InstancePrice] = {}
    by_type: dict[str, list[InstancePrice]] = {}
    for price in prices:
        if price.region:
            regional[(price.instance_type, price.region)] = price
        by_type.setdefault(price.instance_type, []).append(price)
    chosen: dict[str, InstancePrice] = {}
    for instance_type, candidates in by_type.items():
        preferred = [p for p in candidates if preferred_region and p.region == preferred_region]
        unregioned = [p for p in candidates if not p.region]
        pool = preferred or unregioned or candidates
        chosen[instance_type] = max(pool, key=lambda p: (p.hourly, p.region or ""))
    return chosen, regional


def instance_price(
    book: PriceBook, instance_type: str, region: str | None = None, *, spot: bool = False
) -> InstancePrice | None:
    """Hourly price of ``instance_type`` (in ``region`` when the book has it there), or ``None``."""
    if spot:
        return book.spot_instances.get(instance_type)
    if region is not None:
        regional = book.regional.get((instance_type, region))
        if regional is not None:
            return regional
    return book.instances.get(instance_type)


def _all_instance_prices(book: PriceBook) -> dict[tuple[str, str | None], InstancePrice]:
    out: dict[tuple[str, str | None], InstancePrice] = {}
    for price in book.instances.values():
        out[(price.instance_type, price.region or None)] = price
    for price in book.regional.values():
        out[(price.instance_type, price.region or None)] = price
    return out


# --------------------------------------------------------------------------------------------- merging


def merge_pricebooks(base: PriceBook, override: PriceBook, *, preferred_region: str | None = None) -> PriceBook:
    """Lay ``override`` over ``base``, keeping each item's own source.

    Per-resource prices come from ``override`` unless it only carries the defaults
    (``resource_source == DEFAULT``). Instance prices are merged per ``(type, region)``; the override
    wins. Books in different currencies are not converted: mixing them raises :class:`ConfigError`.
    """
    take_resources = override.resource_source is not PriceSource.DEFAULT
    src = override if take_resources else base
    currencies = {src.currency}
    if base.instances or base.regional or base.spot_instances:
        currencies.add(base.currency)
    if override.instances or override.regional or override.spot_instances:
        currencies.add(override.currency)
    if len(currencies) > 1:
        raise ConfigError(
            f"price books {base.name!r} ({base.currency}) and {override.name!r} ({override.currency}) "
            "use different currencies",
            hint="tollgate does not convert currencies: give every price in one currency",
        )
    merged = _all_instance_prices(base) | _all_instance_prices(override)
    instances, regional = index_instances(merged.values(), preferred_region)
    spot = dict(base.spot_instances) | dict(override.spot_instances)
    return PriceBook(
        cpu_core_hour=src.cpu_core_hour,
        ram_gib_hour=src.ram_gib_hour,
        gpu_hour=src.gpu_hour,
        storage_gb_hour=src.storage_gb_hour,
        currency=currencies.pop(),
        resource_source=src.resource_source,
        instances=instances,
        name=f"{base.name}+{override.name}",
        regional=regional,
        spot_instances=spot,
    )


# --------------------------------------------------------------------------------------------- loading


def load_pricebook(
    text: str, fmt: str, name: str, *, preferred_region: str | None = None
) -> PriceBook:
    """Parse a user price book. ``fmt`` is ``yaml``/``yml`` or ``csv``; ``name`` names it in errors.

    Every price it carries gets ``PriceSource.PRICEBOOK``; resource prices it leaves out keep the
    shipped defaults (and if it sets none, ``resource_source`` stays ``DEFAULT``).
    """
    kind = fmt.lower().lstrip(".")
    if kind in ("yaml", "yml"):
        return _load_yaml(text, name, preferred_region)
    if kind == "csv":
        return _load_csv(text, name, preferred_region)
    raise ConfigError(f"{name}: unknown price book format {fmt!r} (use yaml or csv)")


def _build(
    name: str,
    currency: str,
    resource_prices: Mapping[str, float],
    prices: Sequence[InstancePrice],
    spot: Sequence[InstancePrice],
    preferred_region: str | None,
) -> PriceBook:
    defaults = default_pricebook()
    if currency != defaults.currency and len(resource_prices) < len(RESOURCE_FIELDS):
        missing = ", ".join(f for f in RESOURCE_FIELDS if f not in resource_prices)
        raise ConfigError(
            f"{name}: prices are in {currency} but {missing} would fall back to {defaults.currency} defaults",
            hint="set all four resource prices in a non-USD price book",
        )
    values = {f: float(resource_prices.get(f, getattr(defaults, f))) for f in RESOURCE_FIELDS}
    instances, regional = index_instances(prices, preferred_region)
    spot_index, _ = index_instances(spot, preferred_region)
    return PriceBook(
        cpu_core_hour=values["cpu_core_hour"],
        ram_gib_hour=values["ram_gib_hour"],
        gpu_hour=values["gpu_hour"],
        storage_gb_hour=values["storage_gb_hour"],
        currency=currency,
        resource_source=PriceSource.PRICEBOOK if resource_prices else PriceSource.DEFAULT,
        instances=instances,
        name=name,
        regional=regional,
        spot_instances=spot_index,
    )


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)
    hourly: float = Field(ge=0, allow_inf_nan=False)
    region: str | None = None


_EntryValue = float | _Entry | list[_Entry]


class _YamlBook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    region: str | None = None
    cpu_core_hour: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    ram_gib_hour: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    gpu_hour: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    storage_gb_hour: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    instances: dict[str, _EntryValue] = Field(default_factory=dict)
    spot_instances: dict[str, _EntryValue] = Field(default_factory=dict)


def _load_yaml(text: str, name: str, preferred_region: str | None) -> PriceBook:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{name}: a price book must be a YAML mapping (see tollgate.cost.pricebook)")
    try:
        book = _YamlBook.model_validate(data)
    except ValidationError as exc:
        # With unions pydantic reports every branch; the deepest location is the most specific.
        err = max(exc.errors(), key=lambda e: len(_strip_union_tags(e["loc"])))
        loc = tuple(err["loc"])
        line = _line_of(node, loc)
        where = f"{name}:{line}" if line is not None else name
        field_path = ".".join(str(p) for p in _strip_union_tags(loc))
        raise ConfigError(f"{where}: field {field_path!r}: {err['msg']}") from exc
    resource_prices = {f: v for f in RESOURCE_FIELDS if (v := getattr(book, f)) is not None}
    prices = _yaml_entries(book.instances, book.region)
    spot = _yaml_entries(book.spot_instances, book.region, spot=True)
    return _build(book.name or name, book.currency, resource_prices, prices, spot, preferred_region)


def _yaml_entries(
    table: Mapping[str, _EntryValue], default_region: str | None, *, spot: bool = False
) -> list[InstancePrice]:
    out: list[InstancePrice] = []
    for instance_type, value in table.items():
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            if isinstance(entry, _Entry):
                hourly, region = entry.hourly, entry.region or default_region
            else:
                hourly, region = float(entry), default_region
            out.append(
                InstancePrice(
                    instance_type=instance_type,
                    hourly=hourly,
                    source=PriceSource.PRICEBOOK,
                    region=region,
                    description="spot" if spot else "",
                )
            )
    return out


_UNION_TAGS = {"float", "_Entry", "list[_Entry]"}


def _strip_union_tags(loc: Sequence[Any]) -> list[Any]:
    return [p for p in loc if not (isinstance(p, str) and p in _UNION_TAGS)]


def _line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """1-based line of the YAML node at a pydantic error location (best effort)."""
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for part in _strip_union_tags(loc):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


_INSTANCE_HEADER = ("instance_type", "region", "hourly")
_RESOURCE_HEADER = ("resource", "unit_price")


def _load_csv(text: str, name: str, preferred_region: str | None) -> PriceBook:
    header: list[str] | None = None
    currency: str | None = None
    resource_prices: dict[str, float] = {}
    prices: list[InstancePrice] = []
    spot: list[InstancePrice] = []

    def fail(line: int, message: str) -> ConfigError:
        return ConfigError(f"{name}:{line}: {message}", hint="see the CSV shape in tollgate.cost.pricebook")

    def number(value: str, line: int, column: str) -> float:
        try:
            result = float(value.strip().lstrip("$").replace(",", ""))
        except ValueError:
            raise fail(line, f"column {column!r}: {value!r} is not a number") from None
        if result < 0 or not math.isfinite(result):
            raise fail(line, f"column {column!r}: {value!r} must be a finite number >= 0")
        return result

    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in next(csv.reader(io.StringIO(raw)))]
        first = cells[0].lower()
        if first in ("instance_type", "resource"):
            header = [c.lower() for c in cells]
            required = _INSTANCE_HEADER if first == "instance_type" else _RESOURCE_HEADER
            missing = [c for c in required if c not in header]
            if missing:
                raise fail(line_no, f"header lacks column(s) {', '.join(missing)}")
            known = set(required) | {"currency", "pricing"}
            unknown = [c for c in header if c not in known]
            if unknown:
                raise fail(line_no, f"unknown column(s) {', '.join(unknown)}")
            continue
        if header is None:
            raise fail(line_no, "data row before a header row (instance_type,... or resource,...)")
        if len(cells) > len(header):
            raise fail(line_no, f"{len(cells)} cells but the header has {len(header)} columns")
        row = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))
        row_currency = row.get("currency", "").upper() or None
        if row_currency is not None:
            if len(row_currency) != 3 or not row_currency.isalpha():
                raise fail(line_no, f"column 'currency': {row_currency!r} is not an ISO 4217 code")
            if currency is not None and row_currency != currency:
                raise fail(line_no, f"currency {row_currency} differs from {currency} used above")
            currency = row_currency
        if header[0] == "resource":
            resource = row["resource"].lower()
            if resource not in RESOURCE_FIELDS:
                allowed = ", ".join(RESOURCE_FIELDS)
                raise fail(line_no, f"column 'resource': {row['resource']!r} is not one of {allowed}")
            if resource in resource_prices:
                raise fail(line_no, f"resource {resource} is priced twice")
            resource_prices[resource] = number(row["unit_price"], line_no, "unit_price")
            continue
        instance_type = row["instance_type"]
        if not instance_type:
            raise fail(line_no, "column 'instance_type' is empty")
        pricing = (row.get("pricing") or "on-demand").lower()
        if pricing not in ("on-demand", "ondemand", "spot"):
            raise fail(line_no, f"column 'pricing': {pricing!r} is not on-demand or spot")
        price = InstancePrice(
            instance_type=instance_type,
            hourly=number(row["hourly"], line_no, "hourly"),
            source=PriceSource.PRICEBOOK,
            region=row["region"] or None,
            description="spot" if pricing == "spot" else "",
        )
        (spot if pricing == "spot" else prices).append(price)
    return _build(name, currency or "USD", resource_prices, prices, spot, preferred_region)


def with_instances(book: PriceBook, prices: Iterable[InstancePrice], *, preferred_region: str | None = None,
                   spot: Iterable[InstancePrice] = ()) -> PriceBook:
    """``book`` with more instance prices laid over its own (the new ones win per type and region)."""
    merged = _all_instance_prices(book)
    for price in prices:
        merged[(price.instance_type, price.region or None)] = price
    instances, regional = index_instances(merged.values(), preferred_region)
    spot_index, _ = index_instances([*book.spot_instances.values(), *spot], preferred_region)
    return replace(book, instances=instances, regional=regional, spot_instances=spot_index)
