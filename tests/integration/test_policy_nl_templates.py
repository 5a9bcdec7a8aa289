"""Every template renders to Rego that regopy accepts and that gets its own generated fixtures right."""

from __future__ import annotations

from typing import Any

import pytest

from tollgate.policy.nl.fixtures import generate, run_fixtures
from tollgate.policy.nl.library import load_library
from tollgate.policy.nl.render import render

pytestmark = pytest.mark.integration

SLOTS: dict[str, dict[str, Any]] = {
    "k8s.required_label": {"key": "cost-center", "kinds": ["Deployment"], "namespaces": ["payments"]},
    "k8s.required_annotation": {"key": "owner", "kinds": ["Deployment", "Service"]},
    "k8s.allowed_registries": {"registries": ["ghcr.io/acme"]},
    "k8s.require_resource_limits": {"resources": ["memory"]},
    "k8s.require_resource_requests": {"resources": ["cpu", "memory"]},
    "k8s.max_container_cpu": {"cpu_millicores": 2000},
    "k8s.max_container_memory": {"memory_bytes": 4 * 2**30},
    "k8s.max_replicas": {"max": 10},
    "k8s.min_replicas": {"min": 3, "environment": "production"},
    "k8s.require_probes": {"probes": ["liveness", "readiness"]},
    "k8s.deny_service_type": {"types": ["LoadBalancer"]},
    "cloud.allowed_instance_types": {"types": ["m5.large"]},
    "cloud.allowed_regions": {"regions": ["us-east-1"]},
    "cost.budget_cap": {"amount": 10000, "currency": "USD", "period": "month", "scope": "namespace:payments"},
    "metrics.cpu_threshold_duration": {"threshold_pct": 80, "duration_s": 300, "action": "rollback"},
    "metrics.memory_threshold_duration": {"threshold_pct": 85.5, "duration_s": 600, "action": "alert"},
    "metrics.error_rate_threshold": {"threshold_pct": 2, "duration_s": 300, "action": "block"},
    "metrics.latency_threshold": {"percentile": "p99", "threshold_ms": 500, "duration_s": 300, "action": "pause"},
    "release.change_freeze_window": {"days": ["fri"], "start": "15:00", "end": "24:00", "environment": "production"},
    "release.require_approvals": {"count": 2, "environment": "production"},
    "release.require_canary": {"environment": "production", "max_step_pct": 20},
    "release.branch_restriction": {"branch": "release/*", "environment": "production"},
    "release.max_deploys_per_day": {"count": 5, "environment": ""},
}
EXTRA = [
    ("release.change_freeze_window", {"days": [], "start": "22:00", "end": "06:00", "environment": "staging"}),
    ("release.change_freeze_window", {"days": [], "start": "2026-12-20", "end": "2027-01-03",
                                      "environment": "production"}),
    ("release.require_canary", {"environment": "production", "max_step_pct": None}),
    ("k8s.min_replicas", {"min": 2, "environment": ""}),
]
CASES = [(tid, SLOTS.get(tid, {})) for tid in load_library()] + EXTRA


@pytest.mark.parametrize(("template_id", "slots"), CASES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)])
def test_template_fixtures_pass(template_id: str, slots: dict[str, Any]) -> None:
    policy = render(template_id, slots)
    cases = generate(policy)
    results = run_fixtures(f"{policy.name}.rego", policy.rego, cases)
    assert any(c["expect"] == "deny" for c in cases) and any(c["expect"] == "allow" for c in cases)
    failed = [(r.name, r.expect, r.got) for r in results if not r.passed]
    assert not failed
    assert all(r.messages for r in results if r.got == "deny")


def test_a_wrong_threshold_is_caught_by_the_boundary_fixtures() -> None:
    policy = render("metrics.cpu_threshold_duration", {"threshold_pct": 80, "duration_s": 300, "action": "block"})
    broken = policy.rego.replace("level > params.threshold_pct", "level >= params.threshold_pct")
    results = run_fixtures("cpu.rego", broken, generate(policy))
    assert [r.name for r in results if not r.passed] == ["at the threshold"]
