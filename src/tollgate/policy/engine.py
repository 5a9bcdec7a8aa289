"""Evaluate a rule pack against manifests.

:func:`compile_pack` resolves ``$name`` parameters, validates every rule's parameters against its
check's model and builds a kind -> rules dispatch table, once. :func:`evaluate` then runs each
manifest through the rules for its kind only. A "decision" in :func:`bench_builtin` is one resource
evaluated against the whole pack.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tollgate.errors import ConfigError
from tollgate.model import Finding, Manifest, Severity
from tollgate.model.manifests import TERRAFORM_API_VERSION
from tollgate.policy import suppress
from tollgate.policy.checks import CHECKS, Check, CheckParams, CheckSpec, Violation
from tollgate.policy.params import PolicyParams
from tollgate.policy.rulepack import Rule, RulePack, builtin_pack

SOURCE = "builtin"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run: its check function and validated parameters."""

    rule: Rule
    check: Check
    params: CheckParams
    group: str | None  # API group the kind must belong to; None = any


@dataclass(frozen=True, slots=True)
class CompiledPack:
    """Rules by kind, plus the settings evaluation needs."""

    by_kind: Mapping[str, tuple[CompiledRule, ...]]
    annotation_prefix: str
    rule_count: int


def api_group(api_version: str) -> str:
    """The API group of an apiVersion (``apps/v1`` -> ``apps``, ``v1`` -> ``""``, Terraform -> ``terraform``)."""
    if api_version == TERRAFORM_API_VERSION:
        return TERRAFORM_API_VERSION
    group, sep, _ = api_version.partition("/")
    return group if sep else ""


def _resolve(rule: Rule, spec: CheckSpec, params: PolicyParams) -> CheckParams:
    resolved: dict[str, Any] = {}
    for key, value in rule.params.items():
        resolved[key] = params.lookup(value[1:]) if isinstance(value, str) and value.startswith("$") else value
    try:
        return spec.params_model.model_validate(resolved)
    except ValidationError as exc:
        error = exc.errors()[0]
        fld = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"{rule.origin}: rule {rule.id}: field 'params.{fld}': {error['msg']}") from exc


def compile_pack(pack: RulePack, params: PolicyParams | None = None) -> CompiledPack:
    """Prepare ``pack`` for evaluation. Rules that are disabled, or inactive for ``params``, are dropped."""
    params = params or PolicyParams()
    by_kind: dict[str, list[CompiledRule]] = {}
    count = 0
    for rule in pack.enabled_rules:
        spec = CHECKS[rule.check]
        check_params = _resolve(rule, spec, params)
        if not check_params.is_active():
            continue
        count += 1
        for entry in pack.expand_kinds(rule):
            group, _, kind = entry.rpartition("/")
            by_kind.setdefault(kind, []).append(CompiledRule(rule, spec.func, check_params, group or None))
    return CompiledPack(
        by_kind={k: tuple(v) for k, v in by_kind.items()},
        annotation_prefix=params.annotation_prefix,
        rule_count=count,
    )


def _finding(rule: Rule, manifest: Manifest, violation: Violation) -> Finding:
    key = manifest.key
    values = {
        "resource": str(key),
        "kind": key.kind,
        "namespace": key.namespace,
        "name": key.name,
        "container": violation.container or "",
        "value": violation.value,
        "path": violation.path,
        "detail": violation.detail,
        "rule_id": rule.id,
        "title": rule.title,
    }
    return Finding(
        rule_id=rule.id,
        severity=violation.severity or rule.severity,
        resource=values["resource"],
        file=manifest.source.file,
        line=manifest.source.line,
        message=rule.message.format_map(values),
        remediation=rule.remediation.format_map(values),
        source=SOURCE,
    )


def evaluate_one(manifest: Manifest, compiled: CompiledPack) -> list[Finding]:
    """Findings of one manifest (suppressed ones included, marked)."""
    rules = compiled.by_kind.get(manifest.kind)
    if not rules:
        return []
    group: str | None = None
    found: list[Finding] = []
    for entry in rules:
        if entry.group is not None:
            if group is None:
                group = api_group(manifest.api_version)
            if entry.group != group:
                continue
        for violation in entry.check(manifest, entry.params):
            found.append(_finding(entry.rule, manifest, violation))
    marks = suppress.suppressions(manifest, compiled.annotation_prefix)
    if marks:
        found = list(suppress.apply(found, marks))
        found.extend(suppress.empty_reason_findings(manifest, marks, compiled.annotation_prefix))
    return found


def evaluate(
    manifests: Iterable[Manifest],
    pack: RulePack | CompiledPack | None = None,
    params: PolicyParams | None = None,
) -> list[Finding]:
    """Run the rule pack (default: the built-in pack) over ``manifests``; findings in manifest order."""
    compiled = pack if isinstance(pack, CompiledPack) else compile_pack(pack or builtin_pack(), params)
    findings: list[Finding] = []
    for manifest in manifests:
        findings.extend(evaluate_one(manifest, compiled))
    return findings


def count_by_severity(findings: Iterable[Finding]) -> dict[Severity, int]:
    """Unsuppressed findings per severity."""
    counts = dict.fromkeys(Severity, 0)
    for f in findings:
        if f.suppressed is None:
            counts[f.severity] += 1
    return counts


def bench_builtin(
    manifests: Sequence[Manifest],
    pack: RulePack | None = None,
    params: PolicyParams | None = None,
    *,
    min_seconds: float = 0.5,
) -> float:
    """Resources evaluated per second against the whole pack (compiled once, repeated >= ``min_seconds``)."""
    if not manifests:
        raise ValueError("bench_builtin needs at least one manifest")
    compiled = compile_pack(pack or builtin_pack(), params)
    done = 0
    start = time.perf_counter()
    while True:
        for manifest in manifests:
            evaluate_one(manifest, compiled)
        done += len(manifests)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed
