"""Each built-in rule on small hand-made manifests (violating and compliant) and on the real corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import hcl2
import pytest
from policy_helpers import CORPUS, container, load_yaml, to_manifest, workload

from tollgate.model import Manifest, Severity, SourceLocation
from tollgate.model.manifests import TERRAFORM_API_VERSION
from tollgate.policy.engine import evaluate
from tollgate.policy.params import PolicyParams

Make = Callable[..., Manifest]
WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job",
                  "CronJob", "Pod"]


def ids(manifest: Manifest, params: PolicyParams | None = None) -> list[str]:
    return [f.rule_id for f in evaluate([manifest], params=params)]


def compliant(kind: str = "Deployment", **kwargs: Any) -> dict[str, Any]:
    return workload(kind, containers=[container()], labels={"cost-center": "cc-1"}, **kwargs)


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_compliant_workload_of_every_kind_has_no_findings(kind: str) -> None:
    assert evaluate([to_manifest(compliant(kind))]) == []


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_every_workload_kind_reaches_its_containers(kind: str) -> None:
    doc = workload(kind, labels={"cost-center": "x"}, containers=[container(image="nginx:latest")])
    findings = evaluate([to_manifest(doc)])
    assert [f.rule_id for f in findings] == ["TG-K8S-004"]
    assert "nginx:latest" in findings[0].message


def test_argo_rollout_is_a_workload_but_a_foreign_rollout_kind_is_not() -> None:
    argo = workload("Rollout", api_version="argoproj.io/v1alpha1", containers=[container(requests=False)],
                    labels={"cost-center": "x"})
    other = workload("Rollout", api_version="example.com/v1", containers=[container(requests=False)])
    assert ids(to_manifest(argo)) == ["TG-K8S-002"]
    assert ids(to_manifest(other)) == []


def test_required_label_is_reported_by_key_and_configurable(make: Make) -> None:
    bare = make(containers=[container()], labels={"team": "a"})
    findings = evaluate([bare])
    assert [(f.rule_id, f.severity) for f in findings] == [("TG-K8S-001", Severity.MEDIUM)]
    assert "'cost-center'" in findings[0].message
    params = PolicyParams(required_labels=("team", "owner", "cost-center"))
    messages = [f.message for f in evaluate([bare], params=params)]
    assert len(messages) == 2
    assert any("'owner'" in m for m in messages) and any("'cost-center'" in m for m in messages)
    assert evaluate([bare], params=PolicyParams(required_labels=())) == []


def test_empty_label_value_counts_as_missing(make: Make) -> None:
    assert ids(make(containers=[container()], labels={"cost-center": ""})) == ["TG-K8S-001"]


def test_labels_are_not_required_on_non_workloads() -> None:
    cm = to_manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}})
    assert evaluate([cm]) == []


def test_requests_and_limits_name_the_container_and_the_missing_resource(make: Make) -> None:
    half = container("sidecar")
    half["resources"] = {"requests": {"cpu": "10m"}, "limits": {"memory": "64Mi"}}
    manifest = make(labels={"cost-center": "x"},
                    containers=[container("main"), container("nolimits", limits=False), half])
    found = {(f.rule_id, f.message) for f in evaluate([manifest])}
    assert found == {
        ("TG-K8S-003", "container 'nolimits' of Deployment web has no cpu, memory limit"),
        ("TG-K8S-002", "container 'sidecar' of Deployment web has no memory request"),
        ("TG-K8S-003", "container 'sidecar' of Deployment web has no cpu limit"),
    }


def test_init_containers_are_not_held_to_requests_by_default(make: Make) -> None:
    manifest = make(labels={"cost-center": "x"}, containers=[container()],
                    initContainers=[container("init", requests=False, limits=False)])
    assert ids(manifest) == []


@pytest.mark.parametrize(
    ("image", "flagged"),
    [
        ("nginx", True),
        ("nginx:latest", True),
        ("localhost:5000/team/app", True),
        ("localhost:5000/team/app:latest", True),
        ("nginx:1.27", False),
        ("localhost:5000/team/app:v2", False),
        ("nginx@sha256:" + "a" * 64, False),
        ("nginx:latest@sha256:" + "b" * 64, False),
    ],
)
def test_image_tags(make: Make, image: str, flagged: bool) -> None:
    findings = evaluate([make(labels={"cost-center": "x"}, containers=[container(image=image)])])
    assert [f.rule_id for f in findings] == (["TG-K8S-004"] if flagged else [])
    if flagged:
        assert f"'{image}'" in findings[0].message
        assert findings[0].severity is Severity.HIGH


def test_images_of_init_and_ephemeral_containers_are_checked(make: Make) -> None:
    manifest = make(
        labels={"cost-center": "x"},
        containers=[container()],
        initContainers=[{"name": "init", "image": "busybox"}],
        ephemeralContainers=[{"name": "debug", "image": "alpine:latest"}],
    )
    messages = sorted(f.message for f in evaluate([manifest]))
    assert messages == [
        "container 'debug' of Deployment web uses image 'alpine:latest' (floating tag 'latest')",
        "container 'init' of Deployment web uses image 'busybox' (no tag)",
    ]


@pytest.mark.parametrize("where", ["containers", "initContainers", "ephemeralContainers"])
def test_privileged_container_is_critical_wherever_it_is(make: Make, where: str) -> None:
    evil = container("evil", securityContext={"privileged": True})
    pod: dict[str, Any] = {"containers": [container()]}
    pod[where] = [*pod.get(where, []), evil]
    manifest = make(labels={"cost-center": "x"}, **pod) if where != "containers" else make(
        labels={"cost-center": "x"}, containers=pod["containers"])
    findings = evaluate([manifest])
    assert [(f.rule_id, f.severity) for f in findings] == [("TG-K8S-005", Severity.CRITICAL)]
    assert "'evil'" in findings[0].message


def test_privileged_false_passes(make: Make) -> None:
    safe = container(securityContext={"privileged": False, "runAsNonRoot": True})
    assert ids(make(labels={"cost-center": "x"}, containers=[safe])) == []


def test_finding_carries_source_location_resource_and_remediation(make: Make) -> None:
    doc = workload(labels={"cost-center": "x"}, containers=[container(image="nginx")])
    manifest = to_manifest(doc, file="apps/web/deploy.yaml", line=12)
    (finding,) = evaluate([manifest])
    assert (finding.file, finding.line, finding.resource) == ("apps/web/deploy.yaml", 12, "Deployment/shop/web")
    assert finding.source == "builtin"
    assert "Pin the image" in finding.remediation


# --- Terraform -----------------------------------------------------------------------------------


def tf(kind: str, name: str, body: dict[str, Any]) -> Manifest:
    return Manifest(TERRAFORM_API_VERSION, kind, name, "", body, SourceLocation("infra/main.tf", 3))


ALLOW = PolicyParams(allowed_instance_types=("t3.*", "m5.large", "db.t3.micro"))


def test_instance_types_are_inactive_without_an_allow_list() -> None:
    assert evaluate([tf("aws_instance", "web", {"instance_type": "p4d.24xlarge"})]) == []


@pytest.mark.parametrize(
    ("kind", "body", "bad"),
    [
        ("aws_instance", {"instance_type": "t3.micro"}, []),
        ("aws_instance", {"instance_type": "c5.xlarge"}, ["c5.xlarge"]),
        ("aws_instance", {"instance_type": '"c5.xlarge"'}, ["c5.xlarge"]),  # quotes kept by hcl2
        ("aws_instance", {"instance_type": "${var.instance_type}"}, []),  # not a literal: unknown here
        ("aws_instance", {"instance_type": "var.instance_type"}, []),
        ("aws_launch_template", {"instance_type": "m6i.large"}, ["m6i.large"]),
        ("aws_eks_node_group", {"instance_types": ["m5.large", "p4d.24xlarge"]}, ["p4d.24xlarge"]),
        ("aws_db_instance", {"instance_class": "db.r5.large"}, ["db.r5.large"]),
        ("aws_db_instance", {"instance_class": "db.t3.micro"}, []),
        ("module", {"eks_managed_node_groups": {"a": {"instance_types": ["m5.large"]},
                                                "b": {"instance_types": ["c5.4xlarge"]}}}, ["c5.4xlarge"]),
        ("module", {"instance_type": "r5.large"}, ["r5.large"]),
        ("aws_s3_bucket", {"instance_type": "c5.xlarge"}, []),
    ],
)
def test_allowed_instance_types(kind: str, body: dict[str, Any], bad: list[str]) -> None:
    findings = evaluate([tf(kind, "x", body)], params=ALLOW)
    assert [f.rule_id for f in findings] == ["TG-TF-001"] * len(bad)
    for finding, value in zip(findings, bad, strict=True):
        assert f"'{value}'" in finding.message
        assert finding.resource == f"{kind}/x"


def test_a_kubernetes_kind_named_like_a_terraform_type_is_not_checked() -> None:
    fake = to_manifest({"apiVersion": "v1", "kind": "aws_instance", "metadata": {"name": "n"},
                        "instance_type": "c5.xlarge"})
    assert evaluate([fake], params=ALLOW) == []


# --- real corpus ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def argo_cd() -> list[Manifest]:
    return load_yaml(CORPUS / "k8s/argo-cd/manifests/install.yaml")


def _containers(manifest: Manifest) -> list[str]:
    spec = manifest.body["spec"]
    pod = spec["jobTemplate"]["spec"]["template"]["spec"] if manifest.kind == "CronJob" else (
        spec if manifest.kind == "Pod" else spec["template"]["spec"])
    return [c["name"] for c in pod.get("containers", [])]


def test_argo_cd_install_has_a_request_finding_for_every_container(argo_cd: list[Manifest]) -> None:
    workloads = [m for m in argo_cd if m.kind in WORKLOAD_KINDS]
    expected = {(str(m.key), name) for m in workloads for name in _containers(m)}
    assert len(workloads) == 7 and len(expected) >= len(workloads)
    findings = [f for f in evaluate(argo_cd) if f.rule_id == "TG-K8S-002"]
    got = {(f.resource, f.message.split("'")[1]) for f in findings}
    assert got == expected
    assert all("cpu, memory request" in f.message for f in findings)
    assert all(f.file == "k8s/argo-cd/manifests/install.yaml" and f.line for f in findings)


def test_argo_cd_latest_images_are_flagged(argo_cd: list[Manifest]) -> None:
    latest = [f for f in evaluate(argo_cd) if f.rule_id == "TG-K8S-004"]
    assert latest and all("argocd:latest" in f.message or "latest" in f.message for f in latest)


def test_microservices_demo_sets_every_request_and_limit() -> None:
    files = sorted((CORPUS / "k8s/microservices-demo/release").glob("*.yaml"))
    manifests = [m for path in files for m in load_yaml(path)]
    deployments = [m for m in manifests if m.kind == "Deployment"]
    assert len(deployments) == 12
    findings = evaluate(manifests)
    assert [f for f in findings if f.rule_id in ("TG-K8S-002", "TG-K8S-003", "TG-K8S-004")] == []
    # the release bundle pins every image; only the cost-center label is missing
    assert {f.rule_id for f in findings} == {"TG-K8S-001"}


def test_microservices_demo_per_service_files_use_bare_image_names() -> None:
    manifests = load_yaml(CORPUS / "k8s/microservices-demo/kubernetes-manifests/frontend.yaml")
    messages = [f.message for f in evaluate(manifests) if f.rule_id == "TG-K8S-004"]
    assert messages == ["container 'server' of Deployment frontend uses image 'frontend' (no tag)"]


def _terraform(path: Path) -> list[Manifest]:
    data = hcl2.loads(path.read_text(encoding="utf-8"))
    out = []
    for block in data.get("resource", []):
        for rtype, by_name in block.items():
            for rname, attrs in by_name.items():
                out.append(Manifest(TERRAFORM_API_VERSION, rtype.strip('"'), rname.strip('"'), "", attrs,
                                    SourceLocation(str(path.relative_to(CORPUS)))))
    for block in data.get("module", []):
        for mname, attrs in block.items():
            out.append(Manifest(TERRAFORM_API_VERSION, "module", mname.strip('"'), "", attrs,
                                SourceLocation(str(path.relative_to(CORPUS)))))
    return out


def test_ec2_complete_example_instance_types_against_an_allow_list() -> None:
    manifests = _terraform(CORPUS / "terraform/terraform-aws-ec2-instance/examples/complete/main.tf")
    findings = evaluate(manifests, params=PolicyParams(allowed_instance_types=("t3.*",)))
    values = {f.message.split("'")[1] for f in findings}
    assert findings and all(f.rule_id == "TG-TF-001" for f in findings)
    assert not any(v.startswith("t3.") for v in values)
    assert "c5.xlarge" in values or "m4.large" in values
    everything = PolicyParams(allowed_instance_types=("*",))
    assert evaluate(manifests, params=everything) == []
