from __future__ import annotations

from typing import Any

import pytest

from tollgate.cost.estimate import state_cost
from tollgate.cost.kubernetes import ContainerUsage, HpaBounds, estimate_workload, find_hpas
from tollgate.cost.pricebook import default_pricebook
from tollgate.errors import ParseError
from tollgate.model.cost import PriceSource

from ._helpers import corpus_manifests, corpus_object, manifest

CPU, RAM, GPU, DISK = 0.031611, 0.004237, 0.95, 0.00005479452
H = 730
BOOK = default_pricebook()


def deployment(containers: list[dict[str, Any]], replicas: int | None = 1, kind: str = "Deployment",
               init: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": containers}
    if init is not None:
        pod["initContainers"] = init
    body: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": pod}, **spec},
    }
    if replicas is not None:
        body["spec"]["replicas"] = replicas
    return body


def c(name: str, cpu: str | None = None, mem: str | None = None, **extra: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", mem)) if v is not None}
    return {"name": name, "resources": {"requests": requests}, **extra}


def test_microservices_demo_frontend_by_hand() -> None:
    frontend = corpus_object("microservices-demo/kubernetes-manifests/frontend.yaml", "Deployment", "frontend")
    est = estimate_workload(frontend, BOOK)
    assert est is not None and est.replicas == 1
    per_replica = 0.1 * CPU * H + (64 / 1024) * RAM * H  # 100m CPU, 64Mi
    assert est.monthly == pytest.approx(per_replica, rel=1e-12)
    assert est.monthly_per_replica == pytest.approx(per_replica, rel=1e-12)
    assert est.notes == ()


def test_argo_cd_install_has_no_requests_so_costs_zero_with_notes() -> None:
    state = corpus_manifests("argo-cd/manifests/install.yaml")
    report = state_cost(state, BOOK)
    workloads = [i for i in report.items if i.key.kind in ("Deployment", "StatefulSet")]
    assert len(workloads) == 7  # 6 Deployments + application-controller StatefulSet
    assert report.monthly_after == 0.0
    assert all(not i.unknown and "no requests" in i.note for i in workloads)
    server = next(i for i in workloads if i.key.name == "argocd-server")
    assert "argocd-server (cpu, memory)" in server.note


def test_kube_prometheus_prometheus_cr_two_replicas_400mi() -> None:
    prom = corpus_object("kube-prometheus/manifests/prometheus-prometheus.yaml", "Prometheus")
    est = estimate_workload(prom, BOOK)
    assert est is not None and est.replicas == 2
    assert est.monthly == pytest.approx(2 * (400 / 1024) * RAM * H, rel=1e-12)
    # only memory is requested: CPU is noted as missing
    assert "prometheus (cpu)" in est.note


def test_kube_prometheus_alertmanager_cr() -> None:
    am = corpus_object("kube-prometheus/manifests/alertmanager-alertmanager.yaml", "Alertmanager")
    est = estimate_workload(am, BOOK)
    assert est is not None and est.replicas == 3
    assert est.monthly == pytest.approx(3 * (0.004 * CPU + (100 / 1024) * RAM) * H, rel=1e-12)


@pytest.mark.parametrize("nodes", [1, 3, 7])
def test_node_exporter_daemonset_times_node_count(nodes: int) -> None:
    ds = corpus_object("kube-prometheus/manifests/nodeExporter-daemonset.yaml", "DaemonSet")
    est = estimate_workload(ds, BOOK, node_count=nodes)
    assert est is not None and est.replicas == nodes and est.scales_with_node_count
    # node-exporter 102m/180Mi + kube-rbac-proxy 10m/20Mi
    per_node = (0.112 * CPU + (200 / 1024) * RAM) * H
    assert est.monthly == pytest.approx(nodes * per_node, rel=1e-12)


def test_vllm_gpu_deployment_with_hpa_min_and_max() -> None:
    dep = corpus_object("kubernetes-examples/AI/vllm-deployment/vllm-deployment.yaml", "Deployment")
    hpa_objs = corpus_manifests("kubernetes-examples/AI/vllm-deployment/hpa/horizontal-pod-autoscaler.yaml")
    # the example HPA has no namespace, like its Deployment: both default here
    hpas = find_hpas(hpa_objs)
    assert hpas[dep.key] == HpaBounds("gemma-server-hpa", 1, 5)
    est = estimate_workload(dep, BOOK, hpa=hpas[dep.key])
    per_replica = (2 * CPU + 10 * RAM + 1 * GPU) * H
    assert est is not None
    assert est.replicas == 1 and est.max_replicas == 5
    assert est.monthly == pytest.approx(per_replica, rel=1e-12)
    assert est.monthly_max == pytest.approx(5 * per_replica, rel=1e-12)
    assert "HPA gemma-server-hpa: 1-5 replicas" in est.note


def test_init_containers_take_max_of_largest_init_and_sum_of_apps() -> None:
    body = deployment(
        [c("a", "100m", "100Mi"), c("b", "200m", "50Mi")],
        init=[c("migrate", "1", "64Mi"), c("warm", "50m", "512Mi")],
    )
    est = estimate_workload(manifest(body), BOOK)
    assert est is not None and est.requests is not None
    assert est.requests.cpu_cores == pytest.approx(1.0)  # init 1 core > 300m of apps
    assert est.requests.memory_bytes == 512 * 2**20  # init 512Mi > 150Mi of apps


def test_sidecar_init_containers_add_to_app_containers() -> None:
    body = deployment(
        [c("app", "500m", "256Mi")],
        init=[c("proxy", "100m", "64Mi", restartPolicy="Always"), c("setup", "550m", "32Mi")],
    )
    est = estimate_workload(manifest(body), BOOK)
    assert est is not None and est.requests is not None
    # setup runs beside the already started proxy: 650m > 600m of app + proxy
    assert est.requests.cpu_cores == pytest.approx(0.65)
    assert est.requests.memory_bytes == (256 + 64) * 2**20


def test_limit_only_counts_as_request_and_missing_request_costs_zero() -> None:
    body = deployment([{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, c("side")])
    est = estimate_workload(manifest(body), BOOK)
    assert est is not None
    assert est.monthly == pytest.approx((CPU + RAM) * H)
    assert est.note.startswith("no requests: side (cpu, memory)")


def test_replica_scaling_and_usage_hook() -> None:
    body = deployment([c("app", "250m", "512Mi")], replicas=4)
    est = estimate_workload(manifest(body), BOOK)
    assert est is not None
    assert est.monthly == pytest.approx(4 * (0.25 * CPU + 0.5 * RAM) * H)
    used = estimate_workload(manifest(body), BOOK, usage={"app": ContainerUsage(cpu_cores=0.75, memory_bytes=1)})
    assert used is not None
    # max(request, usage): CPU rises to the measured 750m, memory stays at the 512Mi request
    assert used.monthly == pytest.approx(4 * (0.75 * CPU + 0.5 * RAM) * H)


def test_statefulset_volume_claim_templates_per_replica() -> None:
    body = deployment([c("db", "500m", "1Gi")], replicas=3, kind="StatefulSet")
    body["spec"]["volumeClaimTemplates"] = [
        {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "100Gi"}}}},
        {"metadata": {"name": "wal"}, "spec": {"resources": {"requests": {"storage": "10Gi"}}}},
    ]
    est = estimate_workload(manifest(body), BOOK)
    assert est is not None
    assert est.storage_bytes_per_replica == 110 * 2**30
    assert est.monthly == pytest.approx(3 * (0.5 * CPU + 1 * RAM + 110 * DISK) * H)


def test_pvc_costs_its_storage() -> None:
    pvc = manifest({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                    "spec": {"resources": {"requests": {"storage": "50Gi"}}}})
    est = estimate_workload(pvc, BOOK)
    assert est is not None and est.monthly == pytest.approx(50 * DISK * H)


def test_pod_and_replication_controller_and_replicaset() -> None:
    pod = manifest({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                    "spec": {"containers": [c("x", "1", "1Gi")]}})
    assert estimate_workload(pod, BOOK).monthly == pytest.approx((CPU + RAM) * H)  # type: ignore[union-attr]
    for kind in ("ReplicationController", "ReplicaSet"):
        est = estimate_workload(manifest(deployment([c("x", "1", "1Gi")], replicas=2, kind=kind)), BOOK)
        assert est is not None and est.monthly == pytest.approx(2 * (CPU + RAM) * H)
    # replicas left out means one
    est = estimate_workload(manifest(deployment([c("x", "1", "1Gi")], replicas=None)), BOOK)
    assert est is not None and est.replicas == 1


def test_argo_rollout_with_template_and_with_workload_ref() -> None:
    body = deployment([c("x", "1", "1Gi")], replicas=3, kind="Rollout")
    body["apiVersion"] = "argoproj.io/v1alpha1"
    est = estimate_workload(manifest(body), BOOK)
    assert est is not None and est.monthly == pytest.approx(3 * (CPU + RAM) * H)
    ref = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
           "spec": {"replicas": 3, "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}
    est = estimate_workload(manifest(ref), BOOK)
    assert est is not None and est.unknown and "workloadRef" in est.note


def test_jobs_and_non_workloads_are_not_priced() -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "spec": {"template": {"spec": {"containers": [c("x", "1", "1Gi")]}}}}
    assert estimate_workload(manifest(job), BOOK) is None
    assert estimate_workload(manifest({"kind": "ConfigMap", "metadata": {"name": "x"}}), BOOK) is None
    # a CRD that happens to be named Prometheus in another group is not the operator's CR
    other = {"apiVersion": "example.com/v1", "kind": "Prometheus", "metadata": {"name": "x"}, "spec": {"replicas": 9}}
    assert estimate_workload(manifest(other), BOOK) is None


def test_gpu_from_amd_limits() -> None:
    body = deployment([{"name": "x", "resources": {"limits": {"amd.com/gpu": 2}, "requests": {"cpu": "1",
                                                                                          "memory": "1Gi"}}}])
    est = estimate_workload(manifest(body), BOOK)
    assert est is not None and est.requests is not None and est.requests.gpus == 2
    assert est.monthly == pytest.approx((CPU + RAM + 2 * GPU) * H)


def test_bad_quantity_names_file_line_and_field() -> None:
    body = deployment([c("app", "lots", "1Gi")])
    with pytest.raises(ParseError) as info:
        estimate_workload(manifest(body, file="apps/web.yaml", line=12), BOOK)
    text = str(info.value)
    assert text.startswith("apps/web.yaml:12:")
    assert "containers[0].resources.requests.cpu" in text and "'lots'" in text


def test_templated_replicas_are_unknown_not_zero() -> None:
    est = estimate_workload(manifest(deployment([c("x", "1", "1Gi")], replicas="{{ .Values.n }}")), BOOK)  # type: ignore[arg-type]
    assert est is not None and est.unknown and "replicas" in est.note


def test_state_cost_uses_resource_source_and_sums_microservices_demo() -> None:
    state = corpus_manifests("microservices-demo/release/kubernetes-manifests.yaml")
    report = state_cost(state, BOOK)
    deployments = [i for i in report.items if i.key.kind == "Deployment"]
    assert len(deployments) == 12
    assert all(i.price_source is PriceSource.DEFAULT for i in deployments)
    # corpus README: requests sum to 1.57 vCPU / 1368 MiB at one replica each
    expected = (1.57 * CPU + (1368 / 1024) * RAM) * H
    assert report.monthly_after == pytest.approx(expected, rel=1e-9)
