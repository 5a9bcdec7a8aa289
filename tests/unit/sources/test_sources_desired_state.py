"""load_state over a FakeGitSource: app stamping, namespace defaults, the render cache."""

from __future__ import annotations

from tollgate.model.config import AppSource, AppSpec, RepoConfig
from tollgate.model.diff import diff_states
from tollgate.sources.desired_state import RenderCache, load_state
from tollgate.sources.git import FakeGitSource

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 2}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: edge}
"""

TF = 'resource "aws_instance" "web" {\n  instance_type = "t3.small"\n}\n'


def _config() -> RepoConfig:
    return RepoConfig(
        apps=(
            AppSpec("web", "k8s/web", namespace="shop"),
            AppSpec("plain", "k8s/plain"),
            AppSpec("infra", "infra", source=AppSource.TERRAFORM),
            AppSpec("later", "k8s/later"),
        )
    )


def test_manifests_are_stamped_and_namespaced() -> None:
    git = FakeGitSource()
    sha = git.commit(
        {
            "k8s/web/all.yaml": WEB,
            "k8s/plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n",
            "infra/main.tf": TF,
        }
    )
    state = load_state(git, sha, _config(), cache=RenderCache())

    assert state.commit == sha
    keys = {(m.app, str(m.key)) for m in state.manifests}
    assert keys == {
        ("web", "Deployment/shop/web"),  # the app's namespace
        ("web", "Namespace/shop"),  # cluster-scoped: no namespace
        ("web", "ClusterRole/reader"),
        ("web", "Service/edge/web"),  # its own namespace is kept
        ("plain", "ConfigMap/default/cfg"),  # no app namespace: "default"
        ("infra", "aws_instance/web"),  # Terraform keeps ""
    }
    assert [a.name for a in state.apps] == ["web", "plain", "infra", "later"]


def test_unchanged_apps_render_once_across_commits() -> None:
    git = FakeGitSource()
    files = {"k8s/web/all.yaml": WEB, "k8s/plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}
    base = git.commit({**files, "infra/main.tf": TF})
    head = git.commit(
        {
            **files,
            "infra/main.tf": TF.replace("t3.small", "m5.large"),
            "k8s/later/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: new}\n",
        }
    )
    cache = RenderCache()
    base_state = load_state(git, base, _config(), cache=cache)
    assert (cache.hits, cache.misses) == (0, 4)
    head_state = load_state(git, head, _config(), cache=cache)
    # web and plain are unchanged: served from the cache; infra and later changed.
    assert (cache.hits, cache.misses) == (2, 6)

    changes = {(str(c.key), c.change.value, c.fields) for c in diff_states(base_state, head_state)}
    assert changes == {
        ("aws_instance/web", "modified", ("instance_type",)),
        ("Namespace/new", "added", ()),
    }


def test_cache_is_bounded() -> None:
    git = FakeGitSource()
    shas = [git.commit({"k8s/plain/cm.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"})
            for i in range(5)]
    cache = RenderCache(max_entries=2)
    config = RepoConfig(apps=(AppSpec("plain", "k8s/plain"),))
    for sha in shas:
        load_state(git, sha, config, cache=cache)
    assert len(cache) == 2
    load_state(git, shas[-1], config, cache=cache)
    load_state(git, shas[0], config, cache=cache)
    assert cache.hits == 1  # the newest stayed, the oldest was evicted
