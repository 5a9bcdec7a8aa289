"""Fixture generator and runner for rendered guardrails.

For every template a generator builds JSON fixtures from the slot values: a violating input, a
compliant input and, for thresholds, boundary cases at the threshold and one unit either side. Each
fixture is ``{"name", "input", "expect": "deny"|"allow"}``. :func:`run_fixtures` evaluates them with
regopy in the isolated Rego worker of :mod:`tollgate.policy.rego` (a crash cannot take this process down).
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tollgate.errors import DependencyError, PolicyError
from tollgate.policy.nl.render import RenderedPolicy
from tollgate.policy.rego import RegoEngine, parse_module

Case = dict[str, Any]
_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")


def _container(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "app",
        "image": "ghcr.io/acme/app:1.2.3",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}},
        "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "privileged": False},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}},
        "startupProbe": {"httpGet": {"path": "/live", "port": 8080}},
    }
    base.update(extra)
    return base


def _object(kind: str, name: str = "web", namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    labels = spec.pop("labels", {})
    annotations = spec.pop("annotations", {})
    pod_extra = spec.pop("pod", {})
    containers = spec.pop("containers", [_container()])
    pod = {"containers": containers, **pod_extra}
    metadata = {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations}
    if kind == "Pod":
        body_spec: dict[str, Any] = pod
    elif kind == "CronJob":
        body_spec = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}
    elif kind in _WORKLOADS:
        body_spec = {"replicas": 2, "template": {"metadata": {"labels": labels}, "spec": pod}, **spec}
    else:
        body_spec = dict(spec)
    return {"apiVersion": "v1" if kind in ("Pod", "Service", "Namespace") else "apps/v1", "kind": kind,
            "metadata": metadata, "spec": body_spec}


def _admission(obj: dict[str, Any], *, group: str = "apps", operation: str = "CREATE") -> dict[str, Any]:
    meta = obj.get("metadata", {})
    return {
        "request": {"kind": {"group": group, "version": "v1", "kind": obj["kind"]}, "operation": operation,
                    "name": meta.get("name", ""), "namespace": meta.get("namespace", ""), "object": obj,
                    "oldObject": None},
        "object": obj,
    }


def _case(name: str, expect: str, document: dict[str, Any]) -> Case:
    return {"name": name, "expect": expect, "input": document}


def _workload(kind: str = "Deployment", **spec: Any) -> dict[str, Any]:
    return _admission(_object(kind, **spec))


def _metadata(s: dict[str, Any], field: str) -> list[Case]:
    kind = s["kinds"][0]
    namespace = s.get("namespaces", [None])[0] if s.get("namespaces") else "shop"
    good = _object(kind, "web", namespace, **{field: {s["key"]: "yes"}})
    bad = _object(kind, "web", namespace, **{field: {"other": "x"}})
    cases = [_case("missing", "deny", _admission(bad)), _case("present", "allow", _admission(good)),
             _case("delete is not checked", "allow", {**_admission(bad), "request": {
                 **_admission(bad)["request"], "operation": "DELETE", "object": None}})]
    if s.get("namespaces"):
        cases.append(_case("other namespace", "allow", _admission(_object(kind, "web", "zz-other", **{
            field: {}}))))
    return cases


def _registries(s: dict[str, Any]) -> list[Case]:
    ok = s["registries"][0] + "/app:1.0"
    return [_case("allowed registry", "allow", _workload(containers=[_container(image=ok)])),
            _case("other registry", "deny", _workload(containers=[_container(image="evil.example.net/x:1.0")])),
            _case("prefix trick", "deny", _workload(containers=[_container(image=s["registries"][0] + "x/app:1")]))]


def _latest(_: dict[str, Any]) -> list[Case]:
    return [_case("latest tag", "deny", _workload(containers=[_container(image="nginx:latest")])),
            _case("no tag", "deny", _workload(containers=[_container(image="ghcr.io/acme/app")])),
            _case("pinned tag", "allow", _workload(containers=[_container(image="registry:5000/app:1.4")]))]


def _digest(_: dict[str, Any]) -> list[Case]:
    digest = "ghcr.io/acme/app@sha256:" + "a" * 64
    return [_case("tag only", "deny", _workload(containers=[_container(image="ghcr.io/acme/app:1.0")])),
            _case("digest", "allow", _workload(containers=[_container(image=digest)]))]


def _resources(field: str) -> Callable[[dict[str, Any]], list[Case]]:
    def make(s: dict[str, Any]) -> list[Case]:
        missing = _container()
        missing["resources"] = {k: dict(v) for k, v in missing["resources"].items()}
        del missing["resources"][field][s["resources"][0]]
        return [_case(f"no {s['resources'][0]} {field}", "deny", _workload(containers=[missing])),
                _case(f"all {field} set", "allow", _workload())]
    return make


def _cpu(s: dict[str, Any]) -> list[Case]:
    cap = int(s["cpu_millicores"])
    def at(m: int) -> dict[str, Any]:
        return _workload(containers=[_container(resources={"limits": {"cpu": f"{m}m"}, "requests": {"cpu": "10m"}})])
    return [_case("at the cap", "allow", at(cap)), _case("cap + 1m", "deny", at(cap + 1)),
            _case("cap - 1m", "allow", at(cap - 1)),
            _case("cores above cap", "deny", _workload(containers=[_container(
                resources={"limits": {"cpu": str(cap // 1000 + 1)}})]))]


def _memory(s: dict[str, Any]) -> list[Case]:
    cap = int(s["memory_bytes"])
    def at(b: int) -> dict[str, Any]:
        return _workload(containers=[_container(resources={"limits": {"memory": str(b)}, "requests": {}})])
    return [_case("at the cap", "allow", at(cap)), _case("cap + 1 byte", "deny", at(cap + 1)),
            _case("cap - 1 byte", "allow", at(cap - 1))]


def _max_replicas(s: dict[str, Any]) -> list[Case]:
    cap = int(s["max"])
    return [_case("at the max", "allow", _workload(replicas=cap)),
            _case("max + 1", "deny", _workload(replicas=cap + 1)),
            _case("max - 1", "allow", _workload(replicas=max(cap - 1, 0)))]


def _min_replicas(s: dict[str, Any]) -> list[Case]:
    low = int(s["min"])
    env = s.get("environment") or ""
    namespace = env or "shop"
    def at(n: int, ns: str = namespace) -> dict[str, Any]:
        return _admission(_object("Deployment", namespace=ns, replicas=n))
    cases = [_case("at the min", "allow", at(low)), _case("min - 1", "deny", at(low - 1)),
             _case("min + 1", "allow", at(low + 1))]
    if env:
        cases.append(_case("other environment", "allow", at(low - 1, "zz-other")))
    return cases


def _security(field: str, bad: Any, good: Any) -> Callable[[dict[str, Any]], list[Case]]:
    def make(_: dict[str, Any]) -> list[Case]:
        return [_case(f"{field}={bad}", "deny", _workload(containers=[_container(securityContext={field: bad})])),
                _case(f"{field}={good}", "allow", _workload(containers=[_container(securityContext={field: good})]))]
    return make


def _non_root(_: dict[str, Any]) -> list[Case]:
    pod_level = _workload(containers=[_container(securityContext={})], pod={"securityContext": {"runAsNonRoot": True}})
    return [_case("not set", "deny", _workload(containers=[_container(securityContext={})])),
            _case("container sets it", "allow", _workload()), _case("pod sets it", "allow", pod_level)]


def _host_ns(_: dict[str, Any]) -> list[Case]:
    return [_case("hostNetwork", "deny", _workload(pod={"hostNetwork": True})),
            _case("hostPID", "deny", _workload(pod={"hostPID": True})),
            _case("no host namespaces", "allow", _workload(pod={"hostNetwork": False}))]


def _host_path(_: dict[str, Any]) -> list[Case]:
    return [_case("hostPath volume", "deny", _workload(pod={"volumes": [{"name": "h", "hostPath": {"path": "/"}}]})),
            _case("emptyDir volume", "allow", _workload(pod={"volumes": [{"name": "e", "emptyDir": {}}]}))]


def _probes(s: dict[str, Any]) -> list[Case]:
    probe = s["probes"][0] + "Probe"
    missing = {k: v for k, v in _container().items() if k != probe}
    return [_case(f"no {probe}", "deny", _workload(containers=[missing])), _case("all probes", "allow", _workload())]


def _default_ns(_: dict[str, Any]) -> list[Case]:
    return [_case("default namespace", "deny", _admission(_object("Deployment", namespace="default"))),
            _case("own namespace", "allow", _admission(_object("Deployment", namespace="shop")))]


def _service_type(s: dict[str, Any]) -> list[Case]:
    def svc(kind: str) -> dict[str, Any]:
        return _admission(_object("Service", type=kind, ports=[{"port": 80}]), group="")
    allowed = next(t for t in ("ClusterIP", "NodePort", "LoadBalancer") if t not in s["types"])
    return [_case(f"type {s['types'][0]}", "deny", svc(s["types"][0])), _case(f"type {allowed}", "allow", svc(allowed))]


def _ingress_tls(_: dict[str, Any]) -> list[Case]:
    rules = [{"host": "shop.example.com"}]
    return [_case("no tls", "deny", _admission(_object("Ingress", rules=rules), group="networking.k8s.io")),
            _case("tls", "allow", _admission(_object("Ingress", rules=rules, tls=[{"hosts": ["shop.example.com"]}]),
                                             group="networking.k8s.io"))]


def _terraform(kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
    return {"request": {"kind": {"group": "terraform", "version": "", "kind": kind}, "operation": "CREATE",
                        "name": "main", "namespace": "", "object": attrs, "oldObject": None}, "object": attrs}


def _instance_types(s: dict[str, Any]) -> list[Case]:
    ok = s["types"][0]
    return [_case("allowed type", "allow", _terraform("aws_instance", {"instance_type": ok})),
            _case("other type", "deny", _terraform("aws_instance", {"instance_type": "zz9.mega"})),
            _case("node selector", "deny", _workload(pod={"nodeSelector": {
                "node.kubernetes.io/instance-type": "zz9.mega"}}))]


def _regions(s: dict[str, Any]) -> list[Case]:
    return [_case("allowed region", "allow", _terraform("google_storage_bucket", {"location": s["regions"][0]})),
            _case("other region", "deny", _terraform("aws_s3_bucket", {"region": "xx-nowhere-9"}))]


def _budget(s: dict[str, Any]) -> list[Case]:
    amount, currency, period = s["amount"], s["currency"], s["period"]
    scope = s.get("scope") or ""
    def cost(spend: float, cur: str = currency, sc: str = scope) -> dict[str, Any]:
        return {"cost": {"scope": sc, "currency": cur, "projected": {period: spend}}}
    cases = [_case("at the budget", "allow", cost(amount)), _case("budget + 1", "deny", cost(amount + 1)),
             _case("budget - 1", "allow", cost(amount - 1)),
             _case("other currency", "deny", cost(amount - 1, "XXX"))]
    if scope:
        cases.append(_case("other scope", "allow", cost(amount + 1, sc="zz:other")))
    return cases


def _metric(key: str) -> Callable[[dict[str, Any]], list[Case]]:
    def make(s: dict[str, Any]) -> list[Case]:
        window = str(s["duration_s"])
        limit = s["threshold_pct"]
        def at(v: float) -> dict[str, Any]:
            return {"metrics": {key: {window: v}}}
        return [_case("at the threshold", "allow", at(limit)), _case("threshold + 1", "deny", at(limit + 1)),
                _case("threshold - 1", "allow", at(limit - 1)),
                _case("other window only", "allow", {"metrics": {key: {str(int(window) + 1): limit + 50}}})]
    return make


def _latency(s: dict[str, Any]) -> list[Case]:
    window, limit, pct = str(s["duration_s"]), s["threshold_ms"], s["percentile"]
    def at(v: float, p: str = pct) -> dict[str, Any]:
        return {"metrics": {"latency_ms_sustained": {p: {window: v}}}}
    return [_case("at the threshold", "allow", at(limit)), _case("threshold + 1ms", "deny", at(limit + 1)),
            _case("threshold - 1ms", "allow", at(limit - 1)),
            _case("other percentile", "allow", at(limit + 100, "p0"))]


def _release(env: str, **fields: Any) -> dict[str, Any]:
    base = {"environment": env or "production", "weekday": "wed", "time": "10:00", "date": "2026-06-10",
            "approvals": 0, "branch": "main", "strategy": "canary", "max_step_pct": 10, "deploys_today": 0}
    base.update(fields)
    return {"release": base}


_DAY_ORDER = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _freeze(s: dict[str, Any]) -> list[Case]:
    env = s["environment"]
    start, end, days = s["start"], s["end"], s["days"] or _DAY_ORDER
    day = days[0]
    free_day = next((d for d in _DAY_ORDER if d not in days), None)
    if len(start) == 10:
        cases = [_case("first frozen date", "deny", _release(env, date=start, weekday=day)),
                 _case("last frozen date", "deny", _release(env, date=end, weekday=day)),
                 _case("before the freeze", "allow", _release(env, date="1999-01-01", weekday=day))]
    else:
        inside = start if start != "24:00" else "23:59"
        cases = [_case("start of the window", "deny", _release(env, weekday=day, time=inside))]
        if end != "24:00":
            cases.append(_case("end of the window", "allow", _release(env, weekday=day, time=end)))
        if start != "00:00":
            hour, minute = divmod(int(start[:2]) * 60 + int(start[3:]) - 1, 60)
            cases.append(_case("a minute before", "allow", _release(env, weekday=day, time=f"{hour:02d}:{minute:02d}")))
        if free_day:
            cases.append(_case("a free day", "allow", _release(env, weekday=free_day, time=inside)))
    cases.append(_case("other environment", "allow", _release("zz-other", weekday=day, date=start, time=start[:5])))
    return cases


def _approvals(s: dict[str, Any]) -> list[Case]:
    n, env = int(s["count"]), s["environment"]
    return [_case("exactly enough", "allow", _release(env, approvals=n)),
            _case("one short", "deny", _release(env, approvals=n - 1)),
            _case("one more", "allow", _release(env, approvals=n + 1)),
            _case("other environment", "allow", _release("zz-other", approvals=0))]


def _canary(s: dict[str, Any]) -> list[Case]:
    env, step = s["environment"], s.get("max_step_pct")
    cases = [_case("rolling", "deny", _release(env, strategy="rolling")),
             _case("canary", "allow", _release(env, strategy="canary", max_step_pct=step or 10)),
             _case("other environment", "allow", _release("zz-other", strategy="rolling"))]
    if step is not None:
        cases += [_case("step + 1", "deny", _release(env, max_step_pct=step + 1)),
                  _case("step at max", "allow", _release(env, max_step_pct=step))]
    return cases


def _branch(s: dict[str, Any]) -> list[Case]:
    env, branch = s["environment"], s["branch"]
    ok = branch.replace("*", "1.2")
    return [_case("allowed branch", "allow", _release(env, branch=ok)),
            _case("feature branch", "deny", _release(env, branch="feature/zz")),
            _case("other environment", "allow", _release("zz-other", branch="feature/zz"))]


def _deploys(s: dict[str, Any]) -> list[Case]:
    n, env = int(s["count"]), s.get("environment") or ""
    return [_case("last allowed deploy", "allow", _release(env, deploys_today=n - 1)),
            _case("limit reached", "deny", _release(env, deploys_today=n)),
            _case("well under", "allow", _release(env, deploys_today=0))]


#: Fixture generators by template id.
GENERATORS: dict[str, Callable[[dict[str, Any]], list[Case]]] = {
    "k8s.required_label": lambda s: _metadata(s, "labels"),
    "k8s.required_annotation": lambda s: _metadata(s, "annotations"),
    "k8s.allowed_registries": _registries,
    "k8s.disallow_latest_tag": _latest,
    "k8s.require_image_digest": _digest,
    "k8s.require_resource_limits": _resources("limits"),
    "k8s.require_resource_requests": _resources("requests"),
    "k8s.max_container_cpu": _cpu,
    "k8s.max_container_memory": _memory,
    "k8s.max_replicas": _max_replicas,
    "k8s.min_replicas": _min_replicas,
    "k8s.deny_privileged": _security("privileged", True, False),
    "k8s.require_run_as_non_root": _non_root,
    "k8s.deny_host_namespaces": _host_ns,
    "k8s.deny_hostpath_volumes": _host_path,
    "k8s.read_only_root_fs": _security("readOnlyRootFilesystem", False, True),
    "k8s.require_probes": _probes,
    "k8s.deny_default_namespace": _default_ns,
    "k8s.deny_service_type": _service_type,
    "k8s.require_ingress_tls": _ingress_tls,
    "cloud.allowed_instance_types": _instance_types,
    "cloud.allowed_regions": _regions,
    "cost.budget_cap": _budget,
    "metrics.cpu_threshold_duration": _metric("cpu_pct_sustained"),
    "metrics.memory_threshold_duration": _metric("memory_pct_sustained"),
    "metrics.error_rate_threshold": _metric("error_rate_pct_sustained"),
    "metrics.latency_threshold": _latency,
    "release.change_freeze_window": _freeze,
    "release.require_approvals": _approvals,
    "release.require_canary": _canary,
    "release.branch_restriction": _branch,
    "release.max_deploys_per_day": _deploys,
}


def generate(policy: RenderedPolicy) -> list[Case]:
    """Fixtures for a rendered policy (deep copies; safe to mutate)."""
    return copy.deepcopy(GENERATORS[policy.template](dict(policy.params)))


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One fixture's outcome: what was expected, what the policy said, and its deny messages."""

    name: str
    expect: str
    got: str
    messages: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.expect == self.got


def run_fixtures(path: str, rego: str, cases: Sequence[Case], *, timeout_s: float = 60.0) -> list[CaseResult]:
    """Evaluate ``cases`` against the module; :class:`PolicyError` if it does not parse or cannot run."""
    module = parse_module(path, rego)
    engine = RegoEngine([(path, rego)], timeout_s=timeout_s)
    engine.check()
    request = {"modules": [{"path": path, "text": rego, "package": module.package}], "skip_modules": [],
               "policies": [module.package], "policy_packages": [module.package],
               "inputs": [c["input"] for c in cases], "first_input": 0}
    try:
        proc = subprocess.run([engine.python, str(engine.worker)], input=json.dumps(request).encode(),
                              capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PolicyError(f"{path}: fixtures timed out after {timeout_s:g} s") from exc
    except OSError as exc:
        raise DependencyError(f"cannot start the Rego worker: {exc}") from exc
    results: dict[int, Any] = {}
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("ev") == "r":
                results[event["i"]] = event["res"].get(module.package)
            elif event.get("ev") == "policy_error":
                raise PolicyError(f"{path}: policy does not compile: {event['error']}")
    out = []
    for i, case in enumerate(cases):
        if i not in results:
            raise PolicyError(f"{path}: the Rego engine stopped before fixture {case['name']!r} (status "
                              f"{proc.returncode})")
        entry = results[i]
        if entry is not None and "e" in entry:
            raise PolicyError(f"{path}: fixture {case['name']!r} failed to evaluate: {entry['e']}")
        denies = list(entry.get("d") or []) if entry else []
        messages = tuple(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in denies)
        out.append(CaseResult(case["name"], case["expect"], "deny" if denies else "allow", messages))
    return out
