"""PrometheusUsageSource against a real Prometheus holding backfilled cAdvisor and kube-state-metrics series."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_fixture import PrometheusServer, running_prometheus

from tollgate.cost.rightsize import recommend
from tollgate.errors import DependencyError
from tollgate.model.rightsize import ResourceValues, WorkloadContainer
from tollgate.sources.metrics import PrometheusClient
from tollgate.sources.usage import PrometheusUsageSource

pytestmark = pytest.mark.integration

MIB = 2.0**20
T0 = 1_700_000_000.0
STEP = 60.0
N = 26 * 60  # 26 hours of minutes; the window read is the last 24 h
END = T0 + (N - 1) * STEP
NS = "shop"

CART = WorkloadContainer("Deployment", NS, "cart", "server")
REDIS = WorkloadContainer("StatefulSet", NS, "redis", "redis")
GHOST = WorkloadContainer("Deployment", NS, "ghost", "app")  # no series at all
PODS = {
    "cart-7d9f8c6b5-abcde": (CART, 0.2, 200 * MIB),
    "cart-7d9f8c6b5-fghij": (CART, 0.3, 250 * MIB),
    "cart-api-6b7c8d9f5-zzzzz": (WorkloadContainer("Deployment", NS, "cart-api", "server"), 3.0, 900 * MIB),
    "redis-0": (REDIS, 0.1, 500 * MIB),
    "redis-1": (REDIS, 0.15, 600 * MIB),
}
BUSY = range(N - 180, N - 60)  # 2 h of 0.8 cores on the second cart pod, inside the window
OOM_AT = (N - 600, N - 300)  # redis-1 is OOM-killed twice


def _labels(pod: str, container: str, **extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"namespace": NS, "pod": pod, "container": container, **extra}.items()))


def _series() -> dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]]:
    rng = np.random.default_rng(3)
    stamps = T0 + np.arange(N) * STEP
    out: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {}
    for pod, (target, cores, memory) in PODS.items():
        rate = np.full(N, cores)
        if pod == "cart-7d9f8c6b5-fghij":
            rate[list(BUSY)] = 0.8
        counter = np.concatenate([[0.0], np.cumsum(rate[1:] * STEP)])
        mem = memory + rng.uniform(-5, 5, N) * MIB
        if pod == "cart-7d9f8c6b5-fghij":
            mem[N - 120] = 400 * MIB
        labels = _labels(pod, target.container)
        out[("container_cpu_usage_seconds_total", labels)] = list(zip(stamps, counter, strict=True))
        out[("container_memory_working_set_bytes", labels)] = list(zip(stamps, mem, strict=True))
        # the pause container and the pod-level cgroup must be ignored
        out[("container_memory_working_set_bytes", _labels(pod, "POD"))] = [(s, 1e9) for s in stamps]
        restarts = np.zeros(N)
        reason = np.zeros(N)
        if pod == "redis-1":
            for at in OOM_AT:
                restarts[at:] += 1
            reason[OOM_AT[0]:] = 1
        out[("kube_pod_container_status_restarts_total", labels)] = list(zip(stamps, restarts, strict=True))
        oom_labels = _labels(pod, target.container, reason="OOMKilled")
        out[("kube_pod_container_status_last_terminated_reason", oom_labels)] = list(zip(stamps, reason, strict=True))
        for metric, cpu_v, mem_v in (("kube_pod_container_resource_requests", 0.5, 512 * MIB),
                                     ("kube_pod_container_resource_limits", 1.0, 768 * MIB)):
            out[(metric, _labels(pod, target.container, resource="cpu", unit="core"))] = [
                (s, cpu_v) for s in stamps[::10]]
            out[(metric, _labels(pod, target.container, resource="memory", unit="byte"))] = [
                (s, mem_v) for s in stamps[::10]]
    out[("kube_pod_owner", (("namespace", NS), ("owner_kind", "ReplicaSet"), ("owner_name", "cart-7d9f8c6b5"),
                            ("pod", "cart-7d9f8c6b5-abcde")))] = [(s, 1.0) for s in stamps[::10]]
    out[("kube_replicaset_owner", (("namespace", NS), ("owner_kind", "Deployment"), ("owner_name", "cart"),
                                   ("replicaset", "cart-7d9f8c6b5")))] = [(s, 1.0) for s in stamps[::10]]
    hpa = (("horizontalpodautoscaler", "cart"), ("namespace", NS))
    out[("kube_horizontalpodautoscaler_info", (*hpa, ("scaletargetref_kind", "Deployment"),
                                               ("scaletargetref_name", "cart")))] = [(s, 1.0) for s in stamps[::10]]
    out[("kube_horizontalpodautoscaler_spec_target_metric", (*hpa, ("metric_name", "cpu"),
                                                             ("metric_target_type", "utilization")))] = [
        (s, 70.0) for s in stamps[::10]]
    out[("kube_horizontalpodautoscaler_spec_min_replicas", hpa)] = [(s, 2.0) for s in stamps[::10]]
    out[("kube_horizontalpodautoscaler_spec_max_replicas", hpa)] = [(s, 6.0) for s in stamps[::10]]
    return out


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    workdir: Path = tmp_path_factory.mktemp("usage-prom")
    with running_prometheus(workdir, _series()) as server:
        yield server


def test_reads_cpu_memory_oom_requests_and_hpa_per_workload(prometheus: PrometheusServer) -> None:
    with PrometheusClient(prometheus.url) as client:
        source = PrometheusUsageSource(client, end=END)
        found = source.fetch([CART, REDIS, GHOST], "1d")
    assert list(found) == [CART, REDIS, GHOST]
    cart, redis, ghost = found[CART], found[REDIS], found[GHOST]
    # one namespace: a fixed number of queries whatever the number of workloads
    assert source.queries <= 14

    assert [p.pod for p in cart.pods] == ["cart-7d9f8c6b5-abcde", "cart-7d9f8c6b5-fghij"]  # not cart-api
    assert [p.pod for p in redis.pods] == ["redis-0", "redis-1"]
    assert ghost.pods == () and ghost.cpu_samples == 0
    assert cart.step == 60.0 and cart.window == "1d"
    quiet, busy = cart.pods
    assert 1380 <= len(quiet.cpu) <= 1441
    assert np.median(quiet.cpu) == pytest.approx(0.2, rel=1e-3)
    assert np.median(busy.cpu) == pytest.approx(0.3, rel=1e-3)
    assert max(busy.cpu) == pytest.approx(0.8, rel=1e-3)
    assert max(busy.memory) == pytest.approx(400 * MIB)
    assert max(quiet.memory) < 206 * MIB  # the 1 GB "POD" series was not mixed in
    assert cart.replicas == 2

    assert redis.oom_kills == 2 and redis.restarts == 2
    assert cart.oom_kills == 0
    assert redis.oom_memory_limit == 768 * MIB
    assert redis.observed == ResourceValues(0.5, 1.0, 512 * MIB, 768 * MIB)
    restarted = redis.pods[1]
    assert restarted.started_at == pytest.approx([T0 + OOM_AT[0] * STEP, T0 + OOM_AT[1] * STEP])

    assert cart.hpa is not None and redis.hpa is None
    assert cart.hpa.resources == ("cpu",)
    assert cart.hpa.cpu_target_utilization == 70.0
    assert (cart.hpa.min_replicas, cart.hpa.max_replicas) == (2, 6)


def test_recommendations_from_real_prometheus_history(prometheus: PrometheusServer) -> None:
    source = PrometheusUsageSource(prometheus.url, end=END)
    try:
        found = source.fetch([CART, REDIS], "1d")
    finally:
        source.close()
    current = ResourceValues(0.5, 1.0, 512 * MIB, 768 * MIB)
    cart = recommend(found[CART], current, settings={"hpa": "adjust"})
    assert cart.evidence.p95_cpu == pytest.approx(0.8, rel=1e-3)  # 2 h of 24 h busy > 5 %
    assert cart.recommended is not None and cart.recommended.cpu_request == pytest.approx(0.8, abs=0.002)
    assert cart.reason is not None and "HPA cart scales on cpu at 70%" in cart.reason
    redis = recommend(found[REDIS], current)
    assert redis.evidence.oom_events == 2
    assert redis.recommended is not None
    assert redis.recommended.memory_limit == 960 * MIB  # 768Mi limit at the OOM kills x 1.25


def test_unreachable_prometheus_is_a_dependency_error() -> None:
    client = PrometheusClient("http://127.0.0.1:9", retries=0, timeout=1.0)
    with pytest.raises(DependencyError, match="unreachable"):
        PrometheusUsageSource(client, end=END).fetch([CART], "1d")
