"""`tollgate scan` on real trees: the corpus (Kubernetes, Terraform), a Helm chart, broken input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tollgate.cli.scan import scan_command
from tollgate.model import Severity
from tollgate.scan import scan_tree

pytestmark = pytest.mark.integration

CORPUS = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "corpus").resolve()
KUBE_PROMETHEUS = CORPUS / "k8s/kube-prometheus/manifests"
ARGO_INSTALL = CORPUS / "k8s/argo-cd/manifests/install.yaml"
EC2 = CORPUS / "terraform/terraform-aws-ec2-instance"
EKS = CORPUS / "terraform/terraform-aws-eks"


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    """stderr with Rich's line wrapping undone."""
    return "".join(capsys.readouterr().err.splitlines())


def _index(findings: tuple) -> set[tuple[str, str, str]]:  # type: ignore[type-arg]
    return {(f.rule_id, f.resource, f.file) for f in findings}


def test_kube_prometheus_node_exporter_and_operator_findings() -> None:
    result = scan_tree(KUBE_PROMETHEUS)
    assert result.resources > 100 and result.files > 80 and result.rules >= 50
    found = _index(result.findings)
    node_exporter = ("DaemonSet/monitoring/node-exporter", "nodeExporter-daemonset.yaml")
    for rule in ("TG-K8S-009", "TG-K8S-010", "TG-K8S-012", "TG-K8S-013"):  # hostNetwork, hostPID, hostPath, hostPort
        assert (rule, *node_exporter) in found
    host_paths = sorted(f.message for f in result.findings
                        if f.rule_id == "TG-K8S-012" and f.resource == node_exporter[0])
    assert any("'/sys'" in m for m in host_paths) and any("'/'" in m for m in host_paths)
    assert ("TG-K8S-029", "ClusterRole/prometheus-operator", "prometheusOperator-clusterRole.yaml") in found
    assert ("TG-K8S-020", "Deployment/monitoring/grafana", "grafana-deployment.yaml") in found
    # kube-prometheus hardens its containers: nobody escalates privileges or runs privileged
    assert not {f.rule_id for f in result.findings} & {"TG-K8S-005", "TG-K8S-006", "TG-K8S-016"}


def test_argo_cd_install_file_scanned_alone() -> None:
    result = scan_tree(ARGO_INSTALL)
    assert result.files == 1
    latest = {f.resource for f in result.findings if f.rule_id == "TG-K8S-004"}
    assert "Deployment/argocd-server" in latest  # quay.io/argoproj/argocd:latest
    wildcard = [f for f in result.findings if f.rule_id == "TG-K8S-029"
                and f.resource == "ClusterRole/argocd-application-controller"]
    assert wildcard and wildcard[0].file == "install.yaml" and wildcard[0].line is not None
    assert wildcard[0].line > 30_000  # the real line of the document in the 30k-line file
    assert ("TG-K8S-030", "Role/argocd-server", "install.yaml") in _index(result.findings)


def test_terraform_modules() -> None:
    ec2 = scan_tree(EC2)
    assert ec2.resources >= 20
    assert ("TG-TF-021", "aws_kms_key/this", "examples/complete/main.tf") in _index(ec2.findings)
    eks = scan_tree(EKS)
    hybrid = {f.rule_id for f in eks.findings if f.resource == "aws_instance/hybrid_node"}
    assert {"TG-TF-011", "TG-TF-012"} <= hybrid  # no IMDSv2, public IP
    (imds,) = [f for f in eks.findings if f.rule_id == "TG-TF-011"]
    # No metadata_options block at all: hygiene (medium); an explicit http_tokens = "optional" is high.
    assert imds.file == "examples/eks-hybrid-nodes/remote.tf" and imds.severity is Severity.MEDIUM
    assert (EKS / imds.file).read_text().splitlines()[imds.line - 1].startswith('resource "aws_instance" "hybrid_node"')


def test_json_output_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scan.json"
    rc = scan_command(KUBE_PROMETHEUS, "json", out)
    assert rc == 1  # high findings (hostNetwork, wildcard RBAC) fail the scan
    doc = json.loads(out.read_text())
    assert set(doc) >= {"tool", "root", "summary", "findings"}
    summary = doc["summary"]
    assert summary["findings"] == len([f for f in doc["findings"] if f["suppressed"] is None])
    assert summary["by_severity"]["high"] >= 4 and summary["failed"] is True
    first = doc["findings"][0]
    assert set(first) >= {"rule_id", "severity", "resource", "file", "line", "message", "remediation", "suppressed"}
    ranks = [Severity(f["severity"]).rank for f in doc["findings"] if f["suppressed"] is None]
    assert ranks == sorted(ranks, reverse=True)


def test_sarif_output_shape(tmp_path: Path) -> None:
    out = tmp_path / "scan.sarif"
    assert scan_command(EKS, "sarif", out) == 0  # only medium findings: reported, the scan does not fail
    log = json.loads(out.read_text())
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "tollgate"
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {"TG-TF-011", "TG-TF-012"} <= rule_ids
    result = next(r for r in run["results"] if r["ruleId"] == "TG-TF-011")
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "examples/eks-hybrid-nodes/remote.tf"
    assert loc["region"]["startLine"] == 97 and result["level"] == "warning"


def test_suppressions_by_annotation_and_comment(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "agent.yaml").write_text(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\n  namespace: ops\n"
        "  annotations:\n    tollgate.dev/ignore-TG-K8S-009: \"CNI agent configures the node network\"\n"
        "spec:\n  template:\n    spec:\n      hostNetwork: true\n"
        "      containers: [{name: a, image: ghcr.io/acme/agent:1.0}]\n")
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.tf").write_text(
        '# tollgate:ignore=TG-TF-002 public website bucket (SEC-7)\n'
        'resource "aws_s3_bucket_acl" "site" {\n  bucket = "site"\n  acl    = "public-read"\n}\n'
        '# tollgate:ignore=TG-TF-007\n'
        'resource "aws_db_instance" "db" {\n  storage_encrypted   = true\n  publicly_accessible = true\n}\n')
    result = scan_tree(tmp_path)
    by_rule = {f.rule_id: f for f in result.findings}
    assert by_rule["TG-K8S-009"].suppressed == "CNI agent configures the node network"
    assert by_rule["TG-TF-002"].suppressed == "public website bucket (SEC-7)"
    assert by_rule["TG-TF-002"].file == "infra/main.tf" and by_rule["TG-TF-002"].line == 2
    assert by_rule["TG-TF-007"].suppressed is None  # no reason given: not waived ...
    assert by_rule["TG-SUPPRESS-001"].resource == "aws_db_instance/db"  # ... and reported
    assert scan_command(tmp_path, "table", tmp_path / "out.txt") == 1  # the public RDS still fails


def test_broken_yaml_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (tmp_path / "apps" / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: [1, 2\n  b: 3\n")
    assert scan_command(tmp_path, "json", None) == 2
    err = _err(capsys)
    assert "apps/broken.yaml:" in err
    line = int(err.split("apps/broken.yaml:", 1)[1].split(":", 1)[0])
    assert line in (6, 7)


def test_broken_hcl_and_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "b" {\n  bucket = "x"\n')
    assert scan_command(tmp_path, "table", None) == 2
    assert "main.tf" in _err(capsys)
    assert scan_command(tmp_path / "nope", "table", None) == 2
    assert "no such file or directory" in _err(capsys)
    assert scan_command(tmp_path, "xml", None) == 2


def test_helm_chart_is_rendered_not_read_as_yaml(tmp_path: Path) -> None:
    chart = tmp_path / "charts" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("image: nginx:1.27\nhostNetwork: true\n")
    (chart / "templates" / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-web\n"
        "spec:\n  template:\n    spec:\n      hostNetwork: {{ .Values.hostNetwork }}\n"
        "      containers:\n        - name: web\n          image: {{ .Values.image | quote }}\n")
    result = scan_tree(tmp_path)
    rules = {(f.rule_id, f.resource.split("/")[-1]) for f in result.findings}
    assert ("TG-K8S-009", "web-web") in rules and ("TG-K8S-020", "web-web") in rules


def test_clean_tree_passes(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parents[2] / "src/tollgate/policy/fixtures/TG-K8S-006/secure-pass.yaml"
    shutil.copy(fixture, tmp_path / "web.yaml")
    assert scan_command(tmp_path, "json", tmp_path / "out.json") == 0
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["summary"]["failed"] is False
    assert [f["rule_id"] for f in doc["findings"]] == ["TG-K8S-001"]  # only the cost-center label policy
