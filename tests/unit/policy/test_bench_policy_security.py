"""``tollgate bench policy`` reports the full security packs beside the built-in pack."""

from __future__ import annotations

import json

from tollgate.cli.bench import bench_policy


def test_bench_policy_reports_security_pack_throughput() -> None:
    data = json.loads(bench_policy(resources=40, rego_resources=5, fmt="json"))
    assert data["security_packs_rules"] > data["builtin_rules"] >= 1
    assert data["security_packs_resources_per_s"] > 0 and data["builtin_resources_per_s"] > 0
    table = bench_policy(resources=40, rego_resources=5, fmt="table")
    assert f"({data['security_packs_rules']} rules: built-in + Kubernetes + Terraform packs)" in table
