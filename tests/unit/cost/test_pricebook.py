from __future__ import annotations

import pytest

from tollgate.cost.pricebook import (
    default_pricebook,
    instance_price,
    load_pricebook,
    merge_pricebooks,
    with_instances,
)
from tollgate.errors import ConfigError
from tollgate.model.cost import InstancePrice, PriceSource


def test_default_book_is_opencost_defaults_without_instances() -> None:
    book = default_pricebook()
    assert (book.cpu_core_hour, book.ram_gib_hour, book.gpu_hour, book.storage_gb_hour) == (
        0.031611, 0.004237, 0.95, 0.00005479452,
    )
    assert book.currency == "USD"
    assert book.resource_source is PriceSource.DEFAULT
    assert book.instances == {} and book.regional == {} and book.spot_instances == {}
    # $0.04 per GB-month spread over 730 hours
    assert book.storage_gb_hour * 730 == pytest.approx(0.04, rel=1e-6)


YAML_BOOK = """\
name: acme
currency: USD
region: us-east-1
cpu_core_hour: 0.028
instances:
  m5.large: 0.096
  t3.medium: {hourly: 0.0416, region: us-east-2}
  m6i.large:
    - {hourly: 0.096, region: us-east-1}
    - {hourly: 0.107, region: eu-west-1}
spot_instances:
  m5.large: 0.035
"""


def test_yaml_book_shapes_regions_and_fallbacks() -> None:
    book = load_pricebook(YAML_BOOK, "yaml", "book.yaml")
    assert book.name == "acme"
    assert book.resource_source is PriceSource.PRICEBOOK
    assert book.cpu_core_hour == 0.028
    assert book.ram_gib_hour == 0.004237  # not given: OpenCost default kept
    m5 = instance_price(book, "m5.large")
    assert m5 is not None and m5.hourly == 0.096 and m5.region == "us-east-1"
    assert m5.source is PriceSource.PRICEBOOK
    assert instance_price(book, "t3.medium", "us-east-2").hourly == 0.0416  # type: ignore[union-attr]
    # several regions and none preferred: the highest is used without a region
    assert instance_price(book, "m6i.large").hourly == 0.107  # type: ignore[union-attr]
    assert instance_price(book, "m6i.large", "us-east-1").hourly == 0.096  # type: ignore[union-attr]
    assert instance_price(book, "m5.large", spot=True).hourly == 0.035  # type: ignore[union-attr]
    assert instance_price(book, "c5.large") is None


def test_preferred_region_picks_the_default_price() -> None:
    book = load_pricebook(YAML_BOOK, "yml", "book.yaml", preferred_region="us-east-1")
    assert instance_price(book, "m6i.large").hourly == 0.096  # type: ignore[union-attr]


def test_book_with_only_instances_keeps_default_resource_source() -> None:
    book = load_pricebook("instances:\n  m5.large: 0.096\n", "yaml", "b.yaml")
    assert book.resource_source is PriceSource.DEFAULT
    assert book.cpu_core_hour == default_pricebook().cpu_core_hour


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("instances:\n  m5.large: cheap\n", "b.yaml:2", "instances.m5.large"),
        ("cpu_core_hour: 0.1\nram_gib_hour: -1\n", "b.yaml:2", "ram_gib_hour"),
        ("cpu_core_hour: 0.1\ncpu_price: 2\n", "b.yaml:2", "cpu_price"),
        ("instances:\n  a.b:\n    - {hourly: 1}\n    - {hourly: 1, zone: x}\n", "b.yaml:4", "instances.a.b.1.zone"),
        ("currency: dollars\n", "b.yaml:1", "currency"),
    ],
)
def test_yaml_errors_name_file_line_and_field(text: str, where: str, what: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_pricebook(text, "yaml", "b.yaml")
    assert where in str(info.value)
    assert what in str(info.value)


def test_yaml_syntax_error_and_non_mapping() -> None:
    with pytest.raises(ConfigError, match=r"b.yaml:2: not valid YAML"):
        load_pricebook("a: 1\n  b: [\n", "yaml", "b.yaml")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_pricebook("- 1\n", "yaml", "b.yaml")
    with pytest.raises(ConfigError, match="unknown price book format"):
        load_pricebook("", "toml", "b.toml")


def test_non_usd_book_must_set_every_resource_price() -> None:
    with pytest.raises(ConfigError, match="ram_gib_hour, gpu_hour, storage_gb_hour"):
        load_pricebook("currency: EUR\ncpu_core_hour: 0.03\n", "yaml", "eur.yaml")
    full = "currency: EUR\ncpu_core_hour: 0.03\nram_gib_hour: 0.004\ngpu_hour: 0.9\nstorage_gb_hour: 0.0001\n"
    assert load_pricebook(full, "yaml", "eur.yaml").currency == "EUR"


CSV_BOOK = """\
# negotiated prices
resource,unit_price,currency
cpu_core_hour,0.025,USD
ram_gib_hour,0.0033,USD

instance_type,region,hourly,currency,pricing
m5.large,us-east-1,0.096,USD,on-demand
m5.large,eu-west-1,0.107,USD,
m5.large,us-east-1,0.035,USD,spot
t3.medium,,0.0416
"""


def test_csv_sections() -> None:
    book = load_pricebook(CSV_BOOK, "csv", "prices.csv", preferred_region="us-east-1")
    assert (book.cpu_core_hour, book.ram_gib_hour) == (0.025, 0.0033)
    assert book.gpu_hour == 0.95
    assert book.resource_source is PriceSource.PRICEBOOK
    assert instance_price(book, "m5.large").hourly == 0.096  # type: ignore[union-attr]
    assert instance_price(book, "m5.large", "eu-west-1").hourly == 0.107  # type: ignore[union-attr]
    assert instance_price(book, "m5.large", spot=True).hourly == 0.035  # type: ignore[union-attr]
    t3 = instance_price(book, "t3.medium")
    assert t3 is not None and t3.region is None and t3.hourly == 0.0416


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("m5.large,us-east-1,0.1\n", "p.csv:1", "before a header"),
        ("instance_type,hourly\n", "p.csv:1", "region"),
        ("instance_type,region,hourly\nm5.large,x,abc\n", "p.csv:2", "'hourly'"),
        ("resource,unit_price\ncpu,0.1\n", "p.csv:2", "'resource'"),
        ("resource,unit_price\ncpu_core_hour,0.1\ncpu_core_hour,0.2\n", "p.csv:3", "priced twice"),
        ("instance_type,region,hourly,currency\na.b,,1,USD\nc.d,,1,EUR\n", "p.csv:3", "EUR differs from USD"),
        ("instance_type,region,hourly,pricing\na.b,,1,reserved\n", "p.csv:2", "'pricing'"),
        ("instance_type,region,hourly\na.b,,1,2\n", "p.csv:2", "4 cells"),
    ],
)
def test_csv_errors_name_file_and_line(text: str, where: str, what: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_pricebook(text, "csv", "p.csv")
    assert where in str(info.value)
    assert what in str(info.value)


def test_merge_keeps_each_items_source() -> None:
    user = load_pricebook(YAML_BOOK, "yaml", "book.yaml")
    focus = InstancePrice("m5.large", 0.111, PriceSource.FOCUS, region="eu-west-2", description="bill")
    merged = with_instances(merge_pricebooks(default_pricebook(), user), [focus])
    assert merged.resource_source is PriceSource.PRICEBOOK
    assert merged.cpu_core_hour == 0.028
    assert instance_price(merged, "m5.large", "eu-west-2").source is PriceSource.FOCUS  # type: ignore[union-attr]
    assert instance_price(merged, "m5.large", "us-east-1").source is PriceSource.PRICEBOOK  # type: ignore[union-attr]
    assert instance_price(merged, "t3.medium").source is PriceSource.PRICEBOOK  # type: ignore[union-attr]


def test_merge_of_instance_only_book_keeps_default_resources() -> None:
    user = load_pricebook("instances:\n  m5.large: 0.096\n", "yaml", "b.yaml")
    merged = merge_pricebooks(default_pricebook(), user)
    assert merged.resource_source is PriceSource.DEFAULT
    assert merged.cpu_core_hour == 0.031611
    assert instance_price(merged, "m5.large").hourly == 0.096  # type: ignore[union-attr]


def test_merge_refuses_mixed_currencies() -> None:
    eur = load_pricebook(
        "currency: EUR\ncpu_core_hour: 0.03\nram_gib_hour: 0.004\ngpu_hour: 0.9\nstorage_gb_hour: 0.0001\n",
        "yaml", "eur.yaml",
    )
    assert merge_pricebooks(default_pricebook(), eur).currency == "EUR"  # all resources replaced
    usd_instances = load_pricebook("instances:\n  m5.large: 0.096\n", "yaml", "usd.yaml")
    with pytest.raises(ConfigError, match="different currencies"):
        merge_pricebooks(usd_instances, eur)
