"""Where the pod spec and the containers live in each workload kind.

Paths use the same notation as :class:`tollgate.model.ResourceChange` fields
(``spec.template.spec.containers[name=web]``), so a finding points at the field a diff would show.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tollgate.model.manifests import Manifest

#: Kinds whose pod spec is at ``spec.template.spec``.
TEMPLATE_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "Rollout"}
)
#: Every kind that runs containers and where tollgate looks for them.
WORKLOAD_KINDS = TEMPLATE_KINDS | {"CronJob", "Pod"}
#: The three container lists of a pod spec.
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


@dataclass(frozen=True, slots=True)
class ContainerRef:
    """One container of a workload: which list it is in, its name and the path to it."""

    list_name: str
    name: str
    path: str
    spec: Mapping[str, Any]


def _mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def pod_spec(manifest: Manifest) -> tuple[str, Mapping[str, Any]] | None:
    """The pod spec of a workload and its dotted path, or ``None`` for other kinds."""
    kind = manifest.kind
    spec = _mapping(manifest.body.get("spec"))
    if spec is None:
        return None
    if kind == "Pod":
        return "spec", spec
    if kind == "CronJob":
        job = _mapping(spec.get("jobTemplate"))
        job_spec = _mapping(job.get("spec")) if job else None
        template = _mapping(job_spec.get("template")) if job_spec else None
        inner = _mapping(template.get("spec")) if template else None
        return ("spec.jobTemplate.spec.template.spec", inner) if inner is not None else None
    if kind in TEMPLATE_KINDS:
        template = _mapping(spec.get("template"))
        inner = _mapping(template.get("spec")) if template else None
        return ("spec.template.spec", inner) if inner is not None else None
    return None


def pod_template_labels(manifest: Manifest) -> Mapping[str, Any] | None:
    """Labels of the pod template (``None`` when the kind has no template)."""
    spec = _mapping(manifest.body.get("spec"))
    if spec is None:
        return None
    if manifest.kind == "CronJob":
        job = _mapping(spec.get("jobTemplate"))
        spec = _mapping(job.get("spec")) if job else None
        if spec is None:
            return None
    template = _mapping(spec.get("template"))
    meta = _mapping(template.get("metadata")) if template else None
    if meta is None:
        return None
    return _mapping(meta.get("labels")) or {}


def iter_containers(
    manifest: Manifest, lists: tuple[str, ...] = CONTAINER_LISTS
) -> Iterator[ContainerRef]:
    """Every container of a workload in the given lists, in manifest order."""
    found = pod_spec(manifest)
    if found is None:
        return
    base, spec = found
    for list_name in lists:
        items = spec.get(list_name)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            raw_name = item.get("name")
            name = str(raw_name) if raw_name else f"#{index}"
            selector = f"name={raw_name}" if raw_name else str(index)
            yield ContainerRef(list_name, name, f"{base}.{list_name}[{selector}]", item)
