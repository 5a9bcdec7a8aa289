"""Locating the file and path that set a container's resources: raw, Kustomize patches, Helm values."""

from __future__ import annotations

from typing import Any

import yaml

from tollgate.model.config import AppSource
from tollgate.model.manifests import Manifest, SourceLocation
from tollgate.model.rightsize import WorkloadContainer
from tollgate.propose.edit import apply_edits
from tollgate.propose.locate import FieldSite, locate, plan_edits

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cart
  labels: {app: cart}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: server
        image: cart:1
        resources:
          requests:
            cpu: 200m
            memory: 128Mi
      - name: proxy
        image: envoy
"""
C0 = ("spec", "template", "spec", "containers", 0)


def manifest(body_text: str, file: str, name: str | None = None, namespace: str = "shop") -> Manifest:
    body: dict[str, Any] = yaml.safe_load(body_text)
    return Manifest("apps/v1", body["kind"], name or body["metadata"]["name"], namespace, body, SourceLocation(file, 1))


def target(container: str = "server", name: str = "cart") -> WorkloadContainer:
    return WorkloadContainer("Deployment", "shop", name, container)


def test_raw_manifest_sites_and_anchor() -> None:
    files = {"apps/cart.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: cart}\n---\n" + DEPLOY}
    loc = locate(target(), manifest(DEPLOY, "apps/cart.yaml"), AppSource.RAW, files)
    assert loc.reason is None and not loc.conflicts
    assert loc.sites["requests.cpu"] == FieldSite("apps/cart.yaml", 1, (*C0, "resources", "requests", "cpu"))
    assert loc.sites["replicas"].path == ("spec", "replicas")
    assert "limits.cpu" not in loc.sites
    assert loc.file == "apps/cart.yaml"
    assert loc.path == "spec.template.spec.containers[0].resources"
    edits, problems = plan_edits(loc, {"requests.cpu": "50m", "limits.memory": "200Mi"})
    assert problems == []
    out = apply_edits(files["apps/cart.yaml"], edits["apps/cart.yaml"], file="apps/cart.yaml")
    assert "cpu: 50m" in out and "          limits:\n            memory: 200Mi\n" in out


def test_raw_unknown_container_gives_reason() -> None:
    loc = locate(target("nope"), manifest(DEPLOY, "a.yaml"), AppSource.RAW, {"a.yaml": DEPLOY})
    assert loc.reason is not None and "no container nope" in loc.reason
    assert plan_edits(loc, {"requests.cpu": "1"})[1] == ["requests.cpu: not set anywhere tollgate can edit"]


BASE_K = "resources:\n- cart.yaml\n"


def kustomize_files(overlay: str, patches: dict[str, str]) -> dict[str, str]:
    return {"base/kustomization.yaml": BASE_K, "base/cart.yaml": DEPLOY,
            "overlays/prod/kustomization.yaml": overlay, **patches}


def test_kustomize_strategic_patch_overrides_base() -> None:
    patch = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: cart\nspec:\n  template:\n    spec:\n"
             "      containers:\n      - name: server\n        resources:\n          requests:\n"
             "            cpu: 500m\n")
    files = kustomize_files("resources:\n- ../../base\npatches:\n- path: cpu.yaml\n",
                            {"overlays/prod/cpu.yaml": patch})
    loc = locate(target(), manifest(DEPLOY, "base/cart.yaml", "prod-cart"), AppSource.KUSTOMIZE, files,
                 app_path="overlays/prod")
    assert loc.sites["requests.cpu"].file == "overlays/prod/cpu.yaml"
    assert loc.sites["requests.memory"].file == "base/cart.yaml"
    assert loc.sites["replicas"].file == "base/cart.yaml"
    # a field set nowhere goes next to its siblings in the overlay's patch
    assert loc.anchor == FieldSite("overlays/prod/cpu.yaml", 0, C0)
    edits, _ = plan_edits(loc, {"requests.cpu": "300m", "limits.memory": "256Mi"})
    assert sorted(edits) == ["overlays/prod/cpu.yaml"]


def test_kustomize_json6902_and_replicas_field() -> None:
    ops = ("- op: replace\n  path: /spec/template/spec/containers/0/resources/requests/memory\n  value: 1Gi\n"
           "- op: add\n  path: /spec/template/spec/containers/0/resources/limits\n  value:\n    cpu: '1'\n")
    overlay = ("resources:\n- ../../base\npatchesJson6902:\n- target: {kind: Deployment, name: cart}\n"
               "  path: mem.yaml\nreplicas:\n- name: cart\n  count: 5\n")
    files = kustomize_files(overlay, {"overlays/prod/mem.yaml": ops})
    loc = locate(target(), manifest(DEPLOY, "base/cart.yaml"), AppSource.KUSTOMIZE, files, app_path="overlays/prod")
    assert loc.sites["requests.memory"] == FieldSite("overlays/prod/mem.yaml", 0, (0, "value"))
    assert loc.sites["limits.cpu"] == FieldSite("overlays/prod/mem.yaml", 0, (1, "value", "cpu"))
    assert loc.sites["replicas"] == FieldSite("overlays/prod/kustomization.yaml", 0, ("replicas", 0, "count"))
    assert loc.sites["requests.cpu"].file == "base/cart.yaml"
    edits, _ = plan_edits(loc, {"limits.cpu": "2"})
    out = apply_edits(files["overlays/prod/mem.yaml"], edits["overlays/prod/mem.yaml"], file="mem.yaml")
    assert out == ops.replace("cpu: '1'", "cpu: '2'")


def test_kustomize_two_patches_are_a_conflict() -> None:
    smp = ("kind: Deployment\nmetadata:\n  name: cart\nspec:\n  template:\n    spec:\n      containers:\n"
           "      - name: server\n        resources:\n          requests:\n            cpu: {v}\n")
    overlay = "resources:\n- ../../base\npatchesStrategicMerge:\n- a.yaml\n- b.yaml\n"
    files = kustomize_files(overlay, {"overlays/prod/a.yaml": smp.format(v="1"),
                                      "overlays/prod/b.yaml": smp.format(v="2")})
    loc = locate(target(), manifest(DEPLOY, "base/cart.yaml"), AppSource.KUSTOMIZE, files, app_path="overlays/prod")
    assert "requests.cpu" not in loc.sites
    assert len(loc.conflicts) == 1 and "overlays/prod/a.yaml" in loc.conflicts[0] \
        and "overlays/prod/b.yaml" in loc.conflicts[0]
    edits, problems = plan_edits(loc, {"requests.cpu": "1", "requests.memory": "64Mi"})
    assert problems == ["requests.cpu: set in more than one place"]
    assert list(edits) == ["base/cart.yaml"]


def test_kustomize_patch_for_other_object_is_ignored() -> None:
    patch = "kind: Deployment\nmetadata:\n  name: other\nspec:\n  replicas: 9\n"
    files = kustomize_files("resources:\n- ../../base\npatches:\n- path: p.yaml\n", {"overlays/prod/p.yaml": patch})
    loc = locate(target(), manifest(DEPLOY, "base/cart.yaml"), AppSource.KUSTOMIZE, files, app_path="overlays/prod")
    assert loc.sites["replicas"].file == "base/cart.yaml"


VALUES = """\
# defaults
adService:
  name: adservice
  resources:
    requests:
      cpu: 200m
      memory: 180Mi
cartService:
  name: cartservice
  replicaCount: 1
  resources:
    requests:
      cpu: 200m
      memory: 128Mi
"""
TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Values.cartService.name }}
spec:
  replicas: {{ .Values.cartService.replicaCount }}
  template:
    spec:
      containers:
      - name: server
        resources:
          {{- toYaml .Values.cartService.resources | nindent 10 }}
"""
RENDERED = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cartservice
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: server
        resources:
          requests:
            cpu: 200m
            memory: {mem}
"""


def helm_target() -> WorkloadContainer:
    return target(name="cartservice")


def test_helm_value_matched_by_name() -> None:
    files = {"chart/values.yaml": VALUES, "chart/templates/cart.yaml": TEMPLATE}
    m = manifest(RENDERED.format(mem="128Mi"), "chart/templates/cart.yaml")
    loc = locate(helm_target(), m, AppSource.HELM, files, app_path="chart")
    assert loc.conflicts == ()
    assert loc.sites["requests.cpu"] == FieldSite("chart/values.yaml", 0, ("cartService", "resources", "requests",
                                                                          "cpu"))
    assert loc.sites["replicas"].path == ("cartService", "replicaCount")
    assert loc.anchor == FieldSite("chart/values.yaml", 0, ("cartService", "resources"))
    edits, problems = plan_edits(loc, {"limits.memory": "256Mi"})
    assert problems == []
    out = apply_edits(VALUES, edits["chart/values.yaml"], file="values.yaml")
    assert out == VALUES + "    limits:\n      memory: 256Mi\n"


def test_helm_environment_values_file_wins() -> None:
    prod = "cartService:\n  resources:\n    requests:\n      cpu: 200m\n      memory: 512Mi\n"
    files = {"chart/values.yaml": VALUES, "chart/templates/cart.yaml": TEMPLATE, "envs/prod.yaml": prod}
    m = manifest(RENDERED.format(mem="512Mi"), "chart/templates/cart.yaml")
    loc = locate(helm_target(), m, AppSource.HELM, files, app_path="chart", values_files=("envs/prod.yaml",))
    assert loc.sites["requests.memory"] == FieldSite("envs/prod.yaml", 0, ("cartService", "resources", "requests",
                                                                          "memory"))
    # cpu is 200m in both files under the same key: Helm's precedence makes the later file the effective one
    assert loc.sites["requests.cpu"].file == "envs/prod.yaml"


def test_helm_ambiguous_keys_are_a_conflict() -> None:
    values = "a:\n  resources:\n    requests:\n      cpu: 1\nb:\n  resources:\n    requests:\n      cpu: 1\n"
    template = "x: {{ .Values.a.resources }}{{ .Values.b.resources }}\n"
    files = {"chart/values.yaml": values, "chart/templates/x.yaml": template}
    body = RENDERED.format(mem="1Gi").replace("cpu: 200m", "cpu: 1")
    loc = locate(helm_target(), manifest(body, "chart/templates/x.yaml"), AppSource.HELM, files, app_path="chart")
    assert "requests.cpu" not in loc.sites
    assert loc.conflicts == ("requests.cpu: values keys a.resources.requests.cpu and b.resources.requests.cpu "
                             "all give 1",)


def test_helm_hard_coded_resources_give_reason() -> None:
    files = {"chart/values.yaml": "image: x\n", "chart/templates/x.yaml": "kind: Deployment\n"}
    m = manifest(RENDERED.format(mem="1Gi").replace("replicas: 1", "replicas: 3"), "chart/templates/x.yaml")
    loc = locate(helm_target(), m, AppSource.HELM, files, app_path="chart")
    assert loc.reason is not None and "hard-code" in loc.reason


def test_helm_empty_resources_map_is_an_anchor() -> None:
    values = "cartService:\n  name: cartservice\n  resources: {}\n"
    files = {"chart/values.yaml": values, "chart/templates/cart.yaml": TEMPLATE}
    body = RENDERED.format(mem="1Gi").replace("replicas: 1", "replicas: 4")
    body = body.split("        resources:")[0]
    loc = locate(helm_target(), manifest(body, "chart/templates/cart.yaml"), AppSource.HELM, files,
                 app_path="chart")
    assert loc.anchor == FieldSite("chart/values.yaml", 0, ("cartService", "resources"))
    edits, _ = plan_edits(loc, {"requests.cpu": "100m"})
    assert apply_edits(values, edits["chart/values.yaml"], file="v") == \
        "cartService:\n  name: cartservice\n  resources:\n    requests:\n      cpu: 100m\n"
