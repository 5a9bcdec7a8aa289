"""tollgate.yaml parsing and app auto-detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.errors import ConfigError, ParseError
from tollgate.model.config import AppSource, Environment
from tollgate.settings import Settings
from tollgate.sources.git import FakeGitSource
from tollgate.sources.repo_config import detect_apps, infer_environment, load_repo_config, parse_repo_config

CORPUS = (Path(__file__).resolve().parents[3] / "../shared/data/corpus").resolve()

CONFIG = b"""\
apps:
  - name: shop
    path: ./deploy/overlays/prod/
    environment: prod
    namespace: shop
  - name: chart
    path: charts/web
    source: helm
    values: [charts/values-staging.yaml]
    releaseName: web
    overrides: {max_monthly_cost: 100}
  - name: infra
    path: infra/dev/eks
settings:
  policy: {required_labels: [team]}
"""


def test_parse_config_with_all_fields() -> None:
    config = parse_repo_config(CONFIG, "tollgate.yaml")
    shop, chart, infra = config.apps
    assert (shop.path, shop.environment, shop.namespace, shop.source) == (
        "deploy/overlays/prod", Environment.PRODUCTION, "shop", None,
    )
    assert (chart.source, chart.values, chart.release_name) == (AppSource.HELM, ("charts/values-staging.yaml",), "web")
    assert chart.overrides == {"max_monthly_cost": 100}
    assert chart.environment is Environment.PRODUCTION  # nothing in its path names one
    assert infra.environment is Environment.DEV  # inferred from the "dev" path segment
    assert config.settings == {"policy": {"required_labels": ["team"]}}
    assert not config.auto_detected


def test_settings_environment_is_the_fallback() -> None:
    config = parse_repo_config(CONFIG, "tollgate.yaml", Settings(environment="staging"))
    assert [a.environment for a in config.apps] == [Environment.PRODUCTION, Environment.STAGING, Environment.DEV]


@pytest.mark.parametrize(
    ("content", "field", "line"),
    [
        (b"apps:\n  - name: a\n    path: x\n    enviroment: prod\n", "apps[0].enviroment", 4),
        (b"apps:\n  - name: a\n    path: x\n  - name: b\n    path: y\n    source: kustomise\n", "apps[1].source", 6),
        (b"apps:\n  - name: a\n    path: x\n    environment: moon\n", "apps[0].environment", 4),
        (b"apps:\n  - name: a\n    path: ../../etc\n", "apps[0].path", 3),
        (b"apps:\n  - path: x\n", "apps[0].name", None),
    ],
)
def test_invalid_config_names_file_field_and_line(content: bytes, field: str, line: int | None) -> None:
    with pytest.raises(ConfigError) as info:
        parse_repo_config(content, "tollgate.yaml")
    message = str(info.value)
    assert field in message
    assert message.startswith(f"tollgate.yaml:{line}:" if line else "tollgate.yaml:")


def test_duplicate_names_and_broken_yaml() -> None:
    with pytest.raises(ConfigError, match="duplicate app name"):
        parse_repo_config(b"apps:\n- {name: a, path: x}\n- {name: a, path: y}\n", "tollgate.yaml")
    with pytest.raises(ParseError) as info:
        parse_repo_config(b"apps:\n  - name: [a\n", "tollgate.yaml")
    assert info.value.file == "tollgate.yaml"


@pytest.mark.parametrize(
    ("path", "env"),
    [
        ("clusters/prod/web", Environment.PRODUCTION),
        ("envs/Staging", Environment.STAGING),
        ("overlays/development/api", Environment.DEV),
        ("live/eu", Environment.PRODUCTION),
        ("apps/web", None),
        ("dev/x/stage", Environment.STAGING),  # the deepest segment wins
    ],
)
def test_infer_environment(path: str, env: Environment | None) -> None:
    assert infer_environment(path) == env


def test_auto_detect_synthetic_repo() -> None:
    git = FakeGitSource()
    sha = git.commit(
        {
            "apps/web/base/kustomization.yaml": "resources: [deploy.yaml]\n",
            "apps/web/base/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
            "apps/web/overlays/prod/kustomization.yaml": "resources: [../../base]\ncomponents: [../../comp]\n",
            "apps/web/overlays/staging/kustomization.yml": "resources:\n- ../../base\n",
            "apps/web/comp/kustomization.yaml": "kind: Component\napiVersion: kustomize.config.k8s.io/v1alpha1\n",
            "charts/api/Chart.yaml": "apiVersion: v2\nname: api\nversion: 1.0.0\n",
            "charts/api/templates/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\n",
            "charts/api/charts/redis/Chart.yaml": "apiVersion: v2\nname: redis\nversion: 1.0.0\n",
            "infra/modules/vpc/main.tf": 'resource "aws_vpc" "this" {}\n',
            "infra/dev/main.tf": 'module "vpc" {\n  source = "../modules/vpc"\n}\n',
            "raw/dev/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
            "raw/dev/nested/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n",
            "values/prod.yaml": "replicas: 3\n",
            ".github/workflows/ci.yml": "on: push\njobs: {}\n",
        }
    )
    apps = {a.path: a for a in detect_apps(git, sha)}
    assert {p: a.source for p, a in apps.items()} == {
        "apps/web/overlays/prod": AppSource.KUSTOMIZE,
        "apps/web/overlays/staging": AppSource.KUSTOMIZE,
        "charts/api": AppSource.HELM,
        "infra/dev": AppSource.TERRAFORM,
        "raw/dev": AppSource.RAW,
    }
    assert apps["apps/web/overlays/staging"].environment is Environment.STAGING
    assert apps["raw/dev"].environment is Environment.DEV
    assert apps["charts/api"].environment is Environment.PRODUCTION
    assert apps["charts/api"].name == "charts/api"

    config = load_repo_config(git, sha)
    assert config.auto_detected and {a.path for a in config.apps} == set(apps)


def test_config_without_apps_keeps_settings_and_detects() -> None:
    git = FakeGitSource()
    sha = git.commit(
        {
            "tollgate.yaml": "settings: {environment: dev}\n",
            "k8s/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
        }
    )
    config = load_repo_config(git, sha)
    assert config.auto_detected
    assert config.settings == {"environment": "dev"}
    assert [(a.path, a.source) for a in config.apps] == [("k8s", AppSource.RAW)]


def test_explicit_config_wins() -> None:
    git = FakeGitSource()
    sha = git.commit({"tollgate.yaml": CONFIG, "k8s/ns.yaml": "apiVersion: v1\nkind: Namespace\n"})
    config = load_repo_config(git, sha)
    assert not config.auto_detected
    assert [a.name for a in config.apps] == ["shop", "chart", "infra"]


def test_auto_detect_microservices_demo() -> None:
    root = CORPUS / "k8s/microservices-demo"
    git = FakeGitSource()
    sha = git.commit({p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()})
    apps = {a.path: a.source for a in detect_apps(git, sha)}
    assert apps == {
        "helm-chart": AppSource.HELM,
        "istio-manifests": AppSource.RAW,
        "kubernetes-manifests": AppSource.RAW,
        "kustomize": AppSource.KUSTOMIZE,
        "kustomize/tests/memorystore-with-all-components": AppSource.KUSTOMIZE,
        "kustomize/tests/service-mesh-istio-with-all-components": AppSource.KUSTOMIZE,
        "kustomize/tests/spanner-with-all-components": AppSource.KUSTOMIZE,
        "release": AppSource.RAW,
    }


def test_auto_detect_terraform_examples_call_the_root_module() -> None:
    root = CORPUS / "terraform/terraform-aws-eks"
    git = FakeGitSource()
    sha = git.commit({p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.tf")})
    apps = {a.path for a in detect_apps(git, sha)}
    assert "examples/eks-managed-node-group" in apps
    assert "" not in apps  # the root module is called by the examples (source = "../..")
    assert not any(p.startswith("modules/") for p in apps)  # called by the root module
