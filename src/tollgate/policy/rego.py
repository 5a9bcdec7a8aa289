"""Rego policies evaluated with regopy (rego-cpp), one subprocess per batch.

**Input document.** Each changed resource is evaluated with this ``input``, shaped like a Kubernetes
``AdmissionReview`` request so Gatekeeper-style policies read naturally::

    {
      "request": {
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "operation": "CREATE" | "UPDATE" | "DELETE",
        "name": "web", "namespace": "shop",
        "object": {...manifest...} | null,      # null for DELETE, as in Kubernetes
        "oldObject": {...manifest...} | null    # the base version for UPDATE and DELETE
      },
      "object": {...manifest...}                # convenience: head version, or base for DELETE
    }

Terraform resources use group ``terraform`` and an empty version.

**Output convention.** A policy is a package defining ``deny`` and/or ``warn`` (sets or lists; v0
``deny[msg] {...}`` works too). Each element is a message string or an object
``{"msg": ..., "severity": ..., "rule_id": ...}``. Each becomes a :class:`~tollgate.model.Finding`
with ``source="rego"``, ``rule_id`` = ``<package>.deny|warn`` unless given, and severity high for
deny, medium for warn unless given. Suppression annotations work as for built-in rules.

**Failures.** A module that does not parse raises :class:`~tollgate.errors.PolicyError` naming the
file and line. An evaluation error, a crash of the native engine or a timeout in one policy is
reported as a :data:`POLICY_ERROR_RULE` finding (severity high) and the other policies still run:
the worker is restarted without the failing policy. rego-cpp can crash (SIGSEGV) on valid input,
and it prints diagnostics on stdout, so it never runs in this process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tollgate.errors import DependencyError, PolicyError
from tollgate.model import ChangeKind, Finding, Manifest, ResourceChange, Severity
from tollgate.model.manifests import TERRAFORM_API_VERSION
from tollgate.policy import suppress

SOURCE = "rego"
#: Rule id of findings that report a policy which could not be evaluated.
POLICY_ERROR_RULE = "TG-POLICY-ERR"
DEFAULT_SEVERITY = {"deny": Severity.HIGH, "warn": Severity.MEDIUM}
_WORKER = Path(__file__).with_name("_rego_worker.py")
#: Batches at least this large are split over several worker processes.
PARALLEL_MIN = 200
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_RULE_HEAD = re.compile(r"^\s*(deny|warn)\b\s*(?:contains\b|\[|:?=|if\b|\{)", re.MULTILINE)
_OPERATIONS = {ChangeKind.ADDED: "CREATE", ChangeKind.MODIFIED: "UPDATE", ChangeKind.REMOVED: "DELETE"}


@dataclass(frozen=True, slots=True)
class RegoModule:
    """One ``.rego`` file: its path, source, package and which of deny/warn it defines."""

    path: str
    text: str
    package: str
    rules: frozenset[str]


@dataclass(frozen=True, slots=True)
class RegoSubject:
    """What one evaluation looks at: the resource, the operation and (for updates) the old version."""

    manifest: Manifest
    operation: str = "CREATE"
    old: Manifest | None = None

    @classmethod
    def of(cls, item: Manifest | ResourceChange) -> RegoSubject:
        if isinstance(item, Manifest):
            return cls(item)
        return cls(item.current, _OPERATIONS[item.change], item.before)


def parse_module(path: str, text: str) -> RegoModule:
    """Read the package and the deny/warn rule heads of a module (the syntax is checked later)."""
    match = _PACKAGE.search(text)
    if match is None:
        raise PolicyError(f"{path}:1: no 'package' declaration")
    rules = frozenset(m.group(1) for m in _RULE_HEAD.finditer(text))
    return RegoModule(path=path, text=text, package=match.group(1), rules=rules)


def admission_input(subject: RegoSubject) -> dict[str, Any]:
    """The ``input`` document for one subject (see the module docstring)."""
    manifest = subject.manifest
    if manifest.api_version == TERRAFORM_API_VERSION:
        group, version = TERRAFORM_API_VERSION, ""
    else:
        group, sep, version = manifest.api_version.rpartition("/")
        if not sep:
            group, version = "", manifest.api_version
    body = dict(manifest.body)
    old = dict(subject.old.body) if subject.old is not None else None
    return {
        "request": {
            "kind": {"group": group, "version": version, "kind": manifest.kind},
            "operation": subject.operation,
            "name": manifest.name,
            "namespace": manifest.namespace,
            "object": None if subject.operation == "DELETE" else body,
            "oldObject": old,
        },
        "object": body,
    }


def _parse_error(module: RegoModule, raw: str) -> PolicyError:
    """A PolicyError naming file and line from regopy's error tree (``(error N:<file>|<offset>|<len>``)."""
    line: int | None = None
    message = raw.strip()
    found = re.search(r"\(error (\d+):", raw)
    if found:
        start = found.end()
        rest = raw[start + int(found.group(1)) :]
        offset = re.match(r"\|(\d+)\|", rest)
        if offset:
            line = module.text[: int(offset.group(1))].count("\n") + 1
    msg = re.search(r"\(errormsg (\d+):", raw)
    if msg:
        message = raw[msg.end() : msg.end() + int(msg.group(1))]
    where = f"{module.path}:{line}" if line is not None else module.path
    return PolicyError(f"{where}: Rego does not parse: {message}")


def _items(value: object) -> Iterator[object]:
    """Elements of a deny/warn value: a set/list, a v0 partial set (object of ``msg: true``), or one value."""
    if value is None or value is False:
        return
    if isinstance(value, list):
        yield from value
    elif isinstance(value, dict) and not ({"msg", "message"} & value.keys()):
        yield from (k for k, v in value.items() if v)
    elif value is True:
        yield "denied"
    else:
        yield value


def _severity(raw: object, default: Severity) -> Severity:
    if isinstance(raw, str):
        try:
            return Severity(raw.strip().lower())
        except ValueError:
            return default
    return default


@dataclass(slots=True)
class _Batch:
    """What one worker run reported, and where it stopped if it died."""

    results: dict[int, dict[str, Any]] = field(default_factory=dict)  # input index -> package -> entry
    policy_errors: dict[str, str] = field(default_factory=dict)
    parse_error: tuple[int, str] | None = None
    loading: int | None = None  # module being parsed when the worker died
    compiling: str | None = None  # policy being compiled when the worker died
    querying: str | None = None  # policy being queried when the worker died
    next_input: int = 0  # first input without a result
    failure: str | None = None  # why the worker died


class RegoEngine:
    """Evaluates a set of Rego modules against resources; see the module docstring.

    ``modules`` are ``(path, text)`` pairs (paths appear in errors and findings). ``timeout_s`` bounds
    one worker run; a policy running when it expires is reported like a crash. ``workers`` processes
    share batches of :data:`PARALLEL_MIN` items or more. ``python`` and ``worker`` choose the
    interpreter and the worker script (tests substitute a fake worker).
    """

    def __init__(
        self,
        modules: Iterable[tuple[str, str]],
        *,
        annotation_prefix: str = "tollgate.dev",
        timeout_s: float = 120.0,
        workers: int | None = None,
        python: str | None = None,
        worker: Path = _WORKER,
    ) -> None:
        self.modules = tuple(parse_module(path, text) for path, text in modules)
        self.annotation_prefix = annotation_prefix
        self.timeout_s = timeout_s
        #: worker processes for large batches (default: up to 2, one per CPU)
        self.workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        self.python = python or sys.executable
        self.worker = worker
        files: dict[str, str] = {}
        for module in self.modules:
            if module.rules:
                files.setdefault(module.package, module.path)
        #: package -> file of its first module that defines deny/warn
        self.policies: dict[str, str] = files

    def _run(self, inputs: list[dict[str, Any]], first: int, policies: list[str], skip: set[int]) -> _Batch:
        """One worker run over ``inputs`` (whose first element has index ``first``)."""
        request = {
            "modules": [{"path": m.path, "text": m.text, "package": m.package} for m in self.modules],
            "skip_modules": sorted(skip),
            "policies": policies,
            "policy_packages": sorted(self.policies),
            "inputs": inputs,
            "first_input": first,
        }
        payload = json.dumps(request, default=str).encode()
        try:
            proc = subprocess.Popen(
                [self.python, str(self.worker)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise DependencyError(f"cannot start the Rego worker ({self.python}): {exc}") from exc
        batch = _Batch(next_input=first)
        try:
            out, err = proc.communicate(payload, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            batch.failure = f"timed out after {self.timeout_s:g} s"
        done = False
        for line in out.decode("utf-8", "replace").splitlines():
            if line.startswith("@"):
                batch.querying = line[1:]
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            kind = event.get("ev")
            if kind == "r":
                batch.results[event["i"]] = event["res"]
                batch.next_input = event["i"] + 1
                batch.querying = None
            elif kind == "load":
                batch.loading = event["i"]
            elif kind == "parse_error":
                batch.parse_error = (event["i"], event["error"])
            elif kind == "compile":
                batch.loading, batch.compiling = None, event["p"]
            elif kind == "policy_error":
                batch.policy_errors[event["p"]] = event["error"]
            elif kind == "compiled":
                batch.loading = batch.compiling = None
            elif kind == "done":
                done = True
        if batch.failure is None and not done and batch.parse_error is None:
            code = proc.returncode
            if code is not None and code < 0:
                try:
                    batch.failure = f"the Rego engine crashed ({signal.Signals(-code).name})"
                except ValueError:
                    batch.failure = f"the Rego engine crashed (signal {-code})"
            else:
                tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
                batch.failure = f"the Rego worker exited with status {code}: {tail[0]}"
        if batch.failure is not None and not (batch.loading is not None or batch.compiling or batch.querying):
            raise DependencyError(f"the Rego worker failed before evaluating anything: {batch.failure}")
        return batch

    def _policy_error(self, package: str, reason: str, manifest: Manifest | None = None) -> Finding:
        file = self.policies.get(package, "")
        if manifest is not None:
            return Finding(
                rule_id=POLICY_ERROR_RULE,
                severity=Severity.HIGH,
                resource=str(manifest.key),
                file=manifest.source.file,
                line=manifest.source.line,
                message=f"Rego policy {package} ({file}) failed on this resource: {reason}",
                remediation="Fix the policy so it evaluates; until then its rules are not enforced.",
                source=SOURCE,
            )
        return Finding(
            rule_id=POLICY_ERROR_RULE,
            severity=Severity.HIGH,
            resource=f"Policy/{package}",
            file=file,
            line=None,
            message=f"Rego policy {package} could not be evaluated: {reason}; its rules were not applied",
            remediation="Fix or simplify the policy; until then its rules are not enforced.",
            source=SOURCE,
        )

    def _findings(self, package: str, subject: RegoSubject, value: Mapping[str, Any]) -> Iterator[Finding]:
        manifest = subject.manifest
        for rule in ("deny", "warn"):
            for item in _items(value.get(rule)):
                rule_id = f"{package}.{rule}"
                severity = DEFAULT_SEVERITY[rule]
                remediation = ""
                if isinstance(item, dict):
                    message = str(item.get("msg", item.get("message", json.dumps(item, sort_keys=True))))
                    rule_id = str(item.get("rule_id") or item.get("id") or rule_id)
                    severity = _severity(item.get("severity"), severity)
                    remediation = str(item.get("remediation", ""))
                else:
                    message = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
                yield Finding(
                    rule_id=rule_id,
                    severity=severity,
                    resource=str(manifest.key),
                    file=manifest.source.file,
                    line=manifest.source.line,
                    message=message,
                    remediation=remediation,
                    source=SOURCE,
                )

    def check(self) -> None:
        """Load every module in the worker; raise :class:`PolicyError` if one does not parse."""
        self.evaluate(())

    def _evaluate_range(
        self, inputs: list[dict[str, Any]], subjects: list[RegoSubject], lo: int, hi: int
    ) -> tuple[dict[int, dict[str, Any]], list[Finding]]:
        """Results for inputs ``lo..hi`` and findings about policies that failed, restarting on crashes."""
        policies = sorted(self.policies)
        skip: set[int] = set()
        results: dict[int, dict[str, Any]] = {}
        errors: list[Finding] = []
        first = lo
        for _ in range(len(self.modules) + len(policies) + 1):
            batch = self._run(inputs[first:hi], first, policies, skip)
            if batch.parse_error is not None:
                index, raw = batch.parse_error
                raise _parse_error(self.modules[index], raw)
            results.update(batch.results)
            for package, reason in batch.policy_errors.items():
                errors.append(self._policy_error(package, reason))
            policies = [p for p in policies if p not in batch.policy_errors]
            if batch.failure is None:
                break
            if batch.loading is not None:
                module = self.modules[batch.loading]
                skip.add(batch.loading)
                errors.append(
                    Finding(
                        rule_id=POLICY_ERROR_RULE,
                        severity=Severity.HIGH,
                        resource=f"Policy/{module.package}",
                        file=module.path,
                        line=None,
                        message=f"Rego module {module.path} could not be loaded: {batch.failure}",
                        source=SOURCE,
                    )
                )
                policies = [p for p in policies if p != module.package]
            elif batch.compiling is not None:
                errors.append(self._policy_error(batch.compiling, batch.failure))
                policies = [p for p in policies if p != batch.compiling]
            elif batch.querying is not None:
                where = str(subjects[batch.next_input].manifest.key)
                reason = f"{batch.failure} on {where}; it was not applied to that resource or later ones"
                errors.append(self._policy_error(batch.querying, reason))
                policies = [p for p in policies if p != batch.querying]
                first = batch.next_input
            if not policies or first >= hi:
                break
        return results, errors

    def evaluate(self, items: Sequence[Manifest | ResourceChange | RegoSubject]) -> list[Finding]:
        """Findings of every policy on every item, ordered by item, then policy, then deny/warn.

        Findings about policies that could not run (:data:`POLICY_ERROR_RULE`) come first. Batches of
        at least :data:`PARALLEL_MIN` items are split over :attr:`workers` processes.
        """
        if not self.modules:
            return []
        subjects = [i if isinstance(i, RegoSubject) else RegoSubject.of(i) for i in items]
        inputs = [admission_input(s) for s in subjects]
        parts = self.workers if len(inputs) >= PARALLEL_MIN else 1
        size = -(-len(inputs) // parts) if inputs else 0
        ranges = [(lo, min(lo + size, len(inputs))) for lo in range(0, len(inputs), size)] if size else [(0, 0)]
        if len(ranges) == 1:
            outcomes = [self._evaluate_range(inputs, subjects, *ranges[0])]
        else:
            with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
                outcomes = list(pool.map(lambda r: self._evaluate_range(inputs, subjects, *r), ranges))
        results: dict[int, dict[str, Any]] = {}
        errors: dict[tuple[str, str, str], Finding] = {}
        for part_results, part_errors in outcomes:
            results.update(part_results)
            for error in part_errors:
                errors.setdefault((error.resource, error.file, error.message), error)
        findings: list[Finding] = list(errors.values())
        for position, subject in enumerate(subjects):
            found: list[Finding] = []
            by_policy = results.get(position, {})
            for package in sorted(by_policy):
                entry = by_policy[package]
                if entry is None:
                    continue
                if "e" in entry:
                    found.append(self._policy_error(package, entry["e"], subject.manifest))
                else:
                    found.extend(self._findings(package, subject, {"deny": entry["d"], "warn": entry["w"]}))
            marks = suppress.suppressions(subject.manifest, self.annotation_prefix)
            findings.extend(suppress.apply(found, marks) if marks else found)
        return findings


def evaluate_rego(
    modules: Iterable[tuple[str, str]],
    items: Sequence[Manifest | ResourceChange | RegoSubject],
    *,
    annotation_prefix: str = "tollgate.dev",
    timeout_s: float = 120.0,
) -> list[Finding]:
    """Evaluate ``(path, text)`` Rego modules against resources or changes (see :class:`RegoEngine`)."""
    engine = RegoEngine(modules, annotation_prefix=annotation_prefix, timeout_s=timeout_s)
    return engine.evaluate(items)


def bench_rego(modules: Iterable[tuple[str, str]], manifests: Sequence[Manifest]) -> float:
    """Policy decisions per second (one policy on one resource), including the worker's start-up."""
    engine = RegoEngine(modules)
    if not engine.policies or not manifests:
        raise ValueError("bench_rego needs at least one policy and one manifest")
    start = time.perf_counter()
    engine.evaluate(manifests)
    return len(engine.policies) * len(manifests) / (time.perf_counter() - start)
