from __future__ import annotations

import copy
from typing import Any

import pytest

from tollgate.cost.estimate import estimate_change_costs
from tollgate.cost.pricebook import default_pricebook, load_pricebook, merge_pricebooks
from tollgate.model.changes import ChangeKind, ResourceChange
from tollgate.model.cost import PriceSource
from tollgate.model.manifests import Manifest, ResourceKey

from ._helpers import corpus_object, manifest, terraform_manifests

CPU, RAM = 0.031611, 0.004237
H = 730
BOOK = default_pricebook()
FRONTEND_PER_REPLICA = 0.1 * CPU * H + (64 / 1024) * RAM * H


def change(before: Manifest | None, after: Manifest | None, fields: tuple[str, ...] = ()) -> ResourceChange:
    kind = ChangeKind.ADDED if before is None else ChangeKind.REMOVED if after is None else ChangeKind.MODIFIED
    key = (after or before).key  # type: ignore[union-attr]
    return ResourceChange(key, kind, before, after, fields)


def with_replicas(m: Manifest, n: int) -> Manifest:
    body: dict[str, Any] = copy.deepcopy(dict(m.body))
    body["spec"]["replicas"] = n
    return manifest(body, file=m.source.file)


def frontend() -> Manifest:
    return corpus_object("microservices-demo/kubernetes-manifests/frontend.yaml", "Deployment", "frontend")


def test_replica_change_1_to_5_has_exact_delta() -> None:
    base = with_replicas(frontend(), 1)
    head = with_replicas(frontend(), 5)
    report = estimate_change_costs([change(base, head, ("spec.replicas",))], [base], [head], BOOK,
                                   node_count=3, hours_per_month=730)
    (item,) = report.items
    assert item.key == ResourceKey("Deployment", "default", "frontend")
    assert item.monthly_before == pytest.approx(FRONTEND_PER_REPLICA, rel=1e-12)
    assert item.monthly_after == pytest.approx(5 * FRONTEND_PER_REPLICA, rel=1e-12)
    assert item.monthly_delta == pytest.approx(4 * FRONTEND_PER_REPLICA, rel=1e-12)
    assert item.price_source is PriceSource.DEFAULT and not item.unknown
    assert item.replicas == 5
    assert report.currency == "USD"
    assert report.monthly_delta == pytest.approx(4 * FRONTEND_PER_REPLICA, rel=1e-12)


def test_added_and_removed_and_non_costable_changes() -> None:
    added, removed = frontend(), with_replicas(frontend(), 2)
    removed = manifest({**dict(removed.body), "metadata": {"name": "old", "namespace": "default"}})
    cm = manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {}})
    report = estimate_change_costs(
        [change(None, added), change(removed, None), change(None, cm)], [removed], [added, cm], BOOK
    )
    items = {i.key.name: i for i in report.items}
    assert set(items) == {"frontend", "old"}  # the ConfigMap has no cost item
    assert items["frontend"].monthly_before == 0.0
    assert items["frontend"].monthly_after == pytest.approx(FRONTEND_PER_REPLICA)
    assert items["old"].monthly_before == pytest.approx(2 * FRONTEND_PER_REPLICA)
    assert items["old"].monthly_after == 0.0
    assert report.monthly_delta == pytest.approx(-FRONTEND_PER_REPLICA)


def hpa(min_r: int, max_r: int) -> Manifest:
    return manifest({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "frontend", "namespace": "default"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "frontend"},
                 "minReplicas": min_r, "maxReplicas": max_r},
    })


def test_hpa_change_prices_the_unchanged_target_with_worst_case() -> None:
    dep = frontend()
    old, new = hpa(2, 4), hpa(3, 10)
    report = estimate_change_costs([change(old, new, ("spec.maxReplicas", "spec.minReplicas"))],
                                   [dep, old], [dep, new], BOOK)
    (item,) = report.items
    assert item.key == dep.key
    assert item.monthly_before == pytest.approx(2 * FRONTEND_PER_REPLICA)
    assert item.monthly_after == pytest.approx(3 * FRONTEND_PER_REPLICA)
    assert item.monthly_after_max == pytest.approx(10 * FRONTEND_PER_REPLICA)
    assert "HorizontalPodAutoscaler frontend changed" in item.note


def test_unknown_items_are_excluded_from_totals() -> None:
    tf_base = terraform_manifests('resource "aws_instance" "a" {\n  instance_type = "m5.large"\n}\n')
    tf_head = terraform_manifests('resource "aws_instance" "a" {\n  instance_type = "m5.large"\n  count = 3\n}\n')
    dep = frontend()
    changes = [change(tf_base[0], tf_head[0], ("count",)), change(None, dep)]
    report = estimate_change_costs(changes, tf_base, [*tf_head, dep], BOOK)
    items = {i.key.kind: i for i in report.items}
    assert items["aws_instance"].unknown and "no price for m5.large" in items["aws_instance"].note
    assert report.monthly_after == pytest.approx(FRONTEND_PER_REPLICA)  # the unknown instance is left out

    book = merge_pricebooks(BOOK, load_pricebook("instances:\n  m5.large: 0.096\n", "yaml", "b.yaml"))
    priced = estimate_change_costs(changes, tf_base, [*tf_head, dep], book)
    inst = next(i for i in priced.items if i.key.kind == "aws_instance")
    assert not inst.unknown and inst.price_source is PriceSource.PRICEBOOK
    assert inst.monthly_before == pytest.approx(0.096 * H) and inst.monthly_after == pytest.approx(3 * 0.096 * H)


def test_launch_template_change_reprices_its_autoscaling_group() -> None:
    text = """
resource "aws_launch_template" "web" {
  instance_type = "%s"
}
resource "aws_autoscaling_group" "web" {
  desired_capacity = 4
  max_size = 4
  min_size = 4
  launch_template {
    id = aws_launch_template.web.id
  }
}
"""
    base, head = terraform_manifests(text % "m5.large"), terraform_manifests(text % "m5.xlarge")
    book = merge_pricebooks(
        BOOK, load_pricebook("instances:\n  m5.large: 0.096\n  m5.xlarge: 0.192\n", "yaml", "b.yaml")
    )
    report = estimate_change_costs([change(base[0], head[0], ("instance_type",))], base, head, book)
    items = {i.key.kind: i for i in report.items}
    assert items["aws_launch_template"].monthly_after == 0.0  # counted under the group
    asg = items["aws_autoscaling_group"]
    assert asg.monthly_before == pytest.approx(4 * 0.096 * H)
    assert asg.monthly_after == pytest.approx(4 * 0.192 * H)
    assert report.monthly_delta == pytest.approx(4 * 0.096 * H)
