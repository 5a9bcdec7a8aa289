"""Run rule fixtures: example files whose names say what a rule must report on them.

Fixtures live in one folder per rule, ``<root>/<RULE_ID>/``; the shipped ones are in
``tollgate/policy/fixtures``. A file's name ends with its expected outcome:

* ``*-pass.yaml`` / ``*-pass.tf`` -- the rule reports nothing;
* ``*-fail.yaml`` / ``*-fail.tf`` -- the rule reports at least one unsuppressed finding;
* ``*-suppressed.yaml`` / ``*-suppressed.tf`` -- the rule reports, and every finding is suppressed.

YAML fixtures hold Kubernetes objects (several documents allowed), ``.tf`` fixtures Terraform
resources; both are loaded with the same parsers ``tollgate scan`` uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Literal

from tollgate.errors import ConfigError
from tollgate.model import Finding, Manifest
from tollgate.policy.engine import CompiledPack, compile_pack, evaluate
from tollgate.policy.params import PolicyParams
from tollgate.policy.rulepack import RulePack
from tollgate.policy.security import apply_terraform_ignores, load_security_pack, terraform_ignores

Outcome = Literal["pass", "fail", "suppressed"]
_OUTCOMES: tuple[Outcome, ...] = ("pass", "fail", "suppressed")
_SUFFIXES = (".yaml", ".yml", ".tf")


@dataclass(frozen=True, slots=True)
class FixtureResult:
    """The outcome of one fixture file for its rule. ``problem`` says why it is not ``ok``."""

    rule_id: str
    file: str
    expected: Outcome
    findings: tuple[Finding, ...]
    ok: bool
    problem: str = ""


def fixtures_root() -> Traversable:
    """The fixtures shipped with tollgate."""
    return resources.files("tollgate.policy").joinpath("fixtures")


def expected_outcome(name: str) -> Outcome | None:
    """The outcome a fixture file name announces (``x-fail.tf`` -> ``fail``), or ``None``."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            for outcome in _OUTCOMES:
                if stem.endswith(f"-{outcome}") or stem == outcome:
                    return outcome
    return None


def iter_fixtures(root: Traversable | Path | None = None) -> Iterator[tuple[str, str, Traversable | Path]]:
    """``(rule_id, relative file name, file)`` of every fixture below ``root``, sorted."""
    base = root if root is not None else fixtures_root()
    if not base.is_dir():
        raise ConfigError(f"{base}: fixtures directory does not exist")
    for folder in sorted(base.iterdir(), key=lambda p: p.name):
        if not folder.is_dir():
            continue
        for item in sorted(folder.iterdir(), key=lambda p: p.name):
            if item.is_file() and expected_outcome(item.name) is not None:
                yield folder.name, f"{folder.name}/{item.name}", item


def load_fixture(text: str, file: str) -> list[Manifest]:
    """The objects of one fixture file (Kubernetes YAML or Terraform); ParseError on broken input."""
    from tollgate.sources.renderers import TerraformRenderer, object_to_manifest
    from tollgate.sources.yamldocs import parse_documents

    if file.endswith(".tf"):
        return TerraformRenderer.parse_file(text, file)
    out: list[Manifest] = []
    for doc in parse_documents(text, file):
        found = object_to_manifest(doc.data, file, doc.line)
        if isinstance(found, Manifest):
            out.append(found)
    return out


def check_fixture(rule_id: str, file: str, text: str, compiled: CompiledPack) -> FixtureResult:
    """Evaluate one fixture and compare what ``rule_id`` reports with the outcome its name announces."""
    expected = expected_outcome(file.rsplit("/", 1)[-1])
    if expected is None:
        raise ConfigError(f"{file}: fixture name must end in -pass, -fail or -suppressed")
    manifests = load_fixture(text, file)
    found = evaluate(manifests, compiled)
    if file.endswith(".tf"):
        found = apply_terraform_ignores(found, manifests, {file: terraform_ignores(text)})
    mine = tuple(f for f in found if f.rule_id == rule_id)
    active = [f for f in mine if f.suppressed is None]
    problem = ""
    if not manifests:
        problem = "holds no Kubernetes object or Terraform resource"
    elif expected == "pass" and mine:
        problem = f"expected no finding, got {len(mine)}: {mine[0].message}"
    elif expected == "fail" and not active:
        problem = "expected a finding, got none" if not mine else "expected an unsuppressed finding"
    elif expected == "suppressed" and (not mine or active):
        problem = "expected only suppressed findings" if mine else "expected a suppressed finding, got none"
    return FixtureResult(rule_id, file, expected, mine, not problem, problem)


def run_fixtures(
    pack: RulePack | None = None,
    root: Traversable | Path | None = None,
    params: PolicyParams | None = None,
) -> list[FixtureResult]:
    """Check every fixture below ``root`` (default: the shipped ones) against ``pack``.

    ``pack`` defaults to the built-in plus security packs. A folder named after a rule the pack does
    not have gives a failed result.
    """
    pack = pack or load_security_pack()
    compiled = compile_pack(pack, params)
    known = {rule.id for rule in pack.enabled_rules}
    results: list[FixtureResult] = []
    for rule_id, file, item in iter_fixtures(root):
        expected = expected_outcome(file.rsplit("/", 1)[-1]) or "pass"
        if rule_id not in known:
            results.append(FixtureResult(rule_id, file, expected, (), False, f"no enabled rule {rule_id} in the pack"))
            continue
        results.append(check_fixture(rule_id, file, item.read_text(encoding="utf-8"), compiled))
    return results
