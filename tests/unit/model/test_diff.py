"""diff_states: matching, field paths, noise, determinism and speed."""

from __future__ import annotations

import copy
import time
from typing import Any

from tollgate.model.changes import ChangeKind
from tollgate.model.diff import changed_fields, diff_states
from tollgate.model.manifests import TERRAFORM_API_VERSION, Manifest, SourceLocation
from tollgate.model.state import DesiredState


def deployment(name: str = "web", namespace: str = "shop", app: str = "a", **spec: Any) -> Manifest:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name, "helm.sh/chart": "web-1.0"}},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "web:1", "resources": {"requests": {"cpu": "100m"}},
                         "args": ["--a"], "ports": [{"containerPort": 80}]},
                        {"name": "sidecar", "image": "proxy:1"},
                    ],
                    "tolerations": [{"key": "k", "effect": "NoSchedule"}],
                }
            },
        },
    }
    body["spec"].update(spec)
    return Manifest("apps/v1", "Deployment", name, namespace, body, SourceLocation(f"{name}.yaml", 1), app)


def modified(m: Manifest, edit: Any) -> Manifest:
    body = copy.deepcopy(dict(m.body))
    edit(body)
    return Manifest(m.api_version, m.kind, m.name, m.namespace, body, m.source, m.app)


def containers(body: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = body["spec"]["template"]["spec"]["containers"]
    return result


def test_nested_named_list_paths() -> None:
    before = deployment()

    def edit(b: dict[str, Any]) -> None:
        b["spec"]["replicas"] = 3
        containers(b)[0]["resources"]["requests"]["cpu"] = "250m"
        containers(b)[0]["args"].append("--b")
        containers(b)[0]["ports"][0]["containerPort"] = 8080
        containers(b).reverse()  # order alone is not a change for named lists
        b["spec"]["template"]["spec"]["tolerations"][0]["effect"] = "NoExecute"

    assert changed_fields(before, modified(before, edit)) == (
        "spec.replicas",
        "spec.template.spec.containers[name=web].args",
        "spec.template.spec.containers[name=web].ports[containerPort=8080]",  # plain string order
        "spec.template.spec.containers[name=web].ports[containerPort=80]",
        "spec.template.spec.containers[name=web].resources.requests.cpu",
        "spec.template.spec.tolerations[0].effect",
    )


def test_added_and_removed_items_and_keys() -> None:
    before = deployment()

    def edit(b: dict[str, Any]) -> None:
        del containers(b)[1]
        containers(b).append({"name": "init", "image": "x"})
        containers(b)[0]["resources"]["limits"] = {"cpu": "1"}
        del b["spec"]["template"]["spec"]["tolerations"]

    assert changed_fields(before, modified(before, edit)) == (
        "spec.template.spec.containers[name=init]",
        "spec.template.spec.containers[name=sidecar]",
        "spec.template.spec.containers[name=web].resources.limits",
        "spec.template.spec.tolerations",
    )


def test_server_noise_is_ignored_but_renderer_labels_count() -> None:
    before = deployment()

    def noise(b: dict[str, Any]) -> None:
        b["status"] = {"readyReplicas": 2}
        b["metadata"].update(generation=4, resourceVersion="123", uid="u", creationTimestamp=None)
        b["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "7"}

    assert changed_fields(before, modified(before, noise)) == ()
    assert diff_states([before], [modified(before, noise)]) == ()

    def label(b: dict[str, Any]) -> None:
        b["metadata"]["labels"]["helm.sh/chart"] = "web-1.1"
        b["metadata"]["annotations"] = {"team": "x", "deployment.kubernetes.io/revision": "7"}

    assert changed_fields(before, modified(before, label)) == (
        "metadata.annotations",
        'metadata.labels["helm.sh/chart"]',
    )


def test_terraform_status_attribute_is_not_noise() -> None:
    a = Manifest(TERRAFORM_API_VERSION, "aws_thing", "x", "", {"status": "on", "size": 1})
    b = Manifest(TERRAFORM_API_VERSION, "aws_thing", "x", "", {"status": "off", "size": 1})
    assert changed_fields(a, b) == ("status",)


def test_added_removed_modified_sorted() -> None:
    base = [deployment("b"), deployment("c"), deployment("a")]
    head = [deployment("d"), modified(deployment("a"), lambda b: b["spec"].update(replicas=5)), deployment("b")]
    changes = diff_states(DesiredState(tuple(base)), DesiredState(tuple(head)))
    assert [(c.key.name, c.change) for c in changes] == [
        ("a", ChangeKind.MODIFIED),
        ("c", ChangeKind.REMOVED),
        ("d", ChangeKind.ADDED),
    ]
    assert changes[0].fields == ("spec.replicas",)
    assert changes[1].before is not None and changes[1].after is None
    assert changes[2].fields == ()
    assert changes == diff_states(list(reversed(base)), list(reversed(head)))


def test_moving_an_object_between_apps_or_files_is_not_a_change() -> None:
    before = deployment(app="one")
    after = Manifest(before.api_version, before.kind, before.name, before.namespace, copy.deepcopy(dict(before.body)),
                     SourceLocation("moved.yaml", 9), "two")
    assert diff_states([before], [after]) == ()


def test_duplicate_keys_are_matched_per_app() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    labelled = {**ns, "metadata": {"name": "shop", "labels": {"team": "x"}}}
    base = [Manifest("v1", "Namespace", "shop", "", ns, app="a"), Manifest("v1", "Namespace", "shop", "", ns, app="b")]
    head = [Manifest("v1", "Namespace", "shop", "", ns, app="a"),
            Manifest("v1", "Namespace", "shop", "", labelled, app="b"),
            Manifest("v1", "Namespace", "shop", "", ns, app="c")]
    changes = diff_states(base, head)
    assert [(c.app, c.change, c.fields) for c in changes] == [
        ("b", ChangeKind.MODIFIED, ("metadata.labels",)),
        ("c", ChangeKind.ADDED, ()),
    ]


def test_five_thousand_unchanged_objects_compare_fast() -> None:
    base = [deployment(f"svc-{i}") for i in range(5000)]
    head = [modified(m, lambda b: None) for m in base]  # equal bodies, distinct objects
    head[1234] = modified(head[1234], lambda b: containers(b)[0].update(image="web:2"))

    started = time.perf_counter()
    changes = diff_states(base, head)
    elapsed = time.perf_counter() - started

    assert [(c.key.name, c.fields) for c in changes] == [
        ("svc-1234", ("spec.template.spec.containers[name=web].image",))
    ]
    assert elapsed < 1.0, f"{elapsed:.3f} s"
