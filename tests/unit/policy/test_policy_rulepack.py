"""Rule packs: the built-in pack, merging extra packs, and errors that name file, line, rule and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from policy_helpers import container, to_manifest, workload

from tollgate.errors import ConfigError
from tollgate.model import Severity
from tollgate.policy.checks import CHECKS
from tollgate.policy.engine import compile_pack, evaluate
from tollgate.policy.rulepack import load_builtin_pack, load_pack_file, load_packs, merge_pack, merge_packs


def test_builtin_pack_has_stable_unique_ids_and_known_checks() -> None:
    pack = load_builtin_pack()
    ids = [r.id for r in pack.rules]
    assert len(ids) == len(set(ids))
    assert {"TG-K8S-001", "TG-K8S-002", "TG-K8S-003", "TG-K8S-004", "TG-K8S-005", "TG-TF-001"} <= set(ids)
    assert all(re.fullmatch(r"TG-(K8S|TF)-\d{3}", i) for i in ids)
    assert all(r.check in CHECKS and r.title and r.remediation for r in pack.rules)
    assert "argoproj.io/Rollout" in pack.expand_kinds(pack.get("TG-K8S-001"))
    assert pack.rules[0].origin.startswith("builtin.yaml:")


def test_extra_pack_overrides_severity_disables_and_adds(tmp_path: Path) -> None:
    extra = tmp_path / "team.yaml"
    extra.write_text(
        """
name: team
rules:
  - id: TG-K8S-004
    severity: low
  - id: TG-K8S-001
    enabled: false
  - id: ACME-K8S-001
    title: Owner label
    severity: high
    kinds: ["@workloads"]
    check: required_labels
    params: {labels: [owner]}
    message: "{kind} {name} has no {value} label"
""",
        encoding="utf-8",
    )
    pack = merge_packs(load_builtin_pack(), load_pack_file(extra))
    assert pack.sources == ("builtin.yaml", str(extra))
    assert pack.get("TG-K8S-004").severity is Severity.LOW
    assert pack.get("TG-K8S-004").origin == f"{extra}:4"  # the "- id: TG-K8S-004" line
    manifest = to_manifest(workload(containers=[container(image="nginx")]))
    found = {(f.rule_id, f.severity) for f in evaluate([manifest], pack)}
    assert found == {("TG-K8S-004", Severity.LOW), ("ACME-K8S-001", Severity.HIGH)}
    assert load_builtin_pack().get("TG-K8S-004").severity is Severity.HIGH  # the cached base is untouched


def test_override_merges_params_key_by_key() -> None:
    text = "rules: [{id: TG-K8S-002, params: {containers: [containers, initContainers]}}]"
    pack = merge_pack(load_builtin_pack(), text, source="p.yaml")
    assert pack.get("TG-K8S-002").params == {
        "field": "requests", "resources": ["cpu", "memory"], "containers": ["containers", "initContainers"]}
    init = workload(labels={"cost-center": "x"}, containers=[container()],
                    initContainers=[container("init", requests=False)])
    assert [f.message for f in evaluate([to_manifest(init)], pack)] == [
        "container 'init' of Deployment web has no cpu, memory request"]


def test_packs_apply_in_order() -> None:
    pack = load_packs([("a.yaml", "rules: [{id: TG-K8S-003, severity: info}]"),
                       ("b.yaml", "rules: [{id: TG-K8S-003, severity: critical}]")])
    assert pack.get("TG-K8S-003").severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("rules:\n  - id: TG-K8S-001\n    severity: severe\n",
         r"^bad\.yaml:2: rule TG-K8S-001: field 'severity': Input should be"),
        ("rules:\n  - id: TG-K8S-001\n  - id: lower-case\n    severity: low\n",
         r"^bad\.yaml:3: rule lower-case: field 'id'"),
        ("rules:\n  - id: TG-K8S-001\n    colour: red\n",
         r"^bad\.yaml:2: rule TG-K8S-001: field 'colour': Extra inputs"),
        ("rules:\n  - id: NEW-1\n    title: t\n    severity: low\n",
         r"^bad\.yaml:2: rule NEW-1: field 'kinds': required for a new rule \(missing: kinds, check, message\)"),
        ("rules:\n  - id: TG-K8S-001\n    check: no_such_check\n",
         r"^bad\.yaml:2: rule TG-K8S-001: field 'check': unknown check 'no_such_check' \(known: .*privileged"),
        ("rules:\n  - id: TG-K8S-001\n    params: {colour: red}\n",
         r"^bad\.yaml:2: rule TG-K8S-001: field 'params\.colour': check 'required_labels' has no parameter"),
        ("rules:\n  - id: TG-K8S-001\n    params: {labels: $nope}\n",
         r"^bad\.yaml:2: rule TG-K8S-001: field 'params\.labels': unknown reference '\$nope'"),
        ("rules:\n  - id: TG-K8S-001\n    message: 'missing {labell}'\n",
         r"^bad\.yaml:2: rule TG-K8S-001: field 'message': unknown placeholder\(s\) \['labell'\]"),
        ("rules:\n  - id: TG-K8S-001\n    kinds: ['@jobs']\n",
         r"^bad\.yaml:2: rule TG-K8S-001: field 'kinds': unknown kind group '@jobs'"),
        ("rules:\n  - id: TG-K8S-001\n    severity: low\n  - id: TG-K8S-001\n    severity: high\n",
         r"^bad\.yaml:4: rule TG-K8S-001: field 'id': defined twice"),
        ("rules: [\n  {id: x\n", r"^bad\.yaml:\d+: rule pack is not valid YAML"),
        ("- just\n- a list\n", r"^bad\.yaml: a rule pack must be a mapping"),
    ],
)
def test_bad_packs_name_file_line_rule_and_field(text: str, pattern: str) -> None:
    with pytest.raises(ConfigError) as caught:
        merge_pack(load_builtin_pack(), text, source="bad.yaml")
    assert re.search(pattern, str(caught.value)), str(caught.value)


def test_parameter_values_are_validated_when_compiled() -> None:
    pack = merge_pack(load_builtin_pack(), "rules:\n  - id: TG-K8S-002\n    params: {field: bogus}\n",
                      source="p.yaml")
    with pytest.raises(ConfigError, match=r"p\.yaml:2: rule TG-K8S-002: field 'params\.field'"):
        compile_pack(pack)


def test_missing_pack_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read rule pack"):
        load_pack_file(tmp_path / "absent.yaml")
