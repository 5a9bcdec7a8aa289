"""Security checks for Kubernetes objects and Terraform resources (IaC scanning).

These are ordinary checks of :data:`tollgate.policy.checks.CHECKS`; the rules that use them live in
``policy/rules/security-k8s.yaml`` and ``policy/rules/security-terraform.yaml``. Most rules share a
few generic checks whose parameters name the field and the values that pass or fail:

* ``container_field`` / ``pod_field`` / ``object_field`` -- one field of each container, of the pod
  spec, or of the object itself (dotted path), with allowed/forbidden values and what a missing field
  means;
* ``tf_attribute`` -- one attribute of a Terraform resource, looking through nested blocks and
  ``dynamic`` blocks; values that are expressions (``var.x``, ``${...}``) are unknown and pass.

Values are compared as normalised strings (``true``, ``0``, ``runtimedefault``), so rule data can be
written in plain YAML (``allowed: [false]``).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from tollgate.model import Manifest, Severity
from tollgate.model.workloads import ContainerRef, iter_containers, pod_spec
from tollgate.policy.checks import CheckParams, Violation, register_check, split_image

Scalar = bool | int | float | str
ContainerList = Literal["containers", "initContainers", "ephemeralContainers"]
_MISSING = object()
_NOT_SET = "not set"


def _norm(value: object) -> str:
    """A value as compared by the checks: booleans as ``true``/``false``, everything lower-case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def _get(node: object, dotted: str) -> object:
    """The value at a dotted path of nested mappings, or :data:`_MISSING`."""
    for part in dotted.split("."):
        if not (type(node) is dict or isinstance(node, Mapping)) or part not in node:
            return _MISSING
        node = node[part]
    return node


class _Pod:
    """The pod spec and containers of one manifest, walked once for all the rules that need them."""

    __slots__ = ("base", "containers", "spec")

    def __init__(self, manifest: Manifest) -> None:
        found = pod_spec(manifest)
        self.base: str = found[0] if found is not None else ""
        self.spec: Mapping[str, Any] | None = found[1] if found is not None else None
        self.containers = tuple(iter_containers(manifest)) if found is not None else ()

    def iter(self, lists: Sequence[str]) -> Iterator[ContainerRef]:
        return (ref for ref in self.containers if ref.list_name in lists)


_last: tuple[Manifest, _Pod] | None = None


def _pod(manifest: Manifest) -> _Pod:
    """The walked pod of ``manifest`` (a one-entry cache: rules run one manifest at a time)."""
    global _last  # noqa: PLW0603 - a deliberate one-slot memo
    last = _last
    if last is not None and last[0] is manifest:
        return last[1]
    pod = _Pod(manifest)
    _last = (manifest, pod)
    return pod


_ALL_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _empty(value: object) -> bool:
    return value is _MISSING or value is None or value == "" or value == [] or value == {}


class FieldParams(CheckParams):
    """A field that must hold an allowed value, must not hold a forbidden one, or must (not) be there."""

    field: str = Field(min_length=1, description="Dotted path of the field.")
    allowed: tuple[Scalar, ...] = Field(default=(), description="If given, the value must be one of these.")
    forbidden: tuple[Scalar, ...] = Field(default=(), description="Values that fail.")
    missing: Literal["fail", "pass"] = Field(default="fail", description="What an absent (or empty) field means.")
    forbid_present: bool = Field(default=False, description="Any non-empty value fails.")
    when_field: str | None = Field(default=None, description="Only check objects whose when_field ...")
    when_values: tuple[Scalar, ...] = Field(default=(), description="... holds one of these values.")
    missing_severity: Severity | None = Field(
        default=None,
        description="Severity of a finding for an absent field (hygiene), when lower than an explicit bad value.",
    )

    def severity_of(self, detail: str) -> Severity | None:
        """The severity override for a violation with ``detail`` (only absent fields have one)."""
        return self.missing_severity if detail == _NOT_SET else None

    def verdict(self, value: object) -> str | None:
        """Why ``value`` fails (a short detail), or ``None`` when it passes."""
        if _empty(value):
            if self.forbid_present:
                return None
            return _NOT_SET if self.missing == "fail" else None
        if self.forbid_present:
            return "set"
        if isinstance(value, Mapping | list):
            return None  # presence was all that was asked
        text = _norm(value)
        if self.forbidden and text in {_norm(v) for v in self.forbidden}:
            return f"is {text}"
        if self.allowed and text not in {_norm(v) for v in self.allowed}:
            return f"is {text}, expected {' or '.join(_norm(v) for v in self.allowed)}"
        return None

    def applies(self, body: Mapping[str, Any]) -> bool:
        if self.when_field is None:
            return True
        value = _get(body, self.when_field)
        return not _empty(value) and _norm(value) in {_norm(v) for v in self.when_values}


class ContainerFieldParams(FieldParams):
    pod_field: str | None = Field(
        default=None, description="Pod-spec field used when the container does not set its own."
    )
    containers: tuple[ContainerList, ...] = Field(default=("containers", "initContainers"), min_length=1)


# --- generic field checks ---------------------------------------------------------------------


@register_check(
    "container_field",
    params=ContainerFieldParams,
    description="A field of every container (falling back to the pod spec) has an acceptable value.",
)
def container_field(manifest: Manifest, params: ContainerFieldParams) -> Iterator[Violation]:
    pod = _pod(manifest)
    if pod.spec is None:
        return
    fallback = _get(pod.spec, params.pod_field) if params.pod_field else _MISSING
    for ref in pod.iter(params.containers):
        value = _get(ref.spec, params.field)
        if value is _MISSING or value is None:
            value = fallback
        detail = params.verdict(value)
        if detail is not None:
            yield Violation(
                value=_show(value), container=ref.name, path=f"{ref.path}.{params.field}", detail=detail,
                severity=params.severity_of(detail),
            )


@register_check(
    "pod_field",
    params=FieldParams,
    description="A field of the pod spec has an acceptable value.",
)
def pod_field(manifest: Manifest, params: FieldParams) -> Iterator[Violation]:
    pod = _pod(manifest)
    if pod.spec is None:
        return
    base, spec = pod.base, pod.spec
    value = _get(spec, params.field)
    detail = params.verdict(value)
    if detail is not None:
        yield Violation(value=_show(value), path=f"{base}.{params.field}", detail=detail,
                        severity=params.severity_of(detail))


@register_check(
    "object_field",
    params=FieldParams,
    description="A field of the object (e.g. spec.type of a Service) has an acceptable value.",
)
def object_field(manifest: Manifest, params: FieldParams) -> Iterator[Violation]:
    body = manifest.body
    if not params.applies(body):
        return
    value = _get(body, params.field)
    detail = params.verdict(value)
    if detail is not None:
        yield Violation(value=_show(value), path=params.field, detail=detail, severity=params.severity_of(detail))


def _show(value: object) -> str:
    if value is _MISSING or value is None:
        return "unset"
    if isinstance(value, list):
        return ", ".join(_norm(v) for v in value)
    return _norm(value) if isinstance(value, bool) else str(value)


# --- pod spec lists ---------------------------------------------------------------------------


@register_check("host_path_volumes", description="The pod mounts no hostPath volume.")
def host_path_volumes(manifest: Manifest, params: CheckParams) -> Iterator[Violation]:  # noqa: ARG001
    pod = _pod(manifest)
    if pod.spec is None:
        return
    base, spec = pod.base, pod.spec
    volumes = spec.get("volumes")
    if not isinstance(volumes, list):
        return
    for index, volume in enumerate(volumes):
        if isinstance(volume, Mapping) and isinstance(volume.get("hostPath"), Mapping):
            path = volume["hostPath"].get("path", "")
            name = volume.get("name", index)
            yield Violation(value=str(path), path=f"{base}.volumes[name={name}].hostPath", detail=str(name))


class ContainerListParams(CheckParams):
    containers: tuple[ContainerList, ...] = Field(
        default=("containers", "initContainers", "ephemeralContainers"), min_length=1
    )


@register_check("host_ports", params=ContainerListParams, description="No container binds a host port.")
def host_ports(manifest: Manifest, params: ContainerListParams) -> Iterator[Violation]:
    for ref in _pod(manifest).iter(params.containers):
        ports = ref.spec.get("ports")
        if not isinstance(ports, list):
            continue
        for port in ports:
            if isinstance(port, Mapping) and port.get("hostPort") not in (None, 0):
                yield Violation(value=str(port["hostPort"]), container=ref.name, path=f"{ref.path}.ports")


def _capabilities(ref: ContainerRef, which: str) -> list[str]:
    caps = _get(ref.spec, f"securityContext.capabilities.{which}")
    return [str(c).upper() for c in caps] if isinstance(caps, list) else []


class CapabilitiesParams(CheckParams):
    forbidden: tuple[str, ...] = Field(default=("ALL", "SYS_ADMIN"), description="Capabilities that must not be added.")
    containers: tuple[ContainerList, ...] = Field(default=("containers", "initContainers"), min_length=1)


@register_check(
    "capabilities_added",
    params=CapabilitiesParams,
    description="No container adds a forbidden Linux capability.",
)
def capabilities_added(manifest: Manifest, params: CapabilitiesParams) -> Iterator[Violation]:
    forbidden = {c.upper().removeprefix("CAP_") for c in params.forbidden}
    for ref in _pod(manifest).iter(params.containers):
        bad = [c for c in _capabilities(ref, "add") if c.removeprefix("CAP_") in forbidden]
        if bad:
            yield Violation(
                value=", ".join(bad), container=ref.name, path=f"{ref.path}.securityContext.capabilities.add"
            )


class CapabilitiesDropParams(CheckParams):
    required: tuple[str, ...] = Field(default=("ALL",), min_length=1, description="Capabilities to drop.")
    containers: tuple[ContainerList, ...] = Field(default=("containers", "initContainers"), min_length=1)


@register_check(
    "capabilities_dropped",
    params=CapabilitiesDropParams,
    description="Every container drops the listed capabilities (dropping ALL covers any of them).",
)
def capabilities_dropped(manifest: Manifest, params: CapabilitiesDropParams) -> Iterator[Violation]:
    for ref in _pod(manifest).iter(params.containers):
        dropped = {c.removeprefix("CAP_") for c in _capabilities(ref, "drop")}
        if "ALL" in dropped:
            continue
        missing = [c for c in params.required if c.upper().removeprefix("CAP_") not in dropped]
        if missing:
            yield Violation(
                value=", ".join(missing), container=ref.name,
                path=f"{ref.path}.securityContext.capabilities.drop",
            )


# --- images -----------------------------------------------------------------------------------


@register_check("image_digest", description="Images are pinned by digest (@sha256:...).")
def image_digest(manifest: Manifest, params: CheckParams) -> Iterator[Violation]:  # noqa: ARG001
    for ref in _pod(manifest).iter(_ALL_LISTS):
        image = ref.spec.get("image")
        if isinstance(image, str) and image and split_image(image)[1] is None:
            yield Violation(value=image, container=ref.name, path=f"{ref.path}.image")


class RegistryParams(CheckParams):
    allowed: tuple[str, ...] = Field(
        default=(),
        description="Registry host patterns (shell style) images may come from; empty: any explicitly named one.",
    )


def image_registry_of(image: str) -> str | None:
    """The registry host of an image reference, or ``None`` when it is implicit (Docker Hub)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return None


@register_check(
    "image_registry",
    params=RegistryParams,
    description="Images name their registry, and it is one of the allowed ones.",
)
def image_registry(manifest: Manifest, params: RegistryParams) -> Iterator[Violation]:
    for ref in _pod(manifest).iter(_ALL_LISTS):
        image = ref.spec.get("image")
        if not isinstance(image, str) or not image:
            continue
        registry = image_registry_of(image)
        if registry is None:
            yield Violation(value=image, container=ref.name, path=f"{ref.path}.image",
                            detail="implicit Docker Hub registry")
        elif params.allowed and not any(fnmatch.fnmatchcase(registry, p) for p in params.allowed):
            yield Violation(value=image, container=ref.name, path=f"{ref.path}.image",
                            detail=f"registry {registry} is not allowed")


# --- secrets in the environment ---------------------------------------------------------------


class EnvSecretParams(CheckParams):
    name_pattern: str = Field(
        default=r"(?i)(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credentials?)",
        description="Regular expression an env var name is matched against (search).",
    )
    source: Literal["literal", "secret_ref"] = Field(
        default="literal",
        description="literal: a secret-looking name with a literal value; secret_ref: any env from a Secret.",
    )


@register_check(
    "env_secrets",
    params=EnvSecretParams,
    description="Secrets do not appear as literal env values (or, with secret_ref, are not passed via env).",
)
def env_secrets(manifest: Manifest, params: EnvSecretParams) -> Iterator[Violation]:
    pattern = re.compile(params.name_pattern)
    for ref in _pod(manifest).iter(_ALL_LISTS):
        env = ref.spec.get("env")
        for item in env if isinstance(env, list) else ():
            if not isinstance(item, Mapping):
                continue
            name = str(item.get("name", ""))
            if params.source == "literal":
                value = item.get("value")
                if value not in (None, "") and pattern.search(name):
                    yield Violation(value=name, container=ref.name, path=f"{ref.path}.env[name={name}].value")
            elif isinstance(_get(item, "valueFrom.secretKeyRef"), Mapping):
                yield Violation(value=name, container=ref.name, path=f"{ref.path}.env[name={name}].valueFrom")
        if params.source == "secret_ref":
            env_from = ref.spec.get("envFrom")
            for index, item in enumerate(env_from if isinstance(env_from, list) else ()):
                if isinstance(item, Mapping) and isinstance(item.get("secretRef"), Mapping):
                    secret = str(item["secretRef"].get("name", ""))
                    yield Violation(value=secret, container=ref.name, path=f"{ref.path}.envFrom[{index}]")


# --- RBAC -------------------------------------------------------------------------------------


class RbacParams(CheckParams):
    mode: Literal["wildcard", "secrets"] = Field(
        default="wildcard",
        description="wildcard: '*' in apiGroups, resources or verbs; secrets: reading Secrets.",
    )
    verbs: tuple[str, ...] = Field(default=("get", "list", "watch"), description="Verbs that read (secrets mode).")


@register_check("rbac_rules", params=RbacParams, description="Role rules grant no wildcard / Secret access.")
def rbac_rules(manifest: Manifest, params: RbacParams) -> Iterator[Violation]:
    rules = manifest.body.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else ()):
        if not isinstance(rule, Mapping):
            continue
        fields = {k: [str(v) for v in rule.get(k) or () if v is not None] for k in ("apiGroups", "resources", "verbs")}
        if params.mode == "wildcard":
            wild = [k for k, values in fields.items() if "*" in values]
            if wild:
                yield Violation(value=", ".join(wild), path=f"rules[{index}]")
        elif "secrets" in fields["resources"] and ("*" in fields["verbs"] or set(fields["verbs"]) & set(params.verbs)):
            yield Violation(value=", ".join(fields["verbs"]), path=f"rules[{index}]")


# --- Terraform --------------------------------------------------------------------------------

_EXPRESSION = re.compile(r"\$\{|^(var|local|module|data|each|count)\.")


def is_expression(value: object) -> bool:
    """Whether a Terraform value is computed (a reference or an interpolation), i.e. unknown here."""
    return isinstance(value, str) and bool(_EXPRESSION.search(value.strip()))


def _blocks(node: Mapping[str, Any], name: str) -> list[Any] | None:
    """The values of block/attribute ``name`` (a list for repeated blocks), including ``dynamic`` ones."""
    out: list[Any] = []
    if name in node:
        value = node[name]
        out.extend(value if isinstance(value, list) and value and isinstance(value[0], Mapping) else [value])
    dynamic = node.get("dynamic")
    for entry in dynamic if isinstance(dynamic, list) else ():
        if isinstance(entry, Mapping) and isinstance(entry.get(name), Mapping):
            content = entry[name].get("content")
            out.extend(content if isinstance(content, list) else [content or {}])
    return out or None


def tf_values(body: Mapping[str, Any], dotted: str) -> tuple[list[object], bool]:
    """Every value at ``dotted`` across repeated blocks, and whether some parent block is absent."""
    nodes: list[object] = [body]
    parts = dotted.split(".")
    for depth, part in enumerate(parts):
        nxt: list[object] = []
        for node in nodes:
            if not isinstance(node, Mapping):
                continue
            found = _blocks(node, part)
            if found is None:
                nxt.append(_MISSING if depth == len(parts) - 1 else None)
            else:
                nxt.extend(found)
        if depth < len(parts) - 1 and all(n is None for n in nxt):
            return [], True
        nodes = [n for n in nxt if n is not None] if depth < len(parts) - 1 else nxt
    return nodes, False


class TfAttributeParams(FieldParams):
    field: str = Field(default="", description="Unused: name attributes in 'attributes'.")
    attributes: tuple[str, ...] = Field(min_length=1, description="Dotted attribute paths; each is checked.")
    absent_block: Literal["fail", "pass"] = Field(
        default="pass", description="What a missing enclosing block (e.g. no root_block_device) means."
    )
    must_contain: tuple[str, ...] = Field(default=(), description="A list attribute must contain these values.")


@register_check(
    "tf_attribute",
    params=TfAttributeParams,
    description="Terraform attributes (through nested and dynamic blocks) have acceptable values.",
)
def tf_attribute(manifest: Manifest, params: TfAttributeParams) -> Iterator[Violation]:
    body = manifest.body
    if params.when_field is not None:
        values, _ = tf_values(body, params.when_field)
        known = [v for v in values if v is not _MISSING and not is_expression(v)]
        if not any(_norm(v) in {_norm(w) for w in params.when_values} for v in known):
            return
    for attribute in params.attributes:
        values, block_absent = tf_values(body, attribute)
        if block_absent:
            if params.absent_block == "fail":
                yield Violation(value="unset", path=attribute, detail=f"no {attribute.rsplit('.', 1)[0]} block",
                                severity=params.missing_severity)
            continue
        for value in values:
            if is_expression(value):
                continue
            if params.must_contain and not _empty(value):
                have = {_norm(v) for v in value} if isinstance(value, list) else {_norm(value)}
                if any(is_expression(v) for v in (value if isinstance(value, list) else [value])):
                    continue
                lacking = [m for m in params.must_contain if _norm(m) not in have]
                if lacking:
                    yield Violation(value=_show(value), path=attribute, detail=f"lacks {', '.join(lacking)}")
                continue
            detail = params.verdict(value)
            if detail is not None:
                yield Violation(value=_show(value), path=attribute, detail=detail, severity=params.severity_of(detail))


class OpenIngressParams(CheckParams):
    ports: tuple[int, ...] = Field(default=(), description="Ports that must not be open to the world.")
    all_ports: bool = Field(default=False, description="Instead: flag rules that open every port.")
    world: tuple[str, ...] = Field(default=("0.0.0.0/0", "::/0"), description="CIDRs that mean 'anyone'.")


def _port(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _ingress_entries(manifest: Manifest) -> Iterator[tuple[str, Mapping[str, Any], list[str]]]:
    """(path, rule attributes, CIDRs) of each ingress rule a Terraform resource declares."""
    body = manifest.body
    kind = manifest.kind
    if kind == "aws_security_group":
        for index, block in enumerate(_blocks(body, "ingress") or ()):
            if isinstance(block, Mapping):
                cidrs = [*(block.get("cidr_blocks") or ()), *(block.get("ipv6_cidr_blocks") or ())]
                yield f"ingress[{index}]", block, [str(c) for c in cidrs]
    elif kind == "aws_security_group_rule":
        if _norm(body.get("type", "")) == "ingress":
            cidrs = [*(body.get("cidr_blocks") or ()), *(body.get("ipv6_cidr_blocks") or ())]
            yield "", body, [str(c) for c in cidrs]
    elif kind == "aws_vpc_security_group_ingress_rule":
        cidrs = [str(body[k]) for k in ("cidr_ipv4", "cidr_ipv6") if body.get(k)]
        yield "", body, cidrs


def _is_world(cidr: str, world: Sequence[str]) -> bool:
    if cidr in world:
        return True
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


@register_check(
    "tf_open_ingress",
    params=OpenIngressParams,
    description="Security-group ingress open to 0.0.0.0/0 or ::/0 on the listed ports (or on every port).",
)
def tf_open_ingress(manifest: Manifest, params: OpenIngressParams) -> Iterator[Violation]:
    for path, rule, cidrs in _ingress_entries(manifest):
        open_to = [c for c in cidrs if not is_expression(c) and _is_world(c, params.world)]
        if not open_to:
            continue
        protocol = _norm(rule.get("protocol", rule.get("ip_protocol", "tcp")))
        low, high = _port(rule.get("from_port")), _port(rule.get("to_port"))
        if protocol in ("-1", "all"):
            every = True
        elif low is None or high is None:
            continue  # ports are expressions: unknown
        else:
            every = low <= 0 and high >= 65535
        where = f"{path}." if path else ""
        if params.all_ports:
            if every:
                yield Violation(value=", ".join(open_to), path=f"{where}from_port", detail="all ports")
            continue
        for port in params.ports:
            if every or (low is not None and high is not None and low <= port <= high):
                yield Violation(value=", ".join(open_to), path=f"{where}from_port", detail=str(port))
                break


class IamWildcardParams(CheckParams):
    attribute: str = Field(default="policy", description="Attribute holding the policy document.")
    actions: tuple[str, ...] = Field(default=("*",), description="Actions that grant too much.")
    resource_wildcard: bool = Field(default=False, description="Only flag statements whose Resource is also '*'.")


_ACTION = re.compile(r'"?(NotAction|Action)"?\s*[:=]\s*(\[[^\]]*\]|"[^"]*")')
_RESOURCE = re.compile(r'"?Resource"?\s*[:=]\s*(\[[^\]]*\]|"[^"]*")')
_EFFECT = re.compile(r'"?Effect"?\s*[:=]\s*"(\w+)"')
_INNER = re.compile(r"\{[^{}]*\}")


def policy_statements(text: str) -> list[tuple[str, list[str], list[str]]]:
    """(effect, actions, resources) of each statement in a JSON or ``jsonencode({...})`` policy text."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    out: list[tuple[str, list[str], list[str]]] = []
    if isinstance(doc, Mapping):
        statements = doc.get("Statement")
        for st in statements if isinstance(statements, list) else [statements]:
            if isinstance(st, Mapping):
                acts = st.get("Action", [])
                res = st.get("Resource", [])
                out.append((
                    str(st.get("Effect", "Allow")),
                    [str(a) for a in (acts if isinstance(acts, list) else [acts])],
                    [str(r) for r in (res if isinstance(res, list) else [res])],
                ))
        return out
    # HCL object syntax: peel the innermost braces; those naming an Action are statements.
    while True:
        match = _INNER.search(text)
        if match is None:
            return out
        chunk = match.group(0)
        action = _ACTION.search(chunk)
        if action is not None and action.group(1) == "Action":
            effect = _EFFECT.search(chunk)
            resource = _RESOURCE.search(chunk)
            out.append((
                effect.group(1) if effect else "Allow",
                re.findall(r'"([^"]*)"', action.group(2)),
                re.findall(r'"([^"]*)"', resource.group(1)) if resource else [],
            ))
        text = text[: match.start()] + "0" + text[match.end():]


@register_check(
    "tf_iam_wildcard",
    params=IamWildcardParams,
    description="IAM policy documents allow no wildcard actions.",
)
def tf_iam_wildcard(manifest: Manifest, params: IamWildcardParams) -> Iterator[Violation]:
    text = manifest.body.get(params.attribute)
    if not isinstance(text, str) or not text.strip():
        return
    for index, (effect, actions, resources) in enumerate(policy_statements(text)):
        if effect.lower() != "allow":
            continue
        wild = [a for a in actions if a in params.actions]
        if wild and (not params.resource_wildcard or "*" in resources):
            yield Violation(value=", ".join(wild), path=f"{params.attribute}.Statement[{index}]")
