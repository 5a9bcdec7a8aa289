"""The template catalogue (fixed ids and slot names) and rendering to Rego v1."""

from __future__ import annotations

import json

import pytest

from tollgate.errors import InputError
from tollgate.policy.nl.fixtures import GENERATORS
from tollgate.policy.nl.library import load_library
from tollgate.policy.nl.render import lint_v1, render

# reference/ai.md §3.2 (fixed contract): template id -> slot names
CONTRACT = {
    "k8s.required_label": {"key", "kinds", "namespaces"}, "k8s.required_annotation": {"key", "kinds"},
    "k8s.allowed_registries": {"registries"}, "k8s.disallow_latest_tag": set(), "k8s.require_image_digest": set(),
    "k8s.require_resource_limits": {"resources"}, "k8s.require_resource_requests": {"resources"},
    "k8s.max_container_cpu": {"cpu_millicores"}, "k8s.max_container_memory": {"memory_bytes"},
    "k8s.max_replicas": {"max"}, "k8s.min_replicas": {"min", "environment"}, "k8s.deny_privileged": set(),
    "k8s.require_run_as_non_root": set(), "k8s.deny_host_namespaces": set(), "k8s.deny_hostpath_volumes": set(),
    "k8s.read_only_root_fs": set(), "k8s.require_probes": {"probes"}, "k8s.deny_default_namespace": set(),
    "k8s.deny_service_type": {"types"}, "k8s.require_ingress_tls": set(),
    "cloud.allowed_instance_types": {"types"}, "cloud.allowed_regions": {"regions"},
    "cost.budget_cap": {"amount", "currency", "period", "scope"},
    "metrics.cpu_threshold_duration": {"threshold_pct", "duration_s", "action"},
    "metrics.memory_threshold_duration": {"threshold_pct", "duration_s", "action"},
    "metrics.error_rate_threshold": {"threshold_pct", "duration_s", "action"},
    "metrics.latency_threshold": {"percentile", "threshold_ms", "duration_s", "action"},
    "release.change_freeze_window": {"days", "start", "end", "environment"},
    "release.require_approvals": {"count", "environment"}, "release.require_canary": {"environment", "max_step_pct"},
    "release.branch_restriction": {"branch", "environment"}, "release.max_deploys_per_day": {"count", "environment"},
}


def test_catalogue_matches_the_fixed_contract() -> None:
    library = load_library()
    assert len(library) == 32
    assert {tid: {s.name for s in t.slots} for tid, t in library.items()} == CONTRACT
    assert set(GENERATORS) == set(library)
    for template in library.values():
        assert 3 <= len(template.utterances) <= 5 and template.description
        assert "%q" not in template.rego
        for spec in template.slots:
            assert spec.required or spec.name in {s.name for s in template.slots if not s.required}
            if not spec.required:
                json.dumps(spec.default)  # every default is a documented JSON value


def test_render_inlines_parameters_and_is_v1() -> None:
    policy = render("k8s.required_label", {"key": "team", "kinds": ["Deployment"], "namespaces": []})
    assert policy.name == "required_label_team_deployment"
    assert policy.package == "guardrails.required_label_team_deployment"
    assert "import rego.v1" in policy.rego
    params_line = next(line for line in policy.rego.splitlines() if line.startswith("params := "))
    assert json.loads(params_line.removeprefix("params := "))["key"] == "team"


def test_render_refuses_missing_slots_unknown_templates_and_bad_names() -> None:
    with pytest.raises(InputError, match="cpu_millicores"):
        render("k8s.max_container_cpu", {})
    with pytest.raises(InputError, match="unknown"):
        render("k8s.nope", {})
    with pytest.raises(InputError, match="name"):
        render("k8s.deny_privileged", {}, name="Bad-Name")


def test_v1_lint_rejects_v0_rules() -> None:
    with pytest.raises(InputError, match=":3:"):
        lint_v1("package p\nimport rego.v1\ndeny[msg] { msg := 1 }\n", "p.rego")
