from __future__ import annotations

import pytest

from tollgate.cost.pricebook import default_pricebook, load_pricebook, merge_pricebooks
from tollgate.cost.terraform import TerraformIndex, estimate_terraform
from tollgate.model.cost import PriceSource

from ._helpers import corpus_terraform, terraform_manifests

H = 730
# A user price book (hourly on-demand list prices the test makes up; only the arithmetic matters here).
USER_BOOK = merge_pricebooks(
    default_pricebook(),
    load_pricebook(
        "instances:\n  m6i.large: 0.096\n  m5.large: 0.096\n  t3.medium: 0.0416\n  c5.xlarge: 0.17\n"
        "  db.t3.micro: 0.017\nspot_instances:\n  m5.large: 0.035\n",
        "yaml", "user.yaml",
    ),
)


def test_eks_managed_node_group_example_priced_from_price_book() -> None:
    ms = corpus_terraform("terraform-aws-eks/examples/eks-managed-node-group/eks-al2023.tf")
    module = next(m for m in ms if m.kind == "module" and m.name == "eks_al2023")
    est = estimate_terraform(module, USER_BOOK)
    assert est is not None and not est.unknown
    # example group: instance_types ["m6i.large"], min 2, max 5, desired 2
    assert est.count == 2 and est.max_count == 5 and est.instance_type == "m6i.large"
    assert est.monthly == pytest.approx(2 * 0.096 * H)
    assert est.monthly_max == pytest.approx(5 * 0.096 * H)
    assert est.source is PriceSource.PRICEBOOK


def test_eks_node_groups_unknown_without_a_price_book() -> None:
    ms = corpus_terraform("terraform-aws-eks/examples/karpenter/main.tf")
    module = next(m for m in ms if m.kind == "module" and m.name == "eks")
    est = estimate_terraform(module, default_pricebook())
    assert est is not None and est.unknown and est.monthly is None
    assert "no price for m5.large" in est.note
    priced = estimate_terraform(module, USER_BOOK)
    assert priced is not None and priced.monthly == pytest.approx(2 * 0.096 * H)


def test_corpus_module_internals_are_unknown_never_zero() -> None:
    ms = corpus_terraform("terraform-aws-eks/modules/eks-managed-node-group/main.tf")
    idx = TerraformIndex.build(ms)
    node_group = next(m for m in ms if m.kind == "aws_eks_node_group")
    est = estimate_terraform(node_group, USER_BOOK, index=idx)
    assert est is not None and est.unknown
    assert "var.desired_size" in est.note
    ec2 = corpus_terraform("terraform-aws-ec2-instance/main.tf")
    for m in ec2:
        if m.kind in ("aws_instance", "aws_spot_instance_request"):
            e = estimate_terraform(m, USER_BOOK)
            assert e is not None and e.unknown and e.monthly is None


def test_ec2_module_examples_with_literal_instance_types() -> None:
    ms = {m.name: m for m in corpus_terraform("terraform-aws-ec2-instance/examples/complete/main.tf")
          if m.kind == "module"}
    est = estimate_terraform(ms["ec2_complete"], USER_BOOK)
    assert est is not None and est.instance_type == "c5.xlarge" and est.monthly == pytest.approx(0.17 * H)
    multiple = estimate_terraform(ms["ec2_multiple"], USER_BOOK)  # for_each over a local map
    assert multiple is not None and multiple.unknown and "each.value.instance_type" in multiple.note
    assert estimate_terraform(ms["vpc"], USER_BOOK) is None  # no instances


ASG = """
resource "aws_launch_template" "web" {
  name_prefix   = "web"
  instance_type = "m5.large"
}

resource "aws_autoscaling_group" "web" {
  desired_capacity = 3
  min_size         = 2
  max_size         = 6
  launch_template {
    id      = aws_launch_template.web.id
    version = "$Latest"
  }
}

resource "aws_launch_template" "lonely" {
  instance_type = "t3.medium"
}

resource "aws_autoscaling_group" "mixed" {
  min_size = 1
  max_size = 2
  mixed_instances_policy {
    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.web.id
      }
      override {
        instance_type = "c5.xlarge"
      }
    }
  }
}
"""


def test_asg_uses_launch_template_type_and_template_is_not_double_counted() -> None:
    ms = terraform_manifests(ASG)
    idx = TerraformIndex.build(ms)
    by = {(m.kind, m.name): m for m in ms}
    asg = estimate_terraform(by[("aws_autoscaling_group", "web")], USER_BOOK, index=idx)
    assert asg is not None and asg.instance_type == "m5.large"
    assert asg.monthly == pytest.approx(3 * 0.096 * H) and asg.monthly_max == pytest.approx(6 * 0.096 * H)
    lt = estimate_terraform(by[("aws_launch_template", "web")], USER_BOOK, index=idx)
    assert lt is not None and lt.monthly == 0.0 and "aws_autoscaling_group/web" in lt.note
    lonely = estimate_terraform(by[("aws_launch_template", "lonely")], USER_BOOK, index=idx)
    assert lonely is not None and lonely.monthly == pytest.approx(0.0416 * H)
    mixed = estimate_terraform(by[("aws_autoscaling_group", "mixed")], USER_BOOK, index=idx)
    assert mixed is not None and mixed.instance_type == "c5.xlarge"
    assert mixed.monthly == pytest.approx(1 * 0.17 * H)  # min_size when desired is not set


OTHERS = """
resource "aws_eks_node_group" "default" {
  cluster_name = "x"
  scaling_config {
    desired_size = 2
    min_size     = 1
    max_size     = 4
  }
}

resource "aws_eks_node_group" "spot" {
  cluster_name   = "x"
  capacity_type  = "SPOT"
  instance_types = ["m5.large", "m5a.large"]
  scaling_config {
    desired_size = 3
    min_size     = 3
    max_size     = 3
  }
}

resource "aws_db_instance" "db" {
  instance_class = "db.t3.micro"
  multi_az       = true
}

resource "aws_spot_instance_request" "worker" {
  instance_type = "c5.xlarge"
}

resource "aws_instance" "pair" {
  count         = 2
  instance_type = "t3.medium"
}

resource "aws_instance" "dynamic" {
  instance_type = var.instance_type
}

resource "aws_s3_bucket" "logs" {
  bucket = "logs"
}
"""


def test_node_group_spot_db_and_instances() -> None:
    ms = terraform_manifests(OTHERS)
    idx = TerraformIndex.build(ms)
    by = {m.name: m for m in ms}

    default = estimate_terraform(by["default"], USER_BOOK, index=idx)
    assert default is not None and default.instance_type == "t3.medium"  # AWS default
    assert default.monthly == pytest.approx(2 * 0.0416 * H) and default.monthly_max == pytest.approx(4 * 0.0416 * H)
    assert "AWS default t3.medium" in default.note

    spot = estimate_terraform(by["spot"], USER_BOOK, index=idx)
    assert spot is not None and spot.spot and spot.monthly == pytest.approx(3 * 0.035 * H)

    db = estimate_terraform(by["db"], USER_BOOK, index=idx)
    assert db is not None and db.monthly == pytest.approx(2 * 0.017 * H) and "Multi-AZ" in db.note

    worker = estimate_terraform(by["worker"], USER_BOOK, index=idx)
    assert worker is not None and worker.unknown and "no spot price for c5.xlarge" in worker.note

    pair = estimate_terraform(by["pair"], USER_BOOK, index=idx)
    assert pair is not None and pair.count == 2 and pair.monthly == pytest.approx(2 * 0.0416 * H)

    dynamic = estimate_terraform(by["dynamic"], USER_BOOK, index=idx)
    assert dynamic is not None and dynamic.unknown and "var.instance_type" in dynamic.note

    assert estimate_terraform(by["logs"], USER_BOOK, index=idx) is None
