"""Real kustomize (kubectl kustomize) and helm renders of the corpus, inside a temp Git repo."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from gitutil import git

from tollgate.errors import RenderError, ToolNotFoundError
from tollgate.model.changes import ChangeKind
from tollgate.model.config import AppSource, AppSpec, RepoConfig
from tollgate.model.diff import diff_states
from tollgate.settings import RenderSettings, Settings
from tollgate.sources.desired_state import RenderCache, load_state
from tollgate.sources.git import GitRepo
from tollgate.sources.renderers import RENDERERS, RenderContext
from tollgate.sources.repo_config import load_repo_config

pytestmark = pytest.mark.integration

DEMO = (Path(__file__).resolve().parents[2] / "../shared/data/corpus/k8s/microservices-demo").resolve()

OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop-prod
namePrefix: prod-
resources:
- ../../kustomize
patches:
- path: replicas.yaml
configMapGenerator:
- name: settings
  literals: [MODE=prod]
"""

REPLICAS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
spec:
  replicas: {n}
"""


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Path, str, str]:
    """A repo holding the demo's kustomize tree + helm chart, and an overlay; two commits."""
    repo = tmp_path / "shop"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shutil.copytree(DEMO / "kustomize", repo / "kustomize")
    shutil.copytree(DEMO / "helm-chart", repo / "helm-chart")
    overlay = repo / "overlays/prod"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text(OVERLAY)
    (overlay / "replicas.yaml").write_text(REPLICAS.format(n=2))
    (repo / "values").mkdir()
    (repo / "values/prod.yaml").write_text("adService:\n  create: false\n")
    subprocess.run(["chmod", "-R", "u+w", str(repo)], check=True)
    base = commit(repo, "base")
    (overlay / "replicas.yaml").write_text(REPLICAS.format(n=5))
    head = commit(repo, "scale frontend")
    return repo, base, head


def test_kustomize_base_renders_35_objects_attributed_to_resource_files(shop: tuple[Path, str, str]) -> None:
    repo, base, _ = shop
    state = load_state(GitRepo(repo), base, RepoConfig(apps=(AppSpec("demo", "kustomize"),)), cache=RenderCache())

    assert len(state.manifests) == 35
    assert sum(m.kind == "Deployment" for m in state.manifests) == 12
    frontend = next(m for m in state.manifests if m.kind == "Deployment" and m.name == "frontend")
    assert frontend.source.file == "kustomize/base/frontend.yaml"
    lines = (repo / "kustomize/base/frontend.yaml").read_text().splitlines()
    assert lines[frontend.source.line - 1] == "apiVersion: apps/v1"
    assert "kind: Deployment" in lines[frontend.source.line]
    assert frontend.namespace == "default" and frontend.app == "demo"
    assert "config.kubernetes.io/origin" not in frontend.annotations  # our own marker is removed
    assert not (repo / "kustomize/kustomization.yaml").read_text().count("buildMetadata")


def test_overlay_renders_prefix_namespace_patch_and_generator(shop: tuple[Path, str, str]) -> None:
    repo, base, _ = shop
    state = load_state(GitRepo(repo), base, RepoConfig(apps=(AppSpec("prod", "overlays/prod"),)),
                       cache=RenderCache())
    by_key = {(m.kind, m.name): m for m in state.manifests}
    assert len(state.manifests) == 36
    assert {m.namespace for m in state.manifests} == {"shop-prod"}
    frontend = by_key[("Deployment", "prod-frontend")]
    assert frontend.body["spec"]["replicas"] == 2
    assert frontend.source.file == "kustomize/base/frontend.yaml"
    generated = next(m for m in state.manifests if m.kind == "ConfigMap" and m.name.startswith("prod-settings-"))
    assert generated.source.file == "overlays/prod/kustomization.yaml"


def test_review_of_two_commits_finds_the_scaled_deployment(shop: tuple[Path, str, str]) -> None:
    repo, base, head = shop
    source = GitRepo(repo)
    config = load_repo_config(source, head)
    tests = "kustomize/tests/"
    assert {(a.path, a.source) for a in config.apps} == {  # kustomize/ is a base of overlays/prod now
        ("overlays/prod", AppSource.KUSTOMIZE),
        ("helm-chart", AppSource.HELM),
        (tests + "memorystore-with-all-components", AppSource.KUSTOMIZE),
        (tests + "service-mesh-istio-with-all-components", AppSource.KUSTOMIZE),
        (tests + "spanner-with-all-components", AppSource.KUSTOMIZE),
    }
    assert next(a for a in config.apps if a.path == "overlays/prod").environment.value == "production"

    cache = RenderCache()
    before = load_state(source, base, config, cache=cache)
    after = load_state(source, head, config, cache=cache)
    # Only overlays/prod changed: the chart and the test overlays (whose bases and components are
    # unchanged) are rendered once for both commits.
    assert (cache.misses, cache.hits) == (6, 4)
    assert len(after.manifests) > 100

    changes = diff_states(before, after)
    assert [(str(c.key), c.change, c.fields, c.file) for c in changes] == [
        ("Deployment/shop-prod/prod-frontend", ChangeKind.MODIFIED, ("spec.replicas",),
         "kustomize/base/frontend.yaml"),
    ]


def test_helm_chart_renders_12_deployments_with_template_attribution(shop: tuple[Path, str, str]) -> None:
    repo, base, _ = shop
    app = AppSpec("shop", "helm-chart", namespace="shop", release_name="boutique")
    state = load_state(GitRepo(repo), base, RepoConfig(apps=(app,)), cache=RenderCache())

    deployments = [m for m in state.manifests if m.kind == "Deployment"]
    assert len(deployments) == 12
    assert all(m.namespace == "shop" for m in deployments)
    cart = next(m for m in deployments if m.name == "cartservice")
    assert cart.source.file == "helm-chart/templates/cartservice.yaml"
    template = (repo / cart.source.file).read_text().splitlines()
    assert template[cart.source.line - 1] == "kind: Deployment"
    redis = next(m for m in deployments if m.name == "redis-cart")
    assert redis.source.file == cart.source.file and redis.source.line > cart.source.line


def test_helm_values_files_apply(shop: tuple[Path, str, str]) -> None:
    repo, base, _ = shop
    app = AppSpec("shop", "helm-chart", values=("values/prod.yaml",))
    state = load_state(GitRepo(repo), base, RepoConfig(apps=(app,)), cache=RenderCache())
    names = {m.name for m in state.manifests if m.kind == "Deployment"}
    assert len(names) == 11 and "adservice" not in names
    assert {m.namespace for m in state.manifests if m.kind == "Deployment"} == {"default"}


def test_kustomize_failure_is_a_render_error_with_stderr(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/kustomization.yaml").write_text("resources:\n- missing.yaml\n")
    ctx = RenderContext.for_directory(tmp_path)
    with pytest.raises(RenderError) as info:
        RENDERERS[AppSource.KUSTOMIZE].render(AppSpec("bad", "bad"), ctx)
    assert info.value.directory == "bad"
    assert "missing.yaml" in info.value.output
    assert str(tmp_path) not in str(info.value)  # paths are shown relative to the repo


def test_missing_kustomize_program_is_tool_not_found(shop: tuple[Path, str, str]) -> None:
    repo, base, _ = shop
    settings = Settings(render=RenderSettings(kustomize="/nonexistent/bin/kustomize"))
    with pytest.raises(ToolNotFoundError) as info:
        load_state(GitRepo(repo), base, RepoConfig(apps=(AppSpec("d", "kustomize"),)), settings, cache=RenderCache())
    assert "kubectl" in str(info.value) and "/nonexistent/bin/kustomize" in str(info.value)


def test_helm_failure_is_a_render_error(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": "c", "version": "0.1.0"}))
    (chart / "templates/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.x.y }}\n")
    with pytest.raises(RenderError) as info:
        RENDERERS[AppSource.HELM].render(AppSpec("c", "chart"), RenderContext.for_directory(tmp_path))
    assert info.value.tool == "helm template" and "cm.yaml" in info.value.output
