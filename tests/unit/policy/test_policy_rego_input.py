"""Pure parts of the Rego integration: module scanning and the admission-style input document."""

from __future__ import annotations

from tollgate.model import ChangeKind, Manifest, ResourceChange, SourceLocation
from tollgate.model.manifests import TERRAFORM_API_VERSION
from tollgate.policy.rego import RegoEngine, RegoSubject, admission_input, parse_module


def test_module_scan_finds_package_and_rule_heads() -> None:
    text = ("# deny contains x if { comment }\npackage acme.k8s.labels\n\nimport rego.v1\n\n"
            "deny contains msg if { true; msg := \"a\" }\nwarn[msg] { msg := \"b\" }\nhelper := 1\n")
    module = parse_module("p/labels.rego", text)
    assert (module.package, module.rules) == ("acme.k8s.labels", frozenset({"deny", "warn"}))
    assert parse_module("lib.rego", "package lib.util\n\nis_x(v) if v == 1\n").rules == frozenset()


def test_only_packages_with_deny_or_warn_are_policies() -> None:
    engine = RegoEngine([("lib.rego", "package lib\nf := 1\n"),
                         ("a.rego", "package a\ndeny contains 1 if true\n"),
                         ("a2.rego", "package a\nhelper := 2\n"),
                         ("b.rego", "package b\nwarn contains 2 if true\n")])
    assert engine.policies == {"a": "a.rego", "b": "b.rego"}


def test_input_for_core_group_and_terraform() -> None:
    cm = Manifest("v1", "ConfigMap", "cfg", "shop", {"kind": "ConfigMap", "data": {"k": "v"}}, SourceLocation("c.yaml"))
    document = admission_input(RegoSubject(cm))
    assert document["request"]["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert document["request"]["operation"] == "CREATE" and document["request"]["oldObject"] is None
    assert document["object"] == document["request"]["object"] == {"kind": "ConfigMap", "data": {"k": "v"}}
    vm = Manifest(TERRAFORM_API_VERSION, "aws_instance", "web", "", {"instance_type": "t3.micro"},
                  SourceLocation("main.tf"))
    change = ResourceChange(vm.key, ChangeKind.MODIFIED, vm, vm, ("instance_type",))
    tf = admission_input(RegoSubject.of(change))
    assert tf["request"]["kind"] == {"group": "terraform", "version": "", "kind": "aws_instance"}
    assert tf["request"]["operation"] == "UPDATE" and tf["request"]["oldObject"] == {"instance_type": "t3.micro"}
