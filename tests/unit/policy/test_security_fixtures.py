"""Every fixture of every security rule: *-pass gives no finding of the rule, *-fail at least one."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tollgate.policy.fixtures import expected_outcome, fixtures_root, run_fixtures
from tollgate.policy.rulepack import load_builtin_pack
from tollgate.policy.security import SECURITY_PACK_FILES, load_security_pack
from tollgate.sources.policy_files import read_rule_fixtures

FIXTURES = read_rule_fixtures(fixtures_root())
RESULTS = {r.file: r for r in run_fixtures(FIXTURES)}


@pytest.mark.parametrize("file", [f.file for f in FIXTURES])
def test_fixture_outcome_matches_its_name(file: str) -> None:
    result = RESULTS[file]
    assert result.ok, f"{file}: {result.problem}"
    if result.expected == "pass":
        assert result.findings == ()
    elif result.expected == "fail":
        assert any(f.suppressed is None for f in result.findings)
        assert all(f.rule_id == result.rule_id for f in result.findings)
    else:
        assert result.findings and all(f.suppressed for f in result.findings)


def test_every_security_rule_has_pass_and_fail_fixtures() -> None:
    security = {r.id for r in load_security_pack().rules} - {r.id for r in load_builtin_pack().rules}
    outcomes: dict[str, set[str]] = defaultdict(set)
    for fixture in FIXTURES:
        outcomes[fixture.rule_id].add(str(expected_outcome(fixture.file.rsplit("/", 1)[-1])))
    missing = sorted(r for r in security if not {"pass", "fail"} <= outcomes[r])
    assert not missing, f"rules without a pass and a fail fixture: {missing}"
    assert sum(r.startswith("TG-K8S-") for r in security) >= 25
    assert sum(r.startswith("TG-TF-") for r in security) >= 15


def test_security_packs_keep_existing_ids_and_continue_the_numbering() -> None:
    builtin = load_builtin_pack()
    pack = load_security_pack()
    for rule in builtin.rules:  # untouched by the security packs
        assert pack.get(rule.id) == rule
    assert pack.sources == ("builtin.yaml", *SECURITY_PACK_FILES)
    k8s = sorted(int(r.id.rsplit("-", 1)[1]) for r in pack.rules if r.id.startswith("TG-K8S-"))
    tf = sorted(int(r.id.rsplit("-", 1)[1]) for r in pack.rules if r.id.startswith("TG-TF-"))
    assert k8s == list(range(1, len(k8s) + 1))
    assert tf == list(range(1, len(tf) + 1))
    for rule in pack.rules:
        assert rule.title and rule.remediation, rule.id


def test_runner_reports_a_fixture_whose_name_lies(tmp_path: Path) -> None:
    folder = tmp_path / "TG-K8S-009"
    folder.mkdir()
    doc = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\n"
           "spec:\n  hostNetwork: true\n  containers: [{name: c, image: ghcr.io/a/b:1}]\n")
    (folder / "wrong-pass.yaml").write_text(doc)
    (folder / "right-fail.yaml").write_text(doc)
    (folder / "wrong-suppressed.yaml").write_text(doc)
    (tmp_path / "TG-NOPE-001").mkdir()
    (tmp_path / "TG-NOPE-001" / "x-pass.yaml").write_text(doc)
    (tmp_path / "notes.md").write_text("not a fixture folder")
    (tmp_path / "TG-K8S-009" / "README.md").write_text("not a fixture")
    fixtures = read_rule_fixtures(tmp_path)
    assert {f.file for f in fixtures} == {"TG-K8S-009/wrong-pass.yaml", "TG-K8S-009/right-fail.yaml",
                                          "TG-K8S-009/wrong-suppressed.yaml", "TG-NOPE-001/x-pass.yaml"}
    results = {r.file: r for r in run_fixtures(fixtures)}
    assert results["TG-K8S-009/right-fail.yaml"].ok
    assert not results["TG-K8S-009/wrong-pass.yaml"].ok
    assert "expected no finding, got 1" in results["TG-K8S-009/wrong-pass.yaml"].problem
    assert not results["TG-K8S-009/wrong-suppressed.yaml"].ok
    assert results["TG-NOPE-001/x-pass.yaml"].problem == "no enabled rule TG-NOPE-001 in the pack"


def test_expected_outcome_comes_from_the_file_name() -> None:
    assert expected_outcome("ssh-world-fail.tf") == "fail"
    assert expected_outcome("pass.yaml") == "pass"
    assert expected_outcome("x-suppressed.yml") == "suppressed"
    assert expected_outcome("notes.md") is None
    assert expected_outcome("failing.yaml") is None
