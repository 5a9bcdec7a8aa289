"""`policy new|test|parse` end to end: write policies into a real Git repo, test them, enforce them in review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from gitutil import commit_files as commit
from gitutil import git

from tollgate.cli.main import main
from tollgate.cli.policy_cmd import policy_app
from tollgate.errors import TollgateError
from tollgate.policy.nl.fixtures import run_fixtures
from tollgate.policy.rego import parse_module

pytestmark = pytest.mark.integration

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {labels}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata: {{labels: {{app: api}}}}
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.0
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 200m, memory: 256Mi}}
"""


def policy(args: list[str]) -> int:
    """Run ``tollgate policy ...`` with the CLI's exit-code mapping for tollgate errors."""
    app = typer.Typer()
    app.add_typer(policy_app, name="policy")
    try:
        rc = app(args=["policy", *args], prog_name="tollgate", standalone_mode=False)
    except TollgateError as exc:
        return exc.exit_code
    return rc if isinstance(rc, int) else 0


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(root, {"apps/api/production/api.yaml": DEPLOY.format(labels="{team: api}", replicas=2)}, "base")
    return root


REQUESTS = {
    "Every deployment must have a cost-center label": "k8s.required_label",
    "No deployment may run more than 5 replicas": "k8s.max_replicas",
    "Roll back if the error rate stays above 2% for 5 minutes": "metrics.error_rate_threshold",
    "No production deploys on Fridays after 3pm": "release.change_freeze_window",
    "Keep monthly spend under $10,000": "cost.budget_cap",
}


def test_policy_new_writes_rego_and_fixtures_that_pass(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policies = repo / "policies"
    for text, template in REQUESTS.items():
        assert policy(["new", text, "--dir", str(policies)]) == 0
        assert template in capsys.readouterr().out
    regos = sorted(policies.glob("*.rego"))
    assert len(regos) == len(REQUESTS)
    for path in regos:
        module = parse_module(str(path), path.read_text())
        assert module.package.startswith("guardrails.") and "deny" in module.rules
        document = json.loads(path.with_name(path.stem + ".fixtures.json").read_text())
        assert document["template"] in REQUESTS.values()
        results = run_fixtures(str(path), path.read_text(), document["cases"])
        assert {r.expect for r in results} == {"deny", "allow"} and all(r.passed for r in results)
    assert policy(["test", str(policies)]) == 0
    assert f"in {len(REQUESTS)} policies" in capsys.readouterr().out
    # the same name again is refused unless forced
    assert policy(["new", "No deployment may run more than 5 replicas", "--dir", str(policies)]) == 2


def test_policy_test_fails_on_a_tampered_policy(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policies = repo / "policies"
    assert policy(["new", "No deployment may run more than 5 replicas", "--dir", str(policies),
                   "--name", "replicas_cap"]) == 0
    rego = policies / "replicas_cap.rego"
    rego.write_text(rego.read_text().replace('"max": 5', '"max": 50'))
    capsys.readouterr()
    assert policy(["test", str(policies)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "max + 1: expected deny, got allow" in out


def test_policy_new_refuses_questions_and_out_of_scope(repo: Path) -> None:
    policies = repo / "policies"
    assert policy(["new", "roll back when CPU is above 80%", "--dir", str(policies)]) == 2
    assert policy(["new", "order a pizza for the team", "--dir", str(policies)]) == 2
    assert not policies.exists()


def test_policy_parse_json_single_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert policy(["parse", "containers need a team label", "--json"]) == 0
    frame: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert frame["template"] == "k8s.required_label" and frame["slots"]["key"] == "team"
    assert frame["question"] is None and 0 < frame["confidence"] <= 1
    requests = tmp_path / "requests.txt"
    requests.write_text("no privileged containers\n\nwhat time is it in Tokyo?\n")
    assert policy(["parse", "--input", str(requests), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [x["template"] for x in lines] == ["k8s.deny_privileged", None]
    requests.write_text("no privileged containers\n" + "x" * 2001 + "\n")
    assert policy(["parse", "--input", str(requests), "--json"]) == 2


def test_new_policy_is_enforced_by_review_on_a_later_commit(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert policy(["new", "Every deployment must have a cost-center label", "--dir", str(repo / "policies")]) == 0
    commit(repo, {}, "add guardrail")
    commit(repo, {"apps/api/production/api.yaml": DEPLOY.format(labels="{team: api}", replicas=3)}, "scale up")
    capsys.readouterr()
    rc = main(["review", "--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD", "--format", "json",
               "--no-record"])
    data = json.loads(capsys.readouterr().out)
    hits = [f for f in data["findings"] if f["rule_id"].startswith("guardrails.required_label")]
    assert hits and "lacks required label cost-center" in hits[0]["message"]
    assert rc == 1 and data["decision"]["verdict"] == "block"
    commit(repo, {"apps/api/production/api.yaml": DEPLOY.format(labels="{team: api, cost-center: cc-9}",
                                                                 replicas=3)}, "label it")
    rc = main(["review", "--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD", "--format", "json",
               "--no-record"])
    data = json.loads(capsys.readouterr().out)
    assert not [f for f in data["findings"] if f["rule_id"].startswith("guardrails.")]
