"""The price book in force: shipped defaults, overridden in order by price-book texts, then FOCUS-derived prices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tollgate.cost.focus_prices import pricebook_with_focus
from tollgate.cost.pricebook import default_pricebook, load_pricebook, merge_pricebooks
from tollgate.model.billing import FocusPriceRow
from tollgate.model.cost import PriceBook

__all__ = ["assemble_pricebook"]


def assemble_pricebook(
    books: Sequence[tuple[str, str]],
    *,
    region: str | None = None,
    focus_rows: Iterable[FocusPriceRow] = (),
) -> PriceBook:
    """Default prices, then each ``(name, text)`` book in order (CSV when ``name`` ends in .csv, else YAML),
    then instance prices derived from FOCUS rows. Bad book text raises the loader's error naming ``name``."""
    book = default_pricebook()
    for name, text in books:
        fmt = "csv" if name.lower().endswith(".csv") else "yaml"
        book = merge_pricebooks(book, load_pricebook(text, fmt, name, preferred_region=region),
                                preferred_region=region)
    rows = list(focus_rows)
    if rows:
        book = pricebook_with_focus(book, rows, preferred_region=region)
    return book
