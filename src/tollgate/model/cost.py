"""Prices and cost estimates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tollgate.model.manifests import ResourceKey


class PriceSource(StrEnum):
    DEFAULT = "default"  # OpenCost's shipped defaults
    PRICEBOOK = "pricebook"  # a price book the user supplied
    FOCUS = "focus"  # derived from the user's own FOCUS bill


@dataclass(frozen=True, slots=True)
class InstancePrice:
    """Hourly price of one instance type in one region, and where it came from."""

    instance_type: str
    hourly: float
    source: PriceSource
    region: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class PriceBook:
    """Per-resource node prices (OpenCost semantics) and per-instance-type prices."""

    cpu_core_hour: float
    ram_gib_hour: float
    gpu_hour: float
    storage_gb_hour: float
    currency: str = "USD"
    resource_source: PriceSource = PriceSource.DEFAULT
    instances: Mapping[str, InstancePrice] = field(default_factory=dict)
    name: str = "opencost-default"
    #: Every known regional price, keyed by ``(instance_type, region)``; ``instances`` holds the one
    #: price per type used when no region is asked for.
    regional: Mapping[tuple[str, str], InstancePrice] = field(default_factory=dict)
    #: Spot (interruptible) hourly prices per instance type, when the book has them.
    spot_instances: Mapping[str, InstancePrice] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CostItem:
    """Monthly cost of one resource before and after the change.

    ``unknown`` is true when no price exists for it: such an item is excluded from totals, never 0.
    ``monthly_after_max`` is the worst case (HPA at max replicas), when it differs.
    """

    key: ResourceKey
    monthly_before: float
    monthly_after: float
    price_source: PriceSource
    unknown: bool = False
    monthly_after_max: float | None = None
    note: str = ""
    #: Replicas (pods or instances) the ``monthly_after`` estimate assumes, when it scales with them.
    replicas: int | None = None

    @property
    def monthly_delta(self) -> float:
        return self.monthly_after - self.monthly_before


@dataclass(frozen=True, slots=True)
class CostReport:
    currency: str
    items: tuple[CostItem, ...]

    @property
    def monthly_before(self) -> float:
        return sum(i.monthly_before for i in self.items if not i.unknown)

    @property
    def monthly_after(self) -> float:
        return sum(i.monthly_after for i in self.items if not i.unknown)

    @property
    def monthly_delta(self) -> float:
        return self.monthly_after - self.monthly_before
