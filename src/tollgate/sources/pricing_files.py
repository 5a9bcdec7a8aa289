"""Reading the inputs of the price book in force: the user's price-book file and FOCUS price rows."""

from __future__ import annotations

from pathlib import Path

from tollgate.errors import ConfigError
from tollgate.model.billing import FocusPriceRow
from tollgate.settings import PricingSettings
from tollgate.sources.billing import read_focus_price_rows

__all__ = ["read_user_pricing"]


def read_user_pricing(pricing: PricingSettings) -> tuple[list[tuple[str, str]], list[FocusPriceRow]]:
    """The user's price book as ``[(name, text)]`` (empty when unset) and FOCUS price rows (empty when unset)."""
    books: list[tuple[str, str]] = []
    path: Path | None = pricing.pricebook
    if path is not None:
        try:
            books.append((str(path), path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read price book ({exc.strerror})") from exc
    rows = read_focus_price_rows(pricing.focus_file) if pricing.focus_file is not None else []
    return books, rows
