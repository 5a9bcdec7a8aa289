"""Review with the user's own inputs: a FOCUS bill as price book, Rego policies in the repo, suppressions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gitutil import commit_files as commit
from gitutil import git

from tollgate.cli.main import main

pytestmark = pytest.mark.integration

FOCUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "focus" / "focus_sample.csv"

TF_BASE = """resource "aws_instance" "build" {
  ami           = "ami-0123456789abcdef0"
  instance_type = "t3.medium"
  count         = 2
}
"""

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {{cost-center: cc-1}}
  annotations:
{annotations}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata: {{labels: {{app: api}}}}
    spec:
      containers:
        - name: api
          image: {image}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 200m, memory: 256Mi}}
"""

REGO = """package team.replicas

import rego.v1

deny contains msg if {
    input.request.kind.kind == "Deployment"
    input.request.object.spec.replicas > 5
    replicas := input.request.object.spec.replicas
    msg := sprintf("%s asks for %v replicas; the team limit is 5", [input.request.name, replicas])
}
"""


def review_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    rc = main(["review", "--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD", "--format", "json",
               "--no-record"])
    return rc, json.loads(capsys.readouterr().out)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(root, {"infra/main.tf": TF_BASE}, "infra")
    return root


def test_terraform_instances_priced_from_the_focus_bill(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(repo, {"infra/main.tf": TF_BASE.replace("count         = 2", "count         = 5")}, "scale build")
    rc, data = review_json(repo, capsys)
    item = data["cost"]["items"][0]
    assert item["name"] == "build" and item["unknown"] is True  # no instance prices in the defaults
    assert data["cost"]["monthly_delta"] == 0.0
    monkeypatch.setenv("TOLLGATE_PRICING__FOCUS_FILE", str(FOCUS))
    rc, data = review_json(repo, capsys)
    item = data["cost"]["items"][0]
    # The bill says "$0.0416 per On Demand Linux t3.medium Instance Hour".
    assert item["price_source"] == "focus" and item["unknown"] is False
    assert item["monthly_before"] == pytest.approx(2 * 0.0416 * 730, abs=0.01)
    assert item["monthly_after"] == pytest.approx(5 * 0.0416 * 730, abs=0.01)
    assert rc in (0, 1)


def test_rego_policies_in_the_repo_are_enforced_and_suppressions_are_reported(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(repo, {"policies/replicas.rego": REGO,
                  "apps/api/production/api.yaml": DEPLOY.format(annotations="    team: api", replicas=2,
                                                                image="ghcr.io/x/api:1.0")}, "api")
    commit(repo, {"apps/api/production/api.yaml": DEPLOY.format(annotations="    team: api", replicas=8,
                                                                image="ghcr.io/x/api:latest")}, "scale")
    rc, data = review_json(repo, capsys)
    findings = {f["rule_id"]: f for f in data["findings"]}
    rego = [f for f in findings.values() if f["source"] == "rego"]
    assert len(rego) == 1 and "asks for 8 replicas" in rego[0]["message"]
    assert rego[0]["file"] == "apps/api/production/api.yaml"
    assert findings["TG-K8S-004"]["suppressed"] is None
    assert rc == 1 and data["decision"]["verdict"] == "block"
    # Suppress the image finding with a reason: it is still reported, but no longer counts.
    suppressed = DEPLOY.format(
        annotations='    tollgate.dev/ignore-TG-K8S-004: "debug build, reverted by OPS-7"', replicas=2,
        image="ghcr.io/x/api:latest")
    commit(repo, {"apps/api/production/api.yaml": suppressed}, "suppress")
    rc, data = review_json(repo, capsys)
    image = [f for f in data["findings"] if f["rule_id"] == "TG-K8S-004"]
    assert image and image[0]["suppressed"] == "debug build, reverted by OPS-7"
    assert not [f for f in data["findings"] if f["source"] == "rego"]
    assert data["decision"]["verdict"] != "block"
    assert rc == 0


def test_broken_rego_names_the_file_and_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commit(repo, {"policies/bad.rego": "package bad\n\ndeny contains msg if {\n  input.x ==\n}\n",
                  "apps/api/production/api.yaml": DEPLOY.format(annotations="    team: api", replicas=2,
                                                                image="ghcr.io/x/api:1.0")}, "bad policy")
    rc = main(["review", "--repo", str(repo), "--base", "HEAD~1", "--format", "json", "--no-record"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "policies/bad.rego:" in err


DAEMONSET = """apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: logging
  labels: {{cost-center: cc-9}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      containers:
        - name: agent
          image: ghcr.io/x/agent:2.0
          resources:
            requests: {{cpu: {cpu}, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
"""

TOLLGATE_YAML = """apps:
  - name: agents
    path: platform/agents
    environment: production
    overrides:
      node_count: {nodes}
settings:
  required_labels: [cost-center, team]
"""


def test_tollgate_yaml_settings_and_app_overrides_apply(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commit(repo, {"tollgate.yaml": TOLLGATE_YAML.format(nodes=10),
                  "platform/agents/agent.yaml": DAEMONSET.format(cpu="100m")}, "agents")
    commit(repo, {"platform/agents/agent.yaml": DAEMONSET.format(cpu="200m")}, "more cpu")
    rc, data = review_json(repo, capsys)
    item = data["cost"]["items"][0]
    # +100m CPU per node on the 10 nodes the app's overrides name (not the default 3).
    assert item["monthly_after"] - item["monthly_before"] == pytest.approx(10 * 0.1 * 0.031611 * 730, abs=0.02)
    # The repo's settings add a required label: the DaemonSet lacks `team`.
    labels = [f for f in data["findings"] if f["rule_id"] == "TG-K8S-001"]
    assert labels and "team" in labels[0]["message"]
    assert rc == 0


def test_unknown_override_is_a_config_error_naming_app_and_field(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(repo, {"tollgate.yaml": TOLLGATE_YAML.format(nodes=10).replace("node_count", "node_cuont"),
                  "platform/agents/agent.yaml": DAEMONSET.format(cpu="100m")}, "typo")
    commit(repo, {"platform/agents/agent.yaml": DAEMONSET.format(cpu="200m")}, "more cpu")
    rc = main(["review", "--repo", str(repo), "--base", "HEAD~1", "--format", "json", "--no-record"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "apps[agents].overrides.node_cuont" in err


def test_security_packs_in_review_weigh_only_what_the_change_introduces(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(repo, {"apps/api/production/api.yaml": DEPLOY.format(annotations="    team: api", replicas=2,
                                                                image="ghcr.io/x/api:1.0")}, "api")
    # Adding the Deployment: its hardening gaps are new, hygiene warns but does not block.
    rc, data = review_json(repo, capsys)
    security = {f["rule_id"]: f["severity"] for f in data["findings"] if f["rule_id"].startswith("TG-K8S-")
                and int(f["rule_id"].split("-")[-1]) >= 6}
    assert security["TG-K8S-006"] == "medium"  # allowPrivilegeEscalation unset: hygiene, not a danger
    assert security["TG-K8S-017"] == "low"
    assert data["decision"]["verdict"] == "warn" and rc == 0

    # Scaling it: the same gaps are inherited, reported as info, and the change passes.
    commit(repo, {"apps/api/production/api.yaml": DEPLOY.format(annotations="    team: api", replicas=3,
                                                                image="ghcr.io/x/api:1.0")}, "scale")
    rc, data = review_json(repo, capsys)
    inherited = [f for f in data["findings"] if f["rule_id"] == "TG-K8S-006"]
    assert inherited and all(f["severity"] == "info" and "before this change" in f["message"] for f in inherited)
    assert data["decision"]["verdict"] == "pass" and rc == 0

    # Making it privileged: a new clear danger blocks in production.
    privileged = DEPLOY.format(annotations="    team: api", replicas=3, image="ghcr.io/x/api:1.0") + (
        "          securityContext: {allowPrivilegeEscalation: true}\n"
        "      hostPID: true\n")
    commit(repo, {"apps/api/production/api.yaml": privileged}, "debug")
    rc, data = review_json(repo, capsys)
    severities = {f["rule_id"]: f["severity"] for f in data["findings"]}
    assert severities["TG-K8S-006"] == "high" and severities["TG-K8S-010"] == "high"
    assert data["decision"]["verdict"] == "block" and rc == 1

    # The old opt-out still works.
    monkeypatch.setenv("TOLLGATE_POLICY__SECURITY_PACKS", "false")
    _, data = review_json(repo, capsys)
    assert not [f for f in data["findings"] if int(f["rule_id"].split("-")[-1]) >= 6]
