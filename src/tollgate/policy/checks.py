"""Built-in checks: pure functions of one manifest and validated parameters.

A rule in a rule pack names a check from :data:`CHECKS` and gives its parameters. Each check has a
pydantic parameter model; the rule's parameters are validated against it once, when the pack is
compiled, and the check then runs per manifest with the validated (frozen) parameters. A check
yields one :class:`Violation` per problem (a missing label, a container without requests, an image
without a tag...). Register a new check with :func:`register_check`::

    class MyParams(CheckParams):
        limit: int = 3

    @register_check("my_check", params=MyParams, description="...")
    def my_check(manifest: Manifest, params: MyParams) -> Iterator[Violation]: ...
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from tollgate.model import Manifest, Severity
from tollgate.model.workloads import iter_containers, pod_template_labels


@dataclass(frozen=True, slots=True)
class Violation:
    """One problem a check found: the offending value, the container (if any) and the field path.

    ``severity``, when set, replaces the rule's severity for this one violation (a rule may rate an
    unset field lower than an explicitly dangerous value).
    """

    value: str = ""
    container: str | None = None
    path: str = ""
    detail: str = ""
    severity: Severity | None = None


class CheckParams(BaseModel):
    """Base of every check's parameter model (frozen, unknown keys refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def is_active(self) -> bool:
        """False when the parameters make the rule a no-op (e.g. an empty allow-list)."""
        return True


class Check(Protocol):
    """A check: yields the violations of one manifest."""

    def __call__(self, manifest: Manifest, params: Any, /) -> Iterable[Violation]: ...


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A registered check with its parameter model."""

    name: str
    func: Check
    params_model: type[CheckParams]
    description: str = ""


#: The registry of checks rule packs may name.
CHECKS: dict[str, CheckSpec] = {}


def register_check(
    name: str,
    *,
    params: type[CheckParams] = CheckParams,
    description: str = "",
    registry: dict[str, CheckSpec] | None = None,
) -> Callable[[Check], Check]:
    """Decorator registering a check under ``name`` (in :data:`CHECKS` unless ``registry`` is given)."""
    target = CHECKS if registry is None else registry

    def decorate(func: Check) -> Check:
        if name in target:
            raise ValueError(f"check {name!r} is already registered")
        target[name] = CheckSpec(name, func, params, description)
        return func

    return decorate


def get_check(name: str, registry: Mapping[str, CheckSpec] | None = None) -> CheckSpec:
    """The check named ``name``; ``KeyError`` lists the known names."""
    source = CHECKS if registry is None else registry
    try:
        return source[name]
    except KeyError:
        known = ", ".join(sorted(source))
        raise KeyError(f"unknown check {name!r} (known: {known})") from None


# --- required labels -------------------------------------------------------------------------


class RequiredLabelsParams(CheckParams):
    labels: tuple[str, ...] = Field(default=("cost-center",), description="Label keys that must be set.")
    pod_template: bool = Field(
        default=False, description="Also require them on the pod template (where cost tools read them)."
    )

    def is_active(self) -> bool:
        return bool(self.labels)


@register_check(
    "required_labels",
    params=RequiredLabelsParams,
    description="Each listed label is present with a non-empty value.",
)
def required_labels(manifest: Manifest, params: RequiredLabelsParams) -> Iterator[Violation]:
    labels = manifest.labels
    template = pod_template_labels(manifest) if params.pod_template else None
    for key in params.labels:
        if not labels.get(key):
            yield Violation(value=key, path=f"metadata.labels.{key}", detail="metadata")
        elif template is not None and not template.get(key):
            yield Violation(value=key, path=f"spec.template.metadata.labels.{key}", detail="pod template")


# --- container resources --------------------------------------------------------------------


class ContainerResourcesParams(CheckParams):
    field: Literal["requests", "limits"] = Field(description="Which resource block to inspect.")
    resources: tuple[str, ...] = Field(default=("cpu", "memory"), min_length=1)
    containers: tuple[Literal["containers", "initContainers", "ephemeralContainers"], ...] = Field(
        default=("containers", "initContainers"),
        description="Container lists to inspect (ephemeral containers cannot set resources).",
    )


@register_check(
    "container_resources",
    params=ContainerResourcesParams,
    description="Every container sets the listed resources under requests or limits.",
)
def container_resources(manifest: Manifest, params: ContainerResourcesParams) -> Iterator[Violation]:
    for ref in iter_containers(manifest, params.containers):
        block = ref.spec.get("resources")
        values = block.get(params.field) if isinstance(block, Mapping) else None
        present = values if isinstance(values, Mapping) else {}
        missing = [r for r in params.resources if present.get(r) in (None, "")]
        if missing:
            yield Violation(
                value=", ".join(missing),
                container=ref.name,
                path=f"{ref.path}.resources.{params.field}",
                detail=params.field,
            )


# --- image tags ------------------------------------------------------------------------------


class ImageTagParams(CheckParams):
    forbidden_tags: tuple[str, ...] = Field(default=("latest",), description="Tags that float.")
    allow_digest: bool = Field(default=True, description="An image pinned by @sha256 digest passes.")


def split_image(image: str) -> tuple[str | None, str | None]:
    """The tag and the digest of an image reference (either may be ``None``)."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    return tag or None, digest or None


@register_check(
    "image_tag",
    params=ImageTagParams,
    description="Images carry an explicit, non-floating tag (or a digest).",
)
def image_tag(manifest: Manifest, params: ImageTagParams) -> Iterator[Violation]:
    for ref in iter_containers(manifest):
        image = ref.spec.get("image")
        if not isinstance(image, str) or not image:
            continue
        tag, digest = split_image(image)
        if digest and params.allow_digest:
            continue
        if tag is None:
            yield Violation(value=image, container=ref.name, path=f"{ref.path}.image", detail="no tag")
        elif tag in params.forbidden_tags:
            yield Violation(
                value=image, container=ref.name, path=f"{ref.path}.image", detail=f"floating tag '{tag}'"
            )


# --- privileged containers -------------------------------------------------------------------


@register_check("privileged", description="No container runs with securityContext.privileged: true.")
def privileged(manifest: Manifest, params: CheckParams) -> Iterator[Violation]:  # noqa: ARG001
    for ref in iter_containers(manifest):
        context = ref.spec.get("securityContext")
        if isinstance(context, Mapping) and context.get("privileged") is True:
            yield Violation(
                value="true", container=ref.name, path=f"{ref.path}.securityContext.privileged"
            )


# --- Terraform instance types ----------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\{|^(var|local|module|data)\.")


class InstanceTypesParams(CheckParams):
    allowed: tuple[str, ...] = Field(
        default=(), description="Allowed instance types; shell patterns (t3.*) work. Empty allows all."
    )
    attributes: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Per Terraform kind, the attributes holding instance types; '**name' searches nested blocks.",
    )

    def is_active(self) -> bool:
        return bool(self.allowed)


def _literal(value: object) -> str | None:
    """A literal string value, unquoted; ``None`` for expressions (``var.x``, ``${...}``)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not text or _INTERPOLATION.search(text):
        return None
    return text


def _values_at(body: Mapping[str, Any], attribute: str) -> Iterator[tuple[str, object]]:
    if attribute.startswith("**"):
        yield from _search(body, attribute[2:], "")
        return
    if attribute in body:
        yield attribute, body[attribute]


def _search(node: object, key: str, path: str) -> Iterator[tuple[str, object]]:
    if isinstance(node, Mapping):
        for k, v in node.items():
            here = f"{path}.{k}" if path else str(k)
            if k == key:
                yield here, v
            else:
                yield from _search(v, key, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _search(v, key, f"{path}[{i}]")


def _flatten(value: object) -> Iterator[str]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item)
    else:
        literal = _literal(value)
        if literal is not None:
            yield literal


@register_check(
    "allowed_instance_types",
    params=InstanceTypesParams,
    description="Terraform instance types and classes are in the allowed list.",
)
def allowed_instance_types(manifest: Manifest, params: InstanceTypesParams) -> Iterator[Violation]:
    attributes = params.attributes.get(manifest.kind, ())
    for attribute in attributes:
        for path, raw in _values_at(manifest.body, attribute):
            for value in _flatten(raw):
                if not any(fnmatch.fnmatchcase(value, pattern) for pattern in params.allowed):
                    yield Violation(value=value, path=path, detail=", ".join(params.allowed))
