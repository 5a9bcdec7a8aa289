"""``tollgate bench review``: time the review pipeline on generated repos, split by stage."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from tollgate.cli.demo import _git, build_demo_repo
from tollgate.engine import Engine
from tollgate.ledger.store import Ledger
from tollgate.model.manifests import Manifest, SourceLocation
from tollgate.policy.engine import bench_builtin
from tollgate.policy.rego import bench_rego
from tollgate.policy.rulepack import builtin_pack
from tollgate.settings import Settings
from tollgate.sources.yamldocs import clear_parse_cache

_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}, cost-center: cc-{cc}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: {name}
          image: registry.example.com/{name}:{tag}
          resources:
            requests: {{cpu: {cpu}m, memory: {mem}Mi}}
            limits: {{cpu: {cpu_limit}m, memory: {mem_limit}Mi}}
"""
_SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {name}
  labels: {{cost-center: cc-{cc}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""
_CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
"""


def _service_docs(i: int, replicas: int, tag: str) -> str:
    name = f"svc-{i:04d}"
    cpu = 100 + (i % 7) * 50
    mem = 128 + (i % 5) * 64
    return "---\n".join([
        _DEPLOYMENT.format(name=name, cc=1000 + i % 10, replicas=replicas, tag=tag, cpu=cpu, mem=mem,
                           cpu_limit=cpu * 2, mem_limit=mem * 2),
        _SERVICE.format(name=name, cc=1000 + i % 10),
        _CONFIGMAP.format(name=name),
    ])


def generate_repo(root: Path, *, manifests: int, services_per_app: int = 20) -> tuple[str, str]:
    """A raw-YAML GitOps repo of about ``manifests`` objects (3 per service, in apps of 20 services).

    Returns (base, head) commits; head scales up one service per app and bumps one image per app.
    """
    services = max(1, manifests // 3)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(services):
        app_dir = root / "apps" / f"app-{i // services_per_app:03d}" / "production"
        app_dir.mkdir(parents=True, exist_ok=True)
        (app_dir / f"svc-{i:04d}.yaml").write_text(_service_docs(i, 2, "1.0.0"), encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    base = _git(root, "rev-parse", "HEAD")
    for i in range(0, services, services_per_app):
        path = root / "apps" / f"app-{i // services_per_app:03d}" / "production" / f"svc-{i:04d}.yaml"
        path.write_text(_service_docs(i, 4, "1.1.0"), encoding="utf-8")
    _git(root, "commit", "-q", "-am", "scale up and bump one service per app")
    return base, _git(root, "rev-parse", "HEAD")


def _time_reviews(settings: Settings, repo: Path, base: str, head: str, repeat: int,
                  ledger_url: str) -> dict[str, object]:
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    changes = 0
    for _ in range(repeat):
        # A fresh engine and no memoised parses: each run is timed like a new `tollgate review` process.
        engine = Engine(settings, ledger_factory=lambda: Ledger(ledger_url))
        clear_parse_cache()
        start = time.perf_counter()
        result = engine.review(repo, base, head)
        totals.append(time.perf_counter() - start)
        changes = len(result.change_set.changes)
        for name, seconds in result.timings.items():
            stages.setdefault(name, []).append(seconds)
        objects = len(result.change_set.head_state)
    return {
        "objects": objects,
        "changes": changes,
        "median_s": statistics.median(totals),
        "min_s": min(totals),
        "stages_median_s": {k: statistics.median(v) for k, v in stages.items()},
    }


def bench_review(settings: Settings, *, services: int, manifests: int, repeat: int, fmt: str) -> str:
    with tempfile.TemporaryDirectory(prefix="tollgate-bench-") as tmp:
        root = Path(tmp)
        ledger_url = f"sqlite:///{root / 'ledger.db'}"
        results: dict[str, dict[str, object]] = {}
        small = root / "small"
        base, head = generate_repo(small, manifests=services * 3, services_per_app=services)
        results[f"{services}-service repo"] = _time_reviews(settings, small, base, head, repeat, ledger_url)
        demo = root / "demo"
        first_step = build_demo_repo(demo)[0][0]
        results["demo repo (Kustomize, Helm, Terraform)"] = _time_reviews(
            settings, demo, f"{first_step}~1", first_step, repeat, ledger_url)
        large = root / "large"
        base, head = generate_repo(large, manifests=manifests)
        results[f"{manifests}-manifest repo"] = _time_reviews(settings, large, base, head, repeat, ledger_url)
    if fmt == "json":
        return json.dumps(results, indent=2) + "\n"
    console = Console(width=140, record=True, color_system=None)
    table = Table(title=f"tollgate bench review (median of {repeat})", title_justify="left")
    stage_names = sorted({s for r in results.values() for s in r["stages_median_s"]})  # type: ignore[attr-defined]
    for col in ["repo", "objects", "changes", "median s", *stage_names]:
        table.add_column(col, justify="left" if col == "repo" else "right")
    for name, r in results.items():
        st: dict[str, float] = r["stages_median_s"]  # type: ignore[assignment]
        table.add_row(name, str(r["objects"]), str(r["changes"]), f"{r['median_s']:.3f}",
                      *[f"{st.get(s, 0.0):.3f}" for s in stage_names])
    with console.capture() as cap:
        console.print(table)
    return cap.get()


_BENCH_REGO = {
    "bench/labels.rego": """package bench.labels

import rego.v1

deny contains msg if {
    input.request.kind.kind == "Deployment"
    not input.request.object.metadata.labels["cost-center"]
    msg := sprintf("%s has no cost-center label", [input.request.name])
}
""",
    "bench/replicas.rego": """package bench.replicas

import rego.v1

warn contains msg if {
    input.request.object.spec.replicas > 20
    msg := sprintf("%s asks for %v replicas", [input.request.name, input.request.object.spec.replicas])
}
""",
}


def generated_manifests(count: int) -> list[Manifest]:
    """``count`` manifests (Deployments, Services, ConfigMaps) built like the review benchmark's repo."""
    manifests: list[Manifest] = []
    i = 0
    while len(manifests) < count:
        for doc in yaml.safe_load_all(_service_docs(i, 2 + i % 3, "1.0.0")):
            meta = doc["metadata"]
            manifests.append(Manifest(doc["apiVersion"], doc["kind"], meta["name"], "default", doc,
                                      SourceLocation(f"apps/svc-{i:04d}.yaml", 1), app="bench"))
        i += 1
    return manifests[:count]


def bench_policy(*, resources: int, rego_resources: int, fmt: str) -> str:
    """Built-in rule pack, built-in + security packs, and Rego throughput on generated manifests."""
    from tollgate.policy.security import load_security_pack

    manifests = generated_manifests(resources)
    builtin_rate = bench_builtin(manifests, min_seconds=1.0)
    security = load_security_pack()
    security_rate = bench_builtin(manifests, security, min_seconds=1.0)
    rego_manifests = manifests[:rego_resources]
    rego_rate = bench_rego(list(_BENCH_REGO.items()), rego_manifests)
    result = {
        "builtin_resources_per_s": round(builtin_rate),
        "builtin_rules": len(builtin_pack().enabled_rules),
        "builtin_resources": len(manifests),
        "security_packs_resources_per_s": round(security_rate),
        "security_packs_rules": len(security.enabled_rules),
        "rego_decisions_per_s": round(rego_rate),
        "rego_policies": len(_BENCH_REGO),
        "rego_resources": len(rego_manifests),
    }
    if fmt == "json":
        return json.dumps(result, indent=2) + "\n"
    return (f"built-in rules: {result['builtin_resources_per_s']:,} resources/s "
            f"({result['builtin_rules']} rules, {len(manifests)} resources)\n"
            f"+ security:     {result['security_packs_resources_per_s']:,} resources/s "
            f"({result['security_packs_rules']} rules: built-in + Kubernetes + Terraform packs)\n"
            f"Rego:           {result['rego_decisions_per_s']:,} decisions/s "
            f"({len(_BENCH_REGO)} policies x {len(rego_manifests)} resources, worker start-up included)\n")
