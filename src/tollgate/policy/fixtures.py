"""Check rule fixtures: example files whose names say what a rule must report on them.

Fixtures live in one folder per rule, ``<root>/<RULE_ID>/``; the shipped ones are in
``tollgate/policy/fixtures`` (:func:`fixtures_root`). A file's name ends with its expected outcome:

* ``*-pass.yaml`` / ``*-pass.tf`` -- the rule reports nothing;
* ``*-fail.yaml`` / ``*-fail.tf`` -- the rule reports at least one unsuppressed finding;
* ``*-suppressed.yaml`` / ``*-suppressed.tf`` -- the rule reports, and every finding is suppressed.

Reading and parsing the files is I/O and happens in :func:`tollgate.sources.policy_files.read_rule_fixtures`;
this module only evaluates the parsed :class:`~tollgate.model.rule_fixtures.RuleFixture` values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

from tollgate.errors import ConfigError
from tollgate.model import Finding
from tollgate.model.rule_fixtures import Outcome, RuleFixture, expected_outcome
from tollgate.policy.engine import CompiledPack, compile_pack, evaluate
from tollgate.policy.params import PolicyParams
from tollgate.policy.rulepack import RulePack
from tollgate.policy.security import apply_terraform_ignores, load_security_pack, terraform_ignores

__all__ = ["FixtureResult", "check_fixture", "expected_outcome", "fixtures_root", "run_fixtures"]


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
    """The fixtures shipped with tollgate (pass it to ``read_rule_fixtures``)."""
    return resources.files("tollgate.policy").joinpath("fixtures")


def check_fixture(fixture: RuleFixture, compiled: CompiledPack) -> FixtureResult:
    """Evaluate one fixture and compare what its rule reports with the outcome its name announces."""
    expected = fixture.expected
    if expected is None:
        raise ConfigError(f"{fixture.file}: fixture name must end in -pass, -fail or -suppressed")
    manifests = list(fixture.manifests)
    found = evaluate(manifests, compiled)
    if fixture.file.endswith(".tf"):
        found = apply_terraform_ignores(found, manifests, {fixture.file: terraform_ignores(fixture.text)})
    mine = tuple(f for f in found if f.rule_id == fixture.rule_id)
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
    return FixtureResult(fixture.rule_id, fixture.file, expected, mine, not problem, problem)


def run_fixtures(
    fixtures: Iterable[RuleFixture],
    pack: RulePack | None = None,
    params: PolicyParams | None = None,
) -> list[FixtureResult]:
    """Check every fixture against ``pack`` (default: the built-in plus security packs).

    A fixture of a rule the pack does not have (or has disabled) gives a failed result.
    """
    pack = pack or load_security_pack()
    compiled = compile_pack(pack, params)
    known = {rule.id for rule in pack.enabled_rules}
    results: list[FixtureResult] = []
    for fixture in fixtures:
        if fixture.rule_id not in known:
            expected = fixture.expected or "pass"
            problem = f"no enabled rule {fixture.rule_id} in the pack"
            results.append(FixtureResult(fixture.rule_id, fixture.file, expected, (), False, problem))
            continue
        results.append(check_fixture(fixture, compiled))
    return results
