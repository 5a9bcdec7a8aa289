"""FOCUS billing files read with the real DuckDB, turned into instance prices and used in estimates."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import hcl2
import pytest

from tollgate.cost.focus_prices import instance_prices_from_focus, pricebook_with_focus
from tollgate.cost.pricebook import default_pricebook, instance_price
from tollgate.cost.terraform import estimate_terraform, hcl_value
from tollgate.errors import InputError
from tollgate.model.cost import PriceSource
from tollgate.model.manifests import TERRAFORM_API_VERSION, Manifest
from tollgate.sources.billing import read_focus_price_rows

pytestmark = pytest.mark.integration

DATA = (Path(__file__).resolve().parents[2] / "../shared/data").resolve()
SAMPLE = DATA / "focus" / "focus_sample.csv"

# EC2 "$X per On Demand Linux <type> Instance Hour" rows of focus_sample.csv (checked against the file):
# type -> {region: ListUnitPrice}
EXPECTED = {
    "t3.micro": {"ap-south-1": 0.0112},
    "t2.micro": {"us-east-2": 0.0116},
    "t3.medium": {"us-east-2": 0.0416},
    "t2.medium": {"us-west-2": 0.0464},
    "c5.large": {"us-east-1": 0.085},
    "m5.large": {"eu-west-2": 0.111},
    "c5.xlarge": {"us-west-2": 0.17},
    "m7i-flex.xlarge": {"us-west-2": 0.19152},
    "c5.2xlarge": {"us-east-1": 0.34},
    "m5.2xlarge": {"ap-south-1": 0.404, "eu-west-2": 0.444},
    "c5.4xlarge": {"us-east-1": 0.68},
    "g3.4xlarge": {"us-east-1": 1.14},
    "g5.4xlarge": {"us-east-1": 1.624},
    "m4.10xlarge": {"us-east-1": 2.0},
}


def test_focus_sample_yields_every_ec2_on_demand_type_with_its_price() -> None:
    rows = read_focus_price_rows(SAMPLE)
    assert sum(r.occurrences for r in rows) == 999  # 1,000 rows, one has no ListUnitPrice (a credit)
    prices = instance_prices_from_focus(rows)
    assert prices.currency == "USD"
    found = {(p.instance_type, p.region): p for p in prices.on_demand}
    assert {(t, r) for t, regions in EXPECTED.items() for r in regions} == set(found)
    assert len(prices.instance_types) == 14
    for instance_type, regions in EXPECTED.items():
        for region, hourly in regions.items():
            price = found[(instance_type, region)]
            assert price.hourly == hourly
            assert price.source is PriceSource.FOCUS
            assert f"On Demand Linux {instance_type} Instance Hour" in price.description
    # NAT gateways, Fargate, load balancers and the SQL Server RDS row are not instance types here
    assert not any(t.startswith("db.") for t in prices.instance_types)
    assert prices.spot == ()


def test_pricebook_with_focus_and_region_choice() -> None:
    rows = read_focus_price_rows(SAMPLE)
    book = pricebook_with_focus(default_pricebook(), rows)
    assert book.resource_source is PriceSource.DEFAULT  # per-resource prices untouched
    # m5.2xlarge is priced in two regions: without a preference the higher one is used
    assert instance_price(book, "m5.2xlarge").hourly == 0.444  # type: ignore[union-attr]
    assert instance_price(book, "m5.2xlarge", "ap-south-1").hourly == 0.404  # type: ignore[union-attr]
    preferred = pricebook_with_focus(default_pricebook(), rows, preferred_region="ap-south-1")
    assert instance_price(preferred, "m5.2xlarge").hourly == 0.404  # type: ignore[union-attr]


def test_focus_prices_an_eks_node_group_left_on_the_aws_default_type() -> None:
    text = (DATA / "corpus/terraform/terraform-aws-eks/tests/eks-managed-node-group/main.tf").read_text()
    modules = [
        Manifest(TERRAFORM_API_VERSION, "module", hcl_value(name), "", body)
        for block in hcl2.loads(text)["module"] for name, body in block.items()
    ]
    eks = next(m for m in modules if m.name == "eks")
    unpriced = estimate_terraform(eks, default_pricebook())
    assert unpriced is not None and unpriced.unknown
    book = pricebook_with_focus(default_pricebook(), read_focus_price_rows(SAMPLE))
    default_group = Manifest(
        TERRAFORM_API_VERSION, "module", "eks", "",
        {"eks_managed_node_groups": {"default_node_group": eks.body["eks_managed_node_groups"]["default_node_group"]}},
    )
    est = estimate_terraform(default_group, book)
    assert est is not None and not est.unknown
    assert est.instance_type == "t3.medium" and est.source is PriceSource.FOCUS
    assert est.monthly == pytest.approx(est.count * 0.0416 * 730)  # type: ignore[operator]


def test_gzip_and_parquet_give_the_same_rows(tmp_path: Path) -> None:
    gz = tmp_path / "bill.csv.gz"
    with SAMPLE.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    parquet = tmp_path / "bill.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM read_csv(?, all_varchar=true, nullstr=['NULL',''])) TO '"
        + str(parquet).replace("'", "''") + "' (FORMAT parquet)",
        [str(SAMPLE)],
    )
    con.close()
    plain = instance_prices_from_focus(read_focus_price_rows(SAMPLE))
    assert instance_prices_from_focus(read_focus_price_rows(gz)) == plain
    assert instance_prices_from_focus(read_focus_price_rows(parquet)) == plain


def test_focus_1_3_service_provider_name_and_sku_price_details(tmp_path: Path) -> None:
    bill = tmp_path / "focus13.csv"
    bill.write_text(
        "ServiceProviderName,RegionId,ListUnitPrice,PricingUnit,ChargeDescription,PricingCategory,"
        "BillingCurrency,SkuPriceDetails\n"
        'AWS,us-east-1,0.096,Hours,Compute usage,Standard,USD,"{""InstanceType"": ""m5.large"", '
        '""OperatingSystem"": ""Linux""}"\n'
        'AWS,us-east-1,0.188,Hours,Compute usage,Standard,USD,"{""InstanceType"": ""m5.large"", '
        '""OperatingSystem"": ""Windows""}"\n'
        'AWS,us-east-1,0.035,Hours,Spot usage,Dynamic,USD,"{""InstanceType"": ""m5.large""}"\n'
    )
    prices = instance_prices_from_focus(read_focus_price_rows(bill))
    assert [(p.instance_type, p.hourly) for p in prices.on_demand] == [("m5.large", 0.096)]  # Linux wins
    assert [(p.instance_type, p.hourly) for p in prices.spot] == [("m5.large", 0.035)]


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    bill = tmp_path / "bill.csv"
    bill.write_text("ProviderName,RegionId,PricingUnit,ChargeDescription\nAWS,us-east-1,Hours,x\n")
    with pytest.raises(InputError, match="ListUnitPrice"):
        read_focus_price_rows(bill)
    no_provider = tmp_path / "np.csv"
    no_provider.write_text("RegionId,ListUnitPrice,PricingUnit,ChargeDescription\nus-east-1,1,Hours,x\n")
    with pytest.raises(InputError, match="ServiceProviderName"):
        read_focus_price_rows(no_provider)
    with pytest.raises(InputError, match="not found"):
        read_focus_price_rows(tmp_path / "absent.csv")
    with pytest.raises(InputError, match="unknown billing file type"):
        (tmp_path / "bill.json").write_text("{}")
        read_focus_price_rows(tmp_path / "bill.json")


def test_bill_in_another_currency_is_refused(tmp_path: Path) -> None:
    bill = tmp_path / "eur.csv"
    bill.write_text(
        "ProviderName,RegionId,ListUnitPrice,PricingUnit,ChargeDescription,BillingCurrency\n"
        "AWS,eu-central-1,0.1,Hours,$0.1 per On Demand Linux m5.large Instance Hour,EUR\n"
    )
    with pytest.raises(InputError, match="EUR"):
        pricebook_with_focus(default_pricebook(), read_focus_price_rows(bill))
