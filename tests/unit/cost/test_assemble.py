"""The price book in force: defaults, books in order, then FOCUS prices; user files read with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.cost.assemble import assemble_pricebook
from tollgate.cost.pricebook import default_pricebook, instance_price
from tollgate.errors import ConfigError
from tollgate.model.cost import PriceSource
from tollgate.settings import PricingSettings
from tollgate.sources.pricing_files import read_user_pricing

FOCUS_SAMPLE = Path(__file__).resolve().parents[3] / "../shared/data/focus/focus_sample.csv"


def test_later_books_override_earlier_ones_and_defaults_stay() -> None:
    book = assemble_pricebook([("repo.yaml", "instances:\n  m5.large: 0.5\n"),
                               ("user.csv", "instance_type,region,hourly\nm5.large,,0.25\n")])
    price = instance_price(book, "m5.large")
    assert price is not None and price.hourly == pytest.approx(0.25)
    assert book.cpu_core_hour == default_pricebook().cpu_core_hour


def test_no_books_is_the_default_book() -> None:
    assert assemble_pricebook([]) == default_pricebook()


def test_focus_rows_add_instance_prices_from_the_bill() -> None:
    books, rows = read_user_pricing(PricingSettings(focus_file=FOCUS_SAMPLE))
    assert books == [] and rows
    book = assemble_pricebook(books, focus_rows=rows)
    focus_types = [t for t, p in book.instances.items() if p.source is PriceSource.FOCUS]
    assert focus_types, "the FOCUS sample carries EC2 instance prices"


def test_unreadable_user_book_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml"):
        read_user_pricing(PricingSettings(pricebook=missing))
