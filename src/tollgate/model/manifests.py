"""Rendered desired-state objects: Kubernetes manifests and Terraform resources alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: api_version given to Terraform resources, so they travel through the same pipeline as manifests.
TERRAFORM_API_VERSION = "terraform"


@dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    """Identity of an object in a desired state: ``Kind/namespace/name``.

    Terraform resources use the resource type as ``kind`` (``aws_instance``), the module path as
    ``namespace`` (``""`` at the root) and the resource name (``module.eks`` calls use the module name).
    """

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where an object comes from: a repo-relative file and (when the renderer allows) a 1-based line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True, slots=True)
class Manifest:
    """One rendered object. ``body`` is the full object as parsed (read-only by convention)."""

    api_version: str
    kind: str
    name: str
    namespace: str
    body: Mapping[str, Any] = field(compare=False, hash=False, repr=False)
    source: SourceLocation = field(default_factory=lambda: SourceLocation(""))
    app: str = ""

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.kind, self.namespace, self.name)

    @property
    def is_terraform(self) -> bool:
        return self.api_version == TERRAFORM_API_VERSION

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def labels(self) -> Mapping[str, str]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, Mapping) else {}

    @property
    def annotations(self) -> Mapping[str, str]:
        annotations = self.metadata.get("annotations")
        return annotations if isinstance(annotations, Mapping) else {}
