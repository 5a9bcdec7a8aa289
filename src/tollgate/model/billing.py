"""Rows of a FOCUS billing export, as far as unit prices need them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FocusPriceRow:
    """One distinct combination of the FOCUS columns that describe a unit price.

    ``occurrences`` counts how many billing rows share it. ``sku_price_details`` is the raw JSON text of
    the FOCUS 1.1+ ``SkuPriceDetails`` column (``None`` in FOCUS 1.0 files). Missing values are ``None``.
    """

    provider: str | None
    region: str | None
    list_unit_price: float | None
    pricing_unit: str | None
    charge_description: str | None
    service: str | None = None
    resource_type: str | None = None
    pricing_category: str | None = None
    charge_category: str | None = None
    currency: str | None = None
    sku_id: str | None = None
    sku_price_details: str | None = None
    occurrences: int = 1
