"""Helpers for policy tests: build Manifests straight from parsed YAML (no loader dependency)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tollgate.model import Manifest, SourceLocation

CORPUS = (Path(__file__).parents[3] / "../shared/data/corpus").resolve()


def to_manifest(doc: Mapping[str, Any], file: str = "app/deploy.yaml", line: int | None = 1) -> Manifest:
    meta = doc.get("metadata") or {}
    return Manifest(
        api_version=str(doc.get("apiVersion", "")),
        kind=str(doc["kind"]),
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "") or ""),
        body=doc,
        source=SourceLocation(file, line),
    )


def load_yaml(path: Path) -> list[Manifest]:
    """Every object of a multi-document YAML file, with the line of its document."""
    text = path.read_text(encoding="utf-8")
    out: list[Manifest] = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    nodes = yaml.compose_all(text, Loader=loader)
    starts = [node.start_mark.line + 1 if node is not None else None for node in nodes]
    for doc, line in zip(yaml.load_all(text, Loader=loader), starts, strict=True):  # noqa: S506 - safe loader
        if isinstance(doc, dict) and doc.get("kind"):
            out.append(to_manifest(doc, str(path.relative_to(CORPUS)), line))
    return out


def workload(kind: str = "Deployment", *, name: str = "web", containers: list[dict[str, Any]] | None = None,
             labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
             api_version: str = "apps/v1", **pod: Any) -> dict[str, Any]:
    """A workload document with the pod spec in the right place for its kind."""
    spec = {"containers": containers if containers is not None else [], **pod}
    meta: dict[str, Any] = {"name": name, "namespace": "shop"}
    if labels is not None:
        meta["labels"] = labels
    if annotations is not None:
        meta["annotations"] = annotations
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    if kind == "Pod":
        body: dict[str, Any] = spec
    elif kind == "CronJob":
        body = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}
    else:
        body = {"template": template}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": body}


def container(name: str = "app", image: str = "registry.example/app:1.2.3", *, requests: bool = True,
              limits: bool = True, **extra: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image, **extra}
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = {"cpu": "100m", "memory": "128Mi"}
    if limits:
        resources["limits"] = {"cpu": "500m", "memory": "256Mi"}
    if resources:
        c["resources"] = resources
    return c
