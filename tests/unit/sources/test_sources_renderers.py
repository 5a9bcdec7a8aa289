"""Renderers that run in-process (raw YAML, Terraform) and renderer selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.errors import ParseError, ToolNotFoundError
from tollgate.model.config import AppSource, AppSpec
from tollgate.model.manifests import TERRAFORM_API_VERSION
from tollgate.settings import RenderSettings
from tollgate.sources.git import FakeGitSource
from tollgate.sources.renderers import (
    RENDERERS,
    RenderContext,
    TerraformRenderer,
    detect_source,
    helm_command,
    kustomize_command,
    release_name,
    renderer_for,
)

CORPUS = (Path(__file__).resolve().parents[3] / "../shared/data/corpus").resolve()

DEPLOY = """\
# a comment first
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
---
apiVersion: v1
kind: Service
metadata:
  name: web
"""


def _ctx(files: dict[str, str | bytes]) -> RenderContext:
    git = FakeGitSource()
    sha = git.commit(files)

    def no_disk() -> Path:
        raise AssertionError("raw YAML and Terraform must not export the repo")

    return RenderContext(tuple(git.list_files(sha)), lambda p: git.read_files(sha, p), no_disk)


def test_raw_yaml_reads_objects_with_file_and_line() -> None:
    ctx = _ctx(
        {
            "apps/web/deploy.yaml": DEPLOY,
            "apps/web/extra/cm.yml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n",
            "apps/web/values.yaml": "replicas: 3\nimage: nginx\n",  # not a Kubernetes object
            "apps/web/job.yaml": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n",
            "apps/web/overlay/kustomization.yaml": "resources: [../deploy.yaml]\n",
            "apps/web/overlay/patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
            "apps/web/README.md": "# docs",
            "other/x.yaml": DEPLOY,
        }
    )
    result = RENDERERS[AppSource.RAW].render(AppSpec("web", "apps/web"), ctx)

    found = {(m.kind, m.namespace, m.name, m.source.file, m.source.line) for m in result.manifests}
    assert found == {
        ("Deployment", "shop", "web", "apps/web/deploy.yaml", 2),
        ("Service", "", "web", "apps/web/deploy.yaml", 10),
        ("ConfigMap", "", "cfg", "apps/web/extra/cm.yml", 1),
    }
    assert [(s.kind, s.name, s.file) for s in result.skipped] == [("Job", "migrate-", "apps/web/job.yaml")]
    assert "generateName" in result.skipped[0].reason and "line 1" in result.skipped[0].reason


def test_raw_yaml_broken_file_is_a_parse_error() -> None:
    ctx = _ctx({"k8s/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n"})
    with pytest.raises(ParseError) as info:
        RENDERERS[AppSource.RAW].render(AppSpec("k8s", "k8s"), ctx)
    assert info.value.file == "k8s/bad.yaml"
    assert info.value.line is not None and info.value.line >= 4


def test_detection_order_and_explicit_source() -> None:
    files = ["a/kustomization.yaml", "a/Chart.yaml", "a/main.tf", "b/Chart.yaml", "c/main.tf", "c/x.yaml", "d/x.yaml"]
    assert detect_source(files, "a") is AppSource.KUSTOMIZE
    assert detect_source([f for f in files if f.startswith("b/")], "b") is AppSource.HELM
    assert detect_source([f for f in files if f.startswith("c/")], "c") is AppSource.TERRAFORM
    assert detect_source(["c/sub/main.tf"], "c") is AppSource.RAW  # .tf must be in the directory itself
    assert renderer_for(AppSpec("d", "d"), ["d/x.yaml"]).source is AppSource.RAW
    assert renderer_for(AppSpec("a", "a", source=AppSource.HELM), files).source is AppSource.HELM
    assert list(RENDERERS) == [AppSource.KUSTOMIZE, AppSource.HELM, AppSource.TERRAFORM, AppSource.RAW]


def test_missing_kustomize_names_both_programs() -> None:
    with pytest.raises(ToolNotFoundError) as info:
        kustomize_command(RenderSettings(kustomize="/nonexistent/kustomize-xyz"))
    message = str(info.value)
    assert "kustomize-xyz" in message and "kubectl" in message and "kustomize" in message


def test_missing_helm_is_tool_not_found() -> None:
    with pytest.raises(ToolNotFoundError, match="helm-nope"):
        helm_command(RenderSettings(helm="helm-nope"))


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (AppSpec("apps/Web_Shop", "x"), "web-shop"),
        (AppSpec("x", "x", release_name="Exact"), "Exact"),
        (AppSpec("a" * 80, "x"), "a" * 53),
    ],
)
def test_release_name(app: AppSpec, expected: str) -> None:
    assert release_name(app) == expected


def test_terraform_eks_module_resources_and_module_calls() -> None:
    root = CORPUS / "terraform/terraform-aws-eks"
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.tf")}
    ctx = _ctx(files)

    result = RENDERERS[AppSource.TERRAFORM].render(AppSpec("eks", ""), ctx)
    by_key = {(m.kind, m.name): m for m in result.manifests}
    assert all(m.api_version == TERRAFORM_API_VERSION and m.namespace == "" for m in result.manifests)
    assert all("/" not in m.source.file for m in result.manifests)  # only the root module's files
    cluster = by_key[("aws_eks_cluster", "this")]
    text = files[cluster.source.file].decode()
    assert text.splitlines()[cluster.source.line - 1].startswith('resource "aws_eks_cluster" "this"')
    assert cluster.body["name"] == "${var.name}"  # interpolation kept as a string
    assert "__is_block__" not in str(cluster.body)
    node_groups = by_key[("module", "eks_managed_node_group")]
    assert node_groups.source.file == "node_groups.tf"
    assert "instance_types" in node_groups.body

    example = RENDERERS[AppSource.TERRAFORM].render(AppSpec("ex", "examples/eks-managed-node-group"), ctx)
    modules = {m.name: m for m in example.manifests if m.kind == "module"}
    assert set(modules) >= {"eks_al2023", "eks_bottlerocket"}
    groups = modules["eks_al2023"].body["eks_managed_node_groups"]
    assert groups["example"]["instance_types"] == ["m6i.large"]
    assert modules["eks_al2023"].source.line == 1


def test_terraform_ec2_instance_types_are_plain_strings() -> None:
    path = CORPUS / "terraform/terraform-aws-ec2-instance/examples/complete/main.tf"
    manifests = TerraformRenderer.parse_file(path.read_text(), "examples/complete/main.tf")
    modules = {m.name: m for m in manifests if m.kind == "module"}
    assert modules, "module calls passing instance_type must be found"
    types = {m.body.get("instance_type") for m in modules.values()}
    assert "c5.xlarge" in types and "t2.micro" in types


def test_terraform_parse_error_has_file_and_line() -> None:
    text = 'resource "aws_instance" "web" {\n  ami = "x"\n  instance_type = \n}\n'
    with pytest.raises(ParseError) as info:
        TerraformRenderer.parse_file(text, "infra/main.tf")
    assert info.value.file == "infra/main.tf"
    assert info.value.line == 3


def test_terraform_parse_error_line_deep_in_file() -> None:
    text = 'a = 1\nb = 2\nresource "x" "y" {\n  c = [1,\n}\n'
    with pytest.raises(ParseError) as info:
        TerraformRenderer.parse_file(text, "infra/vars.tf")
    assert info.value.line == 5


def test_terraform_unquoted_labels_and_lines() -> None:
    text = "\n\nresource aws_instance web {\n  instance_type = \"t3.small\"\n}\n"
    (m,) = TerraformRenderer.parse_file(text, "main.tf")
    assert (m.kind, m.name, m.source.line, m.body["instance_type"]) == ("aws_instance", "web", 3, "t3.small")
