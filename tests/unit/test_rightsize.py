"""run_rightsize on a real Git repo (raw YAML + Kustomize overlay) with a fake usage source and in-memory ledger."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tollgate.errors import ProposalRefusedError
from tollgate.ledger.memory import InMemoryLedger
from tollgate.model.rightsize import ContainerUsage, PodUsage, WorkloadContainer
from tollgate.rightsize import proposal_message, report_to_dict, run_rightsize, wanted_changes
from tollgate.settings import Settings
from tollgate.sources.usage import FakeUsageSource

MIB = 2**20
ENV = {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "dev",
       "GIT_COMMITTER_EMAIL": "dev@example.com"}

TOLLGATE = """\
apps:
  - name: api
    path: apps/api
    namespace: shop
  - name: web
    path: apps/web/overlays/prod
    namespace: shop
"""
API = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: server
          image: api:1   # pinned
          resources:
            requests:
              cpu: "1"
              memory: 1Gi
            limits:
              memory: 1Gi
"""
WEB_BASE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: nginx
        image: nginx
        resources:
          requests:
            cpu: 500m
            memory: 256Mi
"""
WEB_PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: nginx
        resources:
          requests:
            cpu: 2  # prod gets more
"""
FILES = {
    "tollgate.yaml": TOLLGATE,
    "apps/api/deploy.yaml": API,
    "apps/web/base/kustomization.yaml": "resources:\n- deploy.yaml\n",
    "apps/web/base/deploy.yaml": WEB_BASE,
    "apps/web/overlays/prod/kustomization.yaml": "resources:\n- ../../base\npatches:\n- path: cpu.yaml\n",
    "apps/web/overlays/prod/cpu.yaml": WEB_PATCH,
}
API_T = WorkloadContainer("Deployment", "shop", "api", "server")
WEB_T = WorkloadContainer("Deployment", "shop", "web", "nginx")


def git(repo: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(repo), **ENV}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def history(target: WorkloadContainer, cpu: float, memory: float, n: int = 600) -> ContainerUsage:
    t0 = 1_700_000_000.0
    stamps = tuple(t0 + 60 * i for i in range(n))
    pod = PodUsage(f"{target.name}-5d8f7c9b6-abcde", (cpu,) * n, stamps, (memory,) * n, stamps)
    return ContainerUsage(target, (pod,), window="14d", replicas=2)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "gitops"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for rel, text in FILES.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def usage() -> FakeUsageSource:
    return FakeUsageSource({API_T: history(API_T, 0.2, 300 * MIB), WEB_T: history(WEB_T, 0.1, 200 * MIB)})


def test_recommend_locate_price_and_propose_branches(repo: Path) -> None:
    ledger = InMemoryLedger()
    source = usage()
    head = git(repo, "rev-parse", "HEAD")
    report = run_rightsize(repo, source, settings=Settings(), base="main", propose="branch",
                           ledger_factory=lambda: ledger)
    assert source.calls == [((API_T, WEB_T), "14d")]
    by_name = {i.recommendation.target.name: i for i in report.items}
    api, web = by_name["api"], by_name["web"]
    # krr-simple: cpu p95 = 0.2 -> 200m; memory request = limit = 300Mi x 1.15 -> 345Mi
    assert dict(api.changes) == {"requests.cpu": "200m", "requests.memory": "345Mi", "limits.memory": "345Mi"}
    assert api.recommendation.file == "apps/api/deploy.yaml"
    assert api.recommendation.path == "spec.template.spec.containers[0].resources"
    assert api.recommendation.monthly_delta is not None and api.recommendation.monthly_delta < 0
    # the web cpu is set by the overlay patch, memory by the base: both files change
    assert web.recommendation.file == "apps/web/overlays/prod/cpu.yaml"
    assert [p.proposal.branch for p in report.proposals] == ["tollgate/rightsize/shop-api",
                                                             "tollgate/rightsize/shop-web"]
    api_commit = report.proposals[0].proposal.commit
    diff = git(repo, "diff", head, api_commit)
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ['-              cpu: "1"', "-              memory: 1Gi", '+              cpu: "200m"',
                       "+              memory: 345Mi", "-              memory: 1Gi", "+              memory: 345Mi"]
    web_files = git(repo, "diff", "--name-only", head, report.proposals[1].proposal.commit).splitlines()
    assert web_files == ["apps/web/base/deploy.yaml", "apps/web/overlays/prod/cpu.yaml"]
    assert "cpu: 100m  # prod gets more" in git(repo, "show", f"{report.proposals[1].proposal.commit}:"
                                                              "apps/web/overlays/prod/cpu.yaml")
    message = git(repo, "log", "-1", "--format=%B", api_commit)
    assert message.startswith("rightsize Deployment shop/api: -")
    assert "p95 CPU 200m, max memory 300Mi, 0 OOM kills, 600 samples" in message
    assert "Tollgate-Proposal: rightsize/shop-api" in message
    # working tree untouched; ledger holds 2 recommendations + 2 proposals
    assert git(repo, "status", "--porcelain") == "" and git(repo, "rev-parse", "HEAD") == head
    kinds = sorted(r.kind for r in ledger.rows())
    assert kinds == ["rightsize", "rightsize", "rightsize-proposal", "rightsize-proposal"]
    # rerun: nothing new
    again = run_rightsize(repo, usage(), settings=Settings(), base="main", propose="branch")
    assert [p.proposal.status for p in again.proposals] == ["exists", "exists"]
    assert git(repo, "rev-list", "--count", "tollgate/rightsize/shop-api") == "2"


def test_json_shape_and_no_data(repo: Path) -> None:
    source = FakeUsageSource({API_T: history(API_T, 0.2, 300 * MIB)})
    report = run_rightsize(repo, source, base="main")
    data = report_to_dict(report)
    keys = {"kind", "namespace", "name", "container", "current", "recommended", "monthly_delta", "severity", "file",
            "path", "evidence"}
    for rec in data["recommendations"]:
        assert keys <= set(rec)
        assert set(rec["evidence"]) == {"p95_cpu", "max_memory", "oom_events", "samples", "window"}
    web = next(r for r in data["recommendations"] if r["name"] == "web")
    assert web["recommended"] is None and web["reason"] == "no recommendation: no usage data"
    assert web["current"] == {"requests": {"cpu": "2", "memory": "256Mi"}, "limits": {"cpu": None, "memory": None}}
    assert data["proposals"] == []


def test_idle_workload_gets_scale_down(repo: Path) -> None:
    source = FakeUsageSource({API_T: history(API_T, 0.001, 300 * MIB)})
    report = run_rightsize(repo, source, base="main", propose="branch", namespace="shop")
    api = next(i for i in report.items if i.recommendation.target.name == "api")
    assert api.recommendation.idle and dict(api.changes) == {"replicas": 0}
    commit = report.proposals[0].proposal.commit
    assert git(repo, "diff", "-U0", "main", commit).splitlines()[-2:] == ["-  replicas: 2", "+  replicas: 0"]
    assert api.recommendation.monthly_delta is not None and api.recommendation.monthly_delta < 0


def test_commit_mode_refuses_dirty_tree_and_per_run(repo: Path) -> None:
    (repo / "apps/api/deploy.yaml").write_text(API + "# local\n")
    with pytest.raises(ProposalRefusedError):
        run_rightsize(repo, usage(), base="main", propose="commit")
    git(repo, "checkout", "-q", "--", ".")
    report = run_rightsize(repo, usage(), base="main", propose="commit", per="run")
    assert len(report.proposals) == 1 and report.proposals[0].proposal.branch == "main"
    assert set(report.proposals[0].proposal.files) == {"apps/api/deploy.yaml", "apps/web/base/deploy.yaml",
                                                       "apps/web/overlays/prod/cpu.yaml"}
    assert "cpu: \"200m\"" in (repo / "apps/api/deploy.yaml").read_text()
    assert git(repo, "rev-list", "--count", "HEAD") == "2"


def test_wanted_changes_raises_limit_below_new_request() -> None:
    from tollgate.model.rightsize import Recommendation, ResourceValues, RightsizeSeverity, UsageEvidence

    rec = Recommendation(API_T, ResourceValues(0.1, 0.2, None, None), ResourceValues(0.5, None, None, None),
                         RightsizeSeverity.CRITICAL, UsageEvidence(0.5, None, 0, 500, "14d"), "krr-simple")
    assert wanted_changes(rec) == {"requests.cpu": "500m", "limits.cpu": "500m"}
    assert proposal_message("x", [], None, "USD", "rightsize/x").endswith("Tollgate-Monthly-Delta: unknown\n")
