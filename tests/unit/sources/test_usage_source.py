"""Usage source: durations, pod-name shapes, batching per namespace, the fake source."""

from __future__ import annotations

import pytest

from tollgate.errors import InputError
from tollgate.model.canary import Series
from tollgate.model.rightsize import ContainerUsage, WorkloadContainer
from tollgate.sources.metrics import LabeledSeries
from tollgate.sources.usage import FakeUsageSource, PrometheusUsageSource, parse_duration, pod_belongs_to


@pytest.mark.parametrize(("text", "seconds"), [("14d", 14 * 86400), ("1d12h", 129600), ("90m", 5400),
                                               ("2w", 1209600), ("30s", 30)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "14", "d", "14x", "1d 2h", "-1d", "0d"])
def test_parse_duration_rejects_bad_text(text: str) -> None:
    with pytest.raises(InputError, match="history"):
        parse_duration(text, field="history")


@pytest.mark.parametrize(
    ("pod", "kind", "name", "expected"),
    [
        ("cart-7d9f8c6b5-abcde", "Deployment", "cart", True),
        ("cart-api-7d9f8c6b5-abcde", "Deployment", "cart", False),
        ("cart-api-7d9f8c6b5-abcde", "Deployment", "cart-api", True),
        ("redis-0", "StatefulSet", "redis", True),
        ("redis-12", "StatefulSet", "redis", True),
        ("redis-x", "StatefulSet", "redis", False),
        ("node-exporter-x8k2p", "DaemonSet", "node-exporter", True),
        ("node-exporter-x8k2p", "DaemonSet", "node", False),
        ("backup-28461120-q7x2m", "CronJob", "backup", True),
    ],
)
def test_pod_belongs_to(pod: str, kind: str, name: str, expected: bool) -> None:
    assert pod_belongs_to(pod, kind, name) is expected


class RecordingSource:
    """A MetricSource answering CPU and memory queries with one series per pod it was told about."""

    def __init__(self, pods: dict[str, tuple[str, str]]) -> None:
        self.pods = pods  # pod -> (namespace, container)
        self.queries: list[str] = []

    def query_range(self, query: str, start: float, end: float, step: float) -> list[LabeledSeries]:
        self.queries.append(query)
        if "container_cpu_usage_seconds_total" not in query and "working_set" not in query:
            return []
        value = 0.25 if "cpu" in query else 1e8
        times = tuple(start + i * step for i in range(int((end - start) // step) + 1))
        return [
            LabeledSeries({"pod": pod, "container": container}, Series((value,) * len(times), times))
            for pod, (namespace, container) in self.pods.items()
            if f'namespace="{namespace}"' in query
        ]


def test_queries_are_batched_per_namespace_not_per_container() -> None:
    targets = [WorkloadContainer("Deployment", "a", f"svc{i}", "app") for i in range(20)]
    targets.append(WorkloadContainer("StatefulSet", "b", "db", "postgres"))
    pods = {f"svc{i}-5f6d7c8b9-k2j4h": ("a", "app") for i in range(20)}
    pods["db-0"] = ("b", "postgres")
    fake = RecordingSource(pods)
    found = PrometheusUsageSource(fake, end=1_700_000_000.0).fetch(targets, "6h")
    per_a = sum('namespace="a"' in q for q in fake.queries)
    per_b = sum('namespace="b"' in q for q in fake.queries)
    assert per_a == per_b <= 14  # 20 workloads cost no more queries than one
    assert per_a + per_b == len(fake.queries)
    cpu_queries = [q for q in fake.queries if "container_cpu_usage_seconds_total" in q]
    assert len(cpu_queries) == 2
    assert 'pod=~"(svc0|svc1|svc10' in cpu_queries[0] and 'container=~"app"' in cpu_queries[0]
    assert found[targets[3]].pods[0].pod == "svc3-5f6d7c8b9-k2j4h"
    assert found[targets[-1]].pods[0].cpu[0] == 0.25
    assert found[targets[-1]].cpu_samples == 361  # 6 h at the 60 s step, both ends included


def test_step_keeps_at_most_max_points() -> None:
    source = PrometheusUsageSource(RecordingSource({}), max_points=10_000)
    assert source.step_for(3600) == 60.0
    assert source.step_for(14 * 86400) == 121.0


def test_fake_usage_source_returns_every_target() -> None:
    known = WorkloadContainer("Deployment", "a", "web", "nginx")
    other = WorkloadContainer("Deployment", "a", "api", "app")
    fake = FakeUsageSource({known: ContainerUsage(known, window="7d", oom_kills=1)})
    found = fake.fetch([known, other], "7d")
    assert found[known].oom_kills == 1
    assert found[other].pods == () and found[other].window == "7d"
    assert fake.calls == [((known, other), "7d")]
    with pytest.raises(InputError):
        fake.fetch([known], "a week")
