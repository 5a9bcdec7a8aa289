"""``tollgate rightsize --propose`` end to end: microservices-demo + a Kustomize overlay + a Helm chart in a real
Git repo, usage backfilled into a real Prometheus, commits checked line by line, reruns, refusals, conflicts."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from gitutil import commit_files, git
from prometheus_fixture import PrometheusServer, running_prometheus
from typer.testing import CliRunner

from tollgate.cli.rightsize import rightsize_command
from tollgate.errors import ProposalRefusedError
from tollgate.ledger.store import Ledger
from tollgate.model.quantities import parse_cpu

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[2] / "../shared/data/corpus/k8s/microservices-demo"
MIB = 2**20
STEP = 60.0
N = 300  # five hours of one-minute samples, read through a 6h window

TOLLGATE = """\
apps:
  - name: boutique
    path: kubernetes-manifests
    namespace: boutique
  - name: boutique-prod
    path: overlays/prod
  - name: web
    path: charts/web
    source: helm
    namespace: charts
    values: [envs/prod/web-values.yaml]
"""
OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: boutique-prod
resources:
  - ../../kustomize/base
patches:
  - path: frontend-cpu.yaml
  - path: cart-memory.yaml
    target:
      kind: Deployment
      name: cartservice
  - path: ad-a.yaml
  - path: ad-b.yaml
"""
FRONTEND_CPU = """\
# production frontends get more CPU
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
spec:
  template:
    spec:
      containers:
        - name: server
          resources:
            requests:
              cpu: 300m # sized for launch day
"""
CART_MEMORY = """\
- op: replace
  path: /spec/template/spec/containers/0/resources/requests/memory
  value: 96Mi
"""
AD_PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: adservice
spec:
  template:
    spec:
      containers:
        - name: server
          resources:
            requests:
              cpu: {cpu}
"""
CHART = "apiVersion: v2\nname: web\nversion: 0.1.0\n"
VALUES = """\
# web chart defaults
replicaCount: 2
web:
  image: nginx:1.27
  resources:
    requests:
      cpu: 500m     # per pod
      memory: 256Mi
"""
TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: nginx
          image: {{ .Values.web.image }}
          resources:
            {{- toYaml .Values.web.resources | nindent 12 }}
"""
PROD_VALUES = """\
web:
  resources:
    requests:
      memory: "512Mi"
"""

# (namespace, workload, container) -> (cores, memory bytes)
USAGE = {
    ("boutique", "frontend", "server"): (0.25, 200 * MIB),
    ("boutique", "cartservice", "server"): (0.25, 200 * MIB),
    ("boutique", "emailservice", "server"): (0.001, 100 * MIB),  # idle
    ("boutique-prod", "frontend", "server"): (0.25, 200 * MIB),
    ("boutique-prod", "cartservice", "server"): (0.125, 150 * MIB),
    ("boutique-prod", "adservice", "server"): (0.25, 200 * MIB),
    ("charts", "web", "nginx"): (0.125, 300 * MIB),
}


def _series(end: float) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {}
    stamps = [end - (N - 1 - i) * STEP for i in range(N)]
    for (ns, name, container), (cores, memory) in USAGE.items():
        labels = tuple(sorted({"namespace": ns, "pod": f"{name}-7d9f8c6b5-abcde", "container": container}.items()))
        out[("container_cpu_usage_seconds_total", labels)] = [(t, i * cores * STEP) for i, t in enumerate(stamps)]
        out[("container_memory_working_set_bytes", labels)] = [(t, memory) for t in stamps]
    return out


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    end = float(int(time.time()) - 60)
    with running_prometheus(tmp_path_factory.mktemp("rightsize-prom"), _series(end)) as server:
        yield server


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOLLGATE_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    path = tmp_path / "gitops"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    shutil.copytree(CORPUS / "kubernetes-manifests", path / "kubernetes-manifests")
    shutil.copytree(CORPUS / "kustomize" / "base", path / "kustomize" / "base")
    commit_files(path, {
        "tollgate.yaml": TOLLGATE,
        "overlays/prod/kustomization.yaml": OVERLAY,
        "overlays/prod/frontend-cpu.yaml": FRONTEND_CPU,
        "overlays/prod/cart-memory.yaml": CART_MEMORY,
        "overlays/prod/ad-a.yaml": AD_PATCH.format(cpu="250m"),
        "overlays/prod/ad-b.yaml": AD_PATCH.format(cpu="400m"),
        "charts/web/Chart.yaml": CHART,
        "charts/web/values.yaml": VALUES,
        "charts/web/templates/deployment.yaml": TEMPLATE,
        "envs/prod/web-values.yaml": PROD_VALUES,
    }, "microservices-demo, prod overlay, web chart")
    return path


def run(repo: Path, prom: PrometheusServer, *extra: str) -> Any:
    app = typer.Typer()
    app.command()(rightsize_command)
    return CliRunner().invoke(app, ["--repo", str(repo), "--prometheus", prom.url, "--window", "6h",
                                    "--format", "json", "--base", "main", *extra])


def changed_lines(repo: Path, commit: str, path: str) -> list[str]:
    diff = git(repo, "show", "--format=", commit, "--", path)
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def rec_of(data: dict[str, Any], ns: str, name: str) -> dict[str, Any]:
    return next(r for r in data["recommendations"] if r["namespace"] == ns and r["name"] == name)


def test_rightsize_proposes_minimal_commits(repo: Path, prometheus: PrometheusServer) -> None:
    head = git(repo, "rev-parse", "HEAD")
    result = run(repo, prometheus, "--propose", "branch")
    assert result.exit_code == 0, (result.output, result.exception)
    data = json.loads(result.stdout)

    # the recommendations follow krr-simple on the backfilled truth: cpu p95, memory max x 1.15
    front = rec_of(data, "boutique", "frontend")
    cpu, mem = front["recommended"]["requests"]["cpu"], front["recommended"]["requests"]["memory"]
    assert parse_cpu(cpu) == pytest.approx(0.25, abs=0.002)
    assert mem == "230Mi" and front["recommended"]["limits"]["memory"] == "230Mi"
    assert front["recommended"]["limits"]["cpu"] is None  # krr-simple sets no CPU limit
    assert front["file"] == "kubernetes-manifests/frontend.yaml"
    assert front["path"] == "spec.template.spec.containers[0].resources"
    assert front["evidence"]["samples"] >= 250 and front["evidence"]["window"] == "6h"
    assert front["monthly_delta"] > 0  # 100m/64Mi -> 250m/230Mi costs more
    none = rec_of(data, "boutique", "checkoutservice")
    assert none["recommended"] is None and none["reason"] == "no recommendation: no usage data"

    branches = {p["branch"]: p for p in data["proposals"]}
    assert set(branches) == {
        "tollgate/rightsize/boutique-frontend", "tollgate/rightsize/boutique-cartservice",
        "tollgate/rightsize/boutique-emailservice", "tollgate/rightsize/boutique-prod-frontend",
        "tollgate/rightsize/boutique-prod-cartservice", "tollgate/rightsize/boutique-prod-adservice",
        "tollgate/rightsize/charts-web"}
    assert all(p["status"] == "created" for p in branches.values())

    # raw manifest: only the four resource lines change; the old CPU limit (200m) is raised to the new request
    c = branches["tollgate/rightsize/boutique-frontend"]["commit"]
    assert git(repo, "show", "--format=", "--name-only", c).splitlines() == ["kubernetes-manifests/frontend.yaml"]
    assert changed_lines(repo, c, "kubernetes-manifests/frontend.yaml") == [
        "-              cpu: 100m", "-              memory: 64Mi",
        f"+              cpu: {cpu}", "+              memory: 230Mi",
        "-              cpu: 200m", "-              memory: 128Mi",
        f"+              cpu: {cpu}", "+              memory: 230Mi",
    ]
    message = git(repo, "log", "-1", "--format=%B", c)
    assert message.startswith(f"rightsize Deployment boutique/frontend: +{front['monthly_delta']:.2f} USD/month")
    assert "max memory 200Mi, 0 OOM kills" in message and "set in kubernetes-manifests/frontend.yaml" in message

    # Kustomize: CPU lives in the overlay's strategic-merge patch (comment kept), memory in the base
    c = branches["tollgate/rightsize/boutique-prod-frontend"]["commit"]
    assert changed_lines(repo, c, "overlays/prod/frontend-cpu.yaml") == [
        "-              cpu: 300m # sized for launch day", f"+              cpu: {cpu} # sized for launch day"]
    assert changed_lines(repo, c, "kustomize/base/frontend.yaml") == [
        "-              memory: 64Mi", "+              memory: 230Mi",
        "-              cpu: 200m", "-              memory: 128Mi",
        f"+              cpu: {cpu}", "+              memory: 230Mi"]
    # JSON 6902 patch holds the prod cart's memory request
    c = branches["tollgate/rightsize/boutique-prod-cartservice"]["commit"]
    assert changed_lines(repo, c, "overlays/prod/cart-memory.yaml") == ["-  value: 96Mi", "+  value: 173Mi"]
    # two patches set the adservice CPU request: reported, not picked; memory still proposed in the base
    ad = rec_of(data, "boutique-prod", "adservice")
    assert "conflict: requests.cpu: set by overlays/prod/ad-a.yaml" in ad["reason"]
    c = branches["tollgate/rightsize/boutique-prod-adservice"]["commit"]
    assert git(repo, "show", "--format=", "--name-only", c).splitlines() == ["kustomize/base/adservice.yaml"]
    assert changed_lines(repo, c, "kustomize/base/adservice.yaml") == [
        "-            memory: 180Mi", "+            memory: 230Mi",
        "-            memory: 300Mi", "+            memory: 230Mi"]
    # Helm: memory from the environment's values file (quotes kept), CPU from the chart's values.yaml
    c = branches["tollgate/rightsize/charts-web"]["commit"]
    web = rec_of(data, "charts", "web")
    assert web["file"] == "charts/web/values.yaml" and web["path"] == "web.resources"
    assert changed_lines(repo, c, "envs/prod/web-values.yaml") == [
        '-      memory: "512Mi"', '+      memory: "345Mi"', "+    limits:", "+      memory: 345Mi"]
    wcpu = web["recommended"]["requests"]["cpu"]
    assert parse_cpu(wcpu) == pytest.approx(0.125, abs=0.002)
    assert changed_lines(repo, c, "charts/web/values.yaml") == [
        "-      cpu: 500m     # per pod", f"+      cpu: {wcpu}     # per pod"]
    # idle workload: scale-down proposal
    c = branches["tollgate/rightsize/boutique-emailservice"]["commit"]
    assert changed_lines(repo, c, "kubernetes-manifests/emailservice.yaml") == ["+  replicas: 0"]
    assert rec_of(data, "boutique", "emailservice")["idle"] is True

    # the user's checkout is untouched; the ledger holds every recommendation and proposal
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""
    ledger = Ledger(f"sqlite:///{repo.parent / 'ledger.db'}")
    try:
        assert len(ledger.list(kind="rightsize", limit=1000)) == len(data["recommendations"])
        assert len(ledger.list(kind="rightsize-proposal", limit=1000)) == 7
        record = ledger.get(branches["tollgate/rightsize/charts-web"]["decisionId"])
        assert record.payload["commit"] == branches["tollgate/rightsize/charts-web"]["commit"]
        assert record.verdict == "created"
    finally:
        ledger.close()

    # rerun: the same proposals exist, no new commits
    tips = {b: git(repo, "rev-parse", b) for b in branches}
    again = run(repo, prometheus, "--propose", "branch")
    assert again.exit_code == 0, again.output
    assert {p["branch"]: p["status"] for p in json.loads(again.stdout)["proposals"]} == dict.fromkeys(branches,
                                                                                                       "exists")
    assert {b: git(repo, "rev-parse", b) for b in branches} == tips


def test_commit_mode_refuses_dirty_and_diverged(repo: Path, prometheus: PrometheusServer, tmp_path: Path) -> None:
    (repo / "kubernetes-manifests/frontend.yaml").write_text("# local edit\n", encoding="utf-8")
    dirty = run(repo, prometheus, "--propose", "commit", "--namespace", "boutique")
    assert isinstance(dirty.exception, ProposalRefusedError) and "uncommitted changes" in str(dirty.exception)
    git(repo, "checkout", "-q", "--", ".")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "fetch", "-q", "origin")
    git(repo, "branch", "-q", "--set-upstream-to=origin/main")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    commit_files(other, {"README.md": "theirs\n"}, "theirs")
    git(other, "push", "-q", "origin", "main")
    commit_files(repo, {"NOTES.md": "ours\n"}, "ours")
    git(repo, "fetch", "-q", "origin")
    head = git(repo, "rev-parse", "HEAD")
    diverged = run(repo, prometheus, "--propose", "commit", "--namespace", "boutique")
    assert isinstance(diverged.exception, ProposalRefusedError) and "diverged" in str(diverged.exception)
    assert git(repo, "rev-parse", "HEAD") == head
    # in sync again: one commit on main with every boutique proposal, working tree updated
    git(repo, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
    git(repo, "push", "-q", "origin", "main")
    ok = run(repo, prometheus, "--propose", "commit", "--per", "run", "--namespace", "boutique")
    assert ok.exit_code == 0, (ok.output, ok.exception)
    proposal = json.loads(ok.stdout)["proposals"][0]
    assert proposal["branch"] == "main" and proposal["commit"] == git(repo, "rev-parse", "HEAD")
    assert "memory: 230Mi" in (repo / "kubernetes-manifests/frontend.yaml").read_text()
    assert git(repo, "status", "--porcelain") == ""
