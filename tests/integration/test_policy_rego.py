"""Rego policies evaluated with the real regopy engine (in its worker subprocess)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tollgate.errors import PolicyError
from tollgate.model import ChangeKind, Manifest, ResourceChange, Severity, SourceLocation
from tollgate.policy.rego import (
    POLICY_ERROR_RULE,
    RegoEngine,
    RegoSubject,
    admission_input,
    evaluate_rego,
    parse_module,
)

pytestmark = pytest.mark.integration

CORPUS = (Path(__file__).parents[2] / "../shared/data/corpus").resolve()

PRIVILEGED = textwrap.dedent(
    """\
    package k8s.security

    import rego.v1

    deny contains msg if {
    \tsome c in input.object.spec.template.spec.containers
    \tc.securityContext.privileged
    \tmsg := sprintf("container %s is privileged", [c.name])
    }

    warn contains {"msg": "replicas not set", "severity": "low", "rule_id": "ACME-REPLICAS"} if {
    \tinput.request.kind.kind == "Deployment"
    \tnot input.object.spec.replicas
    }
    """
)

SCALE_DOWN = textwrap.dedent(
    """\
    package k8s.change

    import rego.v1

    deny contains msg if {
    \tinput.request.operation == "UPDATE"
    \tinput.request.object.spec.replicas < input.request.oldObject.spec.replicas
    \tmsg := sprintf("%s scales down from %v to %v", [input.request.name,
    \t\tinput.request.oldObject.spec.replicas, input.request.object.spec.replicas])
    }

    deny contains "deleting a Deployment needs approval" if {
    \tinput.request.operation == "DELETE"
    \tinput.request.object == null
    \tinput.request.oldObject.kind == "Deployment"
    }
    """
)

# A policy that makes rego-cpp abort while compiling (`with` over a rule of another package).
CRASH_LIB = textwrap.dedent(
    """\
    package lib.checks

    import rego.v1

    violations contains msg if {
    \tsome c in input.object.spec.template.spec.containers
    \tc.securityContext.privileged
    \tmsg := sprintf("container %s is privileged", [c.name])
    }
    """
)
CRASH = textwrap.dedent(
    """\
    package crash

    import rego.v1

    deny contains "self-test failed" if {
    \tcount(data.lib.checks.violations) == 1 with input as {"object": {"spec": {"template": {"spec": {
    \t\t"containers": [{"name": "a", "securityContext": {"privileged": true}}]}}}}}
    }
    """
)


def deployment(name: str = "web", *, replicas: int | None = 2, privileged: bool = False,
               annotations: dict[str, str] | None = None) -> Manifest:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations or {}},
        "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "securityContext": {"privileged": privileged}}]}}},
    }
    if replicas is not None:
        body["spec"]["replicas"] = replicas
    return Manifest("apps/v1", "Deployment", name, "shop", body, SourceLocation(f"apps/{name}.yaml", 4), "shop")


def test_deny_and_warn_become_findings() -> None:
    findings = evaluate_rego([("policies/security.rego", PRIVILEGED)],
                             [deployment("ok"), deployment("bad", privileged=True, replicas=None)])
    got = [(f.rule_id, f.severity, f.resource, f.message, f.source) for f in findings]
    assert got == [
        ("k8s.security.deny", Severity.HIGH, "Deployment/shop/bad", "container app is privileged", "rego"),
        ("ACME-REPLICAS", Severity.LOW, "Deployment/shop/bad", "replicas not set", "rego"),
    ]
    assert (findings[0].file, findings[0].line) == ("apps/bad.yaml", 4)


def test_admission_input_carries_operation_and_old_object() -> None:
    old, new = deployment(replicas=5), deployment(replicas=2)
    changes = [
        ResourceChange(new.key, ChangeKind.MODIFIED, old, new, ("spec.replicas",)),
        ResourceChange(old.key, ChangeKind.REMOVED, old, None),
        ResourceChange(new.key, ChangeKind.ADDED, None, new),
    ]
    document = admission_input(RegoSubject.of(changes[1]))
    assert document["request"]["operation"] == "DELETE" and document["request"]["object"] is None
    assert document["object"]["spec"]["replicas"] == 5
    assert document["request"]["kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    messages = [f.message for f in evaluate_rego([("change.rego", SCALE_DOWN)], changes)]
    assert messages == ["web scales down from 5 to 2", "deleting a Deployment needs approval"]


def test_v0_partial_set_syntax_is_understood() -> None:
    v0 = 'package legacy\n\ndeny[msg] {\n  input.object.spec.replicas > 3\n  msg := "too many replicas"\n}\n'
    findings = evaluate_rego([("legacy.rego", v0)], [deployment(replicas=5), deployment("small", replicas=1)])
    assert [(f.rule_id, f.resource, f.message) for f in findings] == [
        ("legacy.deny", "Deployment/shop/web", "too many replicas")]


def test_broken_rego_raises_policy_error_with_file_and_line() -> None:
    broken = "package broken\n\nimport rego.v1\n\ndeny contains msg if {\n  msg := \n}\n"
    with pytest.raises(PolicyError, match=r"^policies/broken\.rego:6: Rego does not parse: .+"):
        evaluate_rego([("policies/security.rego", PRIVILEGED), ("policies/broken.rego", broken)], [deployment()])


def test_broken_rego_is_reported_even_without_resources() -> None:
    with pytest.raises(PolicyError, match=r"^x\.rego:4:"):
        RegoEngine([("x.rego", "package x\nimport rego.v1\n\ndeny contains x if { x = = 1 }\n")]).check()


def test_module_without_package_is_rejected() -> None:
    with pytest.raises(PolicyError, match=r"^p\.rego:1: no 'package'"):
        parse_module("p.rego", "deny contains 1 if true\n")


def test_engine_crash_is_contained_and_reported() -> None:
    modules = [("lib/checks.rego", CRASH_LIB), ("policies/crash.rego", CRASH),
               ("policies/security.rego", PRIVILEGED)]
    findings = evaluate_rego(modules, [deployment(privileged=True)])
    errors = [f for f in findings if f.rule_id == POLICY_ERROR_RULE]
    assert len(errors) == 1
    assert errors[0].resource == "Policy/crash" and errors[0].file == "policies/crash.rego"
    assert errors[0].severity is Severity.HIGH and "crashed (SIG" in errors[0].message
    assert [f.message for f in findings if f.rule_id == "k8s.security.deny"] == ["container app is privileged"]


def test_evaluation_error_in_one_policy_leaves_the_others() -> None:
    conflict = "package conflict\nimport rego.v1\nz := 1 if input.object.kind\nz := 2 if input.object.kind\n" \
               'deny contains "z" if z == 1\n'
    findings = evaluate_rego([("conflict.rego", conflict), ("security.rego", PRIVILEGED)],
                             [deployment(privileged=True)])
    by_rule = {f.rule_id: f for f in findings}
    assert "multiple outputs" in by_rule[POLICY_ERROR_RULE].message
    assert by_rule[POLICY_ERROR_RULE].resource == "Deployment/shop/web"
    assert "k8s.security.deny" in by_rule


def test_suppression_annotation_applies_to_rego_findings() -> None:
    manifest = deployment(privileged=True, annotations={"tollgate.dev/ignore-k8s.security.deny": "CNI agent"})
    (finding,) = [f for f in evaluate_rego([("s.rego", PRIVILEGED)], [manifest]) if f.rule_id.endswith("deny")]
    assert finding.suppressed == "CNI agent"


def test_real_corpus_through_two_workers_matches_one() -> None:
    docs = yaml.safe_load_all((CORPUS / "k8s/microservices-demo/release/kubernetes-manifests.yaml").read_text())
    manifests = [Manifest(d["apiVersion"], d["kind"], d["metadata"]["name"], "", d, SourceLocation("k.yaml"))
                 for d in docs if isinstance(d, dict) and d.get("kind") == "Deployment"]
    batch = manifests * 20  # 240 resources: above the threshold for splitting
    one = RegoEngine([("s.rego", PRIVILEGED)], workers=1).evaluate(batch)
    two = RegoEngine([("s.rego", PRIVILEGED)], workers=2).evaluate(batch)
    assert one == two
    unset = [str(m.key) for m in batch if "replicas" not in m.body["spec"]]
    assert 0 < len(unset) < len(batch)
    assert [f.resource for f in one] == unset and {f.rule_id for f in one} == {"ACME-REPLICAS"}


FAKE_WORKER = textwrap.dedent(
    """\
    import json, os, signal, sys, time
    request = json.load(sys.stdin)
    mode = os.environ.get("FAKE_MODE", "crash")
    state = os.environ["FAKE_STATE"]
    runs = int(open(state).read()) if os.path.exists(state) else 0
    open(state, "w").write(str(runs + 1))
    out = sys.stdout
    def emit(line):
        out.write(line + "\\n"); out.flush()
    emit(json.dumps({"ev": "load", "i": 0}))
    emit(json.dumps({"ev": "compiled"}))
    first = request["first_input"]
    for offset, _ in enumerate(request["inputs"]):
        i = first + offset
        res = {}
        for p in request["policies"]:
            emit("@" + p)
            if p == "a.bad" and i == 1:
                if mode == "hang":
                    time.sleep(30)
                os.kill(os.getpid(), signal.SIGSEGV)
            res[p] = {"d": [f"{p} on {i}"], "w": None}
        emit(json.dumps({"ev": "r", "i": i, "res": res}))
    emit(json.dumps({"ev": "done"}))
    """
)


@pytest.mark.parametrize("mode", ["crash", "hang"])
def test_crash_or_hang_while_querying_is_blamed_on_the_policy_and_the_rest_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    worker = tmp_path / "fake_worker.py"
    worker.write_text(FAKE_WORKER, encoding="utf-8")
    monkeypatch.setenv("FAKE_MODE", mode)
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "runs"))
    modules = [("a.rego", "package a.bad\ndeny contains 1 if true\n"),
               ("b.rego", "package b.good\ndeny contains 1 if true\n")]
    engine = RegoEngine(modules, worker=worker, python=sys.executable, timeout_s=3, workers=1)
    findings = engine.evaluate([deployment("r0"), deployment("r1"), deployment("r2")])
    errors = [f for f in findings if f.rule_id == POLICY_ERROR_RULE]
    assert len(errors) == 1 and errors[0].resource == "Policy/a.bad" and errors[0].file == "a.rego"
    assert "Deployment/shop/r1" in errors[0].message
    assert ("SIGSEGV" if mode == "crash" else "timed out") in errors[0].message
    messages = [f.message for f in findings if f.rule_id != POLICY_ERROR_RULE]
    assert messages == ["a.bad on 0", "b.good on 0", "b.good on 1", "b.good on 2"]
    assert (tmp_path / "runs").read_text() == "2"


def test_bench_rego_reports_a_rate() -> None:
    from tollgate.policy.rego import bench_rego

    rate = bench_rego([("s.rego", PRIVILEGED)], [deployment(f"d{i}") for i in range(100)])
    assert rate > 50  # decisions/s, worker start-up included; measured ~500-1,200 on 2 cores
