"""Monthly cost of instance-bearing Terraform resources from a price book's instance table (pure).

Input is a :class:`~tollgate.model.manifests.Manifest` with ``api_version == "terraform"``: ``kind`` is
the resource type (or ``module``) and ``body`` the block's attributes as python-hcl2 parses them (string
literals may keep their quotes, nested blocks are lists of dicts, expressions are ``"${...}"`` strings).

Priced, at ``hours_per_month`` x hourly price x count:

* ``aws_instance`` -- ``instance_type`` x ``count``; ``instance_market_options.market_type = spot``
  makes it spot.
* ``aws_spot_instance_request`` -- spot: unknown unless the book has a spot price for the type.
* ``aws_launch_template`` -- one instance, unless an ASG or EKS node group of the same state refers to
  it (then that group carries the cost and the template costs 0).
* ``aws_autoscaling_group`` -- ``desired_capacity`` (else ``min_size``) x the type of its launch
  template, launch configuration or first mixed-instances override; ``max_size`` is the worst case.
* ``aws_eks_node_group`` -- ``scaling_config.desired_size`` x the first of ``instance_types`` (AWS's
  documented default is ``t3.medium``); ``capacity_type = SPOT`` makes it spot.
* ``aws_db_instance`` -- ``instance_class`` (``db.t3.micro``) x ``count``; Multi-AZ doubles it.
* ``module`` calls with ``instance_type``/``instance_types`` and sizes, or node-group maps
  (``eks_managed_node_groups``, ``self_managed_node_groups``: defaults from terraform-aws-eks v21 --
  desired 1, max 3, managed type t3.medium, self-managed type m6i.large).

A value that is an unresolved expression (``${...}``, ``var.x``) or a type without a price makes the
estimate unknown with a note -- never $0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tollgate.cost.pricebook import instance_price
from tollgate.model.cost import PriceBook, PriceSource
from tollgate.model.manifests import Manifest, ResourceKey

__all__ = [
    "EKS_MANAGED_DEFAULT_TYPE",
    "INSTANCE_KINDS",
    "InstanceEstimate",
    "TerraformIndex",
    "estimate_terraform",
    "hcl_value",
]

#: AWS documents t3.medium as the default of an EKS managed node group's ``instance_types``.
EKS_MANAGED_DEFAULT_TYPE = "t3.medium"
#: terraform-aws-eks v21 self-managed-node-group default ``instance_type``.
SELF_MANAGED_DEFAULT_TYPE = "m6i.large"
_MODULE_GROUP_DEFAULTS = {"desired": 1, "max": 3}

INSTANCE_KINDS = frozenset(
    {
        "aws_instance",
        "aws_spot_instance_request",
        "aws_launch_template",
        "aws_autoscaling_group",
        "aws_eks_node_group",
        "aws_db_instance",
        "module",
    }
)

_REF = re.compile(r"\b(aws_launch_template|aws_launch_configuration)\.([A-Za-z0-9_-]+)")
_BARE_EXPR = re.compile(r"^(var|local|module|data|each|count|self|path|terraform)\.")


class _Unresolved(Exception):
    """A value is an expression Terraform would only know at plan time."""

    def __init__(self, field: str, raw: Any, message: str | None = None) -> None:
        super().__init__(message or f"{field} = {hcl_value(raw)!r} is not a literal")
        self.field = field


def _missing(field: str) -> _Unresolved:
    return _Unresolved(field, None, f"{field} is not set")


def hcl_value(value: Any) -> Any:
    """A python-hcl2 value with quotes removed; ``_Unresolved``-worthy strings are left as they are."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
            text = text[1:-1]
        return text
    return value


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and ("${" in value or bool(_BARE_EXPR.match(hcl_value(value))))


def _block(body: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """First nested block ``name`` (hcl2 gives blocks as lists of dicts), or an object attribute."""
    value = body.get(name)
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return value[0]
    if isinstance(value, Mapping):
        return value
    return None


def _blocks(body: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = body.get(name)
    if isinstance(value, list):
        return [v for v in value if isinstance(v, Mapping)]
    return [value] if isinstance(value, Mapping) else []


def _str(body: Mapping[str, Any], name: str, path: str) -> str | None:
    raw = body.get(name)
    if raw is None:
        return None
    if _is_expression(raw):
        raise _Unresolved(path, raw)
    value = hcl_value(raw)
    return None if value in ("", "null") else str(value)


def _num(body: Mapping[str, Any], name: str, path: str) -> int | None:
    raw = body.get(name)
    if raw is None:
        return None
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, int | float):
        return int(raw)
    value = hcl_value(raw)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if value == "null":
        return None
    raise _Unresolved(path, raw)


def _types(body: Mapping[str, Any], name: str, path: str) -> list[str] | None:
    raw = body.get(name)
    if raw is None:
        return None
    if not isinstance(raw, list):
        if hcl_value(raw) == "null":
            return None
        raise _Unresolved(path, raw)
    out: list[str] = []
    for i, item in enumerate(raw):
        if _is_expression(item):
            raise _Unresolved(f"{path}[{i}]", item)
        out.append(str(hcl_value(item)))
    return out


@dataclass(frozen=True, slots=True)
class InstanceEstimate:
    """Monthly cost of one Terraform resource or module call; ``monthly`` is ``None`` when unknown."""

    key: ResourceKey
    monthly: float | None
    count: int | None = None
    instance_type: str | None = None
    source: PriceSource | None = None
    monthly_max: float | None = None
    max_count: int | None = None
    spot: bool = False
    notes: tuple[str, ...] = ()

    @property
    def unknown(self) -> bool:
        return self.monthly is None

    @property
    def note(self) -> str:
        return "; ".join(self.notes)


@dataclass(frozen=True)
class TerraformIndex:
    """Terraform objects of one state, and which launch templates a group refers to."""

    by_key: Mapping[ResourceKey, Manifest]
    referenced_by: Mapping[ResourceKey, ResourceKey] = field(default_factory=dict)

    @classmethod
    def build(cls, state: Iterable[Manifest]) -> TerraformIndex:
        by_key = {m.key: m for m in state if m.is_terraform}
        referenced: dict[ResourceKey, ResourceKey] = {}
        for m in by_key.values():
            if m.kind not in ("aws_autoscaling_group", "aws_eks_node_group"):
                continue
            for ref in _references(m):
                referenced.setdefault(ref, m.key)
        return cls(by_key, referenced)


def _references(m: Manifest) -> list[ResourceKey]:
    refs: list[ResourceKey] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            for kind, name in _REF.findall(value):
                refs.append(ResourceKey(kind, m.namespace, name))
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for attr in ("launch_template", "launch_configuration", "mixed_instances_policy"):
        walk(m.body.get(attr))
    return refs


@dataclass(frozen=True, slots=True)
class _Group:
    """Instances of one type: how many normally and at most."""

    label: str
    instance_type: str
    count: int
    max_count: int
    spot: bool = False
    multiplier: float = 1.0  # e.g. 2 for Multi-AZ databases


def _price_groups(
    key: ResourceKey,
    groups: Sequence[_Group],
    book: PriceBook,
    hours: float,
    region: str | None,
    notes: list[str],
) -> InstanceEstimate:
    monthly = 0.0
    monthly_max = 0.0
    sources: list[PriceSource] = []
    unknown = False
    for g in groups:
        price = instance_price(book, g.instance_type, region, spot=g.spot)
        if price is None:
            kind = "spot " if g.spot else ""
            notes.append(f"{g.label}: no {kind}price for {g.instance_type} in price book {book.name!r}")
            unknown = True
            continue
        monthly += price.hourly * hours * g.count * g.multiplier
        monthly_max += price.hourly * hours * g.max_count * g.multiplier
        sources.append(price.source)
        if len(groups) > 1 or g.label != str(key):
            notes.append(f"{g.label}: {g.count} x {g.instance_type}")
    count = sum(g.count for g in groups)
    max_count = sum(g.max_count for g in groups)
    first = groups[0] if groups else None
    source = sources[0] if sources else None
    return InstanceEstimate(
        key,
        None if unknown else monthly,
        count,
        first.instance_type if first else None,
        source,
        None if unknown or max_count == count else monthly_max,
        max_count,
        any(g.spot for g in groups),
        tuple(notes),
    )


def estimate_terraform(
    manifest: Manifest,
    book: PriceBook,
    *,
    index: TerraformIndex | None = None,
    hours_per_month: float = 730.0,
    region: str | None = None,
) -> InstanceEstimate | None:
    """Monthly cost of one Terraform object, or ``None`` when it carries no instances."""
    if not manifest.is_terraform or manifest.kind not in INSTANCE_KINDS:
        return None
    index = index or TerraformIndex.build([manifest])
    key = manifest.key
    notes: list[str] = []
    try:
        groups = _groups(manifest, index, notes)
    except _Unresolved as exc:
        return InstanceEstimate(key, None, notes=(*notes, f"{exc}: cost unknown until plan time"))
    if groups is None:
        return None
    if not groups:
        return InstanceEstimate(key, 0.0, 0, notes=tuple(notes))
    return _price_groups(key, groups, book, hours_per_month, region, notes)


def _count(body: Mapping[str, Any]) -> int:
    if "for_each" in body:
        raw = body["for_each"]
        if isinstance(raw, list | Mapping):
            return len(raw)
        raise _Unresolved("for_each", raw)
    count = _num(body, "count", "count")
    return 1 if count is None else count


def _groups(m: Manifest, index: TerraformIndex, notes: list[str]) -> list[_Group] | None:
    body = m.body
    label = str(m.key)
    kind = m.kind
    if kind == "aws_instance":
        itype = _str(body, "instance_type", "instance_type")
        if itype is None:
            raise _missing("instance_type")
        market = _block(body, "instance_market_options")
        spot = market is not None and (_str(market, "market_type", "instance_market_options.market_type") == "spot")
        n = _count(body)
        return [_Group(label, itype, n, n, spot)]
    if kind == "aws_spot_instance_request":
        itype = _str(body, "instance_type", "instance_type")
        if itype is None:
            raise _missing("instance_type")
        n = _count(body)
        return [_Group(label, itype, n, n, spot=True)]
    if kind == "aws_db_instance":
        itype = _str(body, "instance_class", "instance_class")
        if itype is None:
            raise _missing("instance_class")
        multi_az = body.get("multi_az")
        if _is_expression(multi_az):
            raise _Unresolved("multi_az", multi_az)
        multi = hcl_value(multi_az) in (True, "true")
        if multi:
            notes.append("Multi-AZ: a standby instance doubles the instance price")
        n = _count(body)
        return [_Group(label, itype, n, n, multiplier=2.0 if multi else 1.0)]
    if kind == "aws_launch_template":
        referrer = index.referenced_by.get(m.key)
        if referrer is not None:
            notes.append(f"instances are counted under {referrer}")
            return []
        itype = _str(body, "instance_type", "instance_type")
        if itype is None:
            raise _missing("instance_type")
        n = _count(body)
        return [_Group(label, itype, n, n)]
    if kind == "aws_autoscaling_group":
        desired = _num(body, "desired_capacity", "desired_capacity")
        low = _num(body, "min_size", "min_size")
        high = _num(body, "max_size", "max_size")
        n = desired if desired is not None else (low or 0)
        itype = _asg_type(m, index)
        return [_Group(label, itype, n, max(n, high or n))]
    if kind == "aws_eks_node_group":
        scaling = _block(body, "scaling_config") or {}
        desired = _num(scaling, "desired_size", "scaling_config.desired_size")
        low = _num(scaling, "min_size", "scaling_config.min_size")
        high = _num(scaling, "max_size", "scaling_config.max_size")
        n = desired if desired is not None else (low or 1)
        types = _types(body, "instance_types", "instance_types")
        if types:
            itype = types[0]
        else:
            itype = _template_type(m, index) or EKS_MANAGED_DEFAULT_TYPE
            if itype == EKS_MANAGED_DEFAULT_TYPE:
                notes.append(f"instance_types not set: AWS default {EKS_MANAGED_DEFAULT_TYPE}")
        capacity = _str(body, "capacity_type", "capacity_type")
        return [_Group(label, itype, n, max(n, high or n), spot=(capacity or "").upper() == "SPOT")]
    if kind == "module":
        return _module_groups(m, notes)
    return None


def _lookup_ref(m: Manifest, index: TerraformIndex, attr_body: Any) -> Manifest | None:
    if attr_body is None:
        return None
    holder = Manifest(m.api_version, m.kind, m.name, m.namespace, {"launch_template": attr_body})
    for ref in _references(holder):
        target = index.by_key.get(ref)
        if target is not None:
            return target
    return None


def _template_type(m: Manifest, index: TerraformIndex) -> str | None:
    lt = _block(m.body, "launch_template")
    if lt is None:
        return None
    target = _lookup_ref(m, index, dict(lt))
    if target is None:
        if any(_is_expression(v) for v in lt.values()):
            raise _Unresolved("launch_template", dict(lt))
        return None
    return _str(target.body, "instance_type", f"{target.key}.instance_type")


def _asg_type(m: Manifest, index: TerraformIndex) -> str:
    body = m.body
    mixed = _block(body, "mixed_instances_policy")
    if mixed is not None:
        lt_block = _block(mixed, "launch_template") or {}
        for override in _blocks(lt_block, "override"):
            itype = _str(override, "instance_type", "mixed_instances_policy.launch_template.override.instance_type")
            if itype:
                return itype
        spec = _block(lt_block, "launch_template_specification")
        target = _lookup_ref(m, index, dict(spec) if spec else None)
        if target is not None:
            itype = _str(target.body, "instance_type", f"{target.key}.instance_type")
            if itype:
                return itype
        raise _Unresolved("mixed_instances_policy", "no resolvable instance type")
    lt_type = _template_type(m, index)
    if lt_type:
        return lt_type
    lc_raw = body.get("launch_configuration")
    if lc_raw is not None:
        target = _lookup_ref(m, index, lc_raw)
        if target is not None:
            itype = _str(target.body, "instance_type", f"{target.key}.instance_type")
            if itype:
                return itype
        raise _Unresolved("launch_configuration", lc_raw)
    raise _Unresolved("launch_template", body.get("launch_template"))


def _module_groups(m: Manifest, notes: list[str]) -> list[_Group] | None:
    body = m.body
    groups: list[_Group] = []
    found = False
    for attr, default_type in (
        ("eks_managed_node_groups", EKS_MANAGED_DEFAULT_TYPE),
        ("self_managed_node_groups", SELF_MANAGED_DEFAULT_TYPE),
    ):
        table = body.get(attr)
        if table is None:
            continue
        if not isinstance(table, Mapping):
            if _is_expression(table):
                raise _Unresolved(attr, table)
            continue
        found = True
        for group_name, group in table.items():
            if not isinstance(group, Mapping):
                raise _Unresolved(f"{attr}.{group_name}", group)
            group_body: Mapping[str, Any] = group
            path = f"{attr}.{group_name}"
            g = _sized_group(f"{m.key}[{group_name}]", group_body, path, default_type, notes)
            if g is not None:
                groups.append(g)
    if not found and ("instance_type" in body or "instance_types" in body):
        found = True
        default = SELF_MANAGED_DEFAULT_TYPE if "instance_type" in body else EKS_MANAGED_DEFAULT_TYPE
        g = _sized_group(str(m.key), body, "", default, notes, plain_instance=True)
        if g is not None:
            groups.append(g)
    if not found:
        return None
    mult = _count(body) if ("count" in body or "for_each" in body) else 1
    if mult != 1:
        groups = [_Group(g.label, g.instance_type, g.count * mult, g.max_count * mult, g.spot) for g in groups]
    return groups


def _sized_group(
    label: str,
    body: Mapping[str, Any],
    path: str,
    default_type: str,
    notes: list[str],
    *,
    plain_instance: bool = False,
) -> _Group | None:
    def p(name: str) -> str:
        return f"{path}.{name}" if path else name

    create = body.get("create")
    if create is not None:
        if _is_expression(create):
            raise _Unresolved(p("create"), create)
        if hcl_value(create) in (False, "false"):
            return None
    types = _types(body, "instance_types", p("instance_types"))
    itype = types[0] if types else _str(body, "instance_type", p("instance_type"))
    if itype is None:
        itype = default_type
        notes.append(f"{label}: instance type not set, module default {default_type}")
    desired = _num(body, "desired_size", p("desired_size"))
    if desired is None:
        desired = _num(body, "desired_capacity", p("desired_capacity"))
    low = _num(body, "min_size", p("min_size"))
    high = _num(body, "max_size", p("max_size"))
    if plain_instance and desired is None and low is None and high is None:
        n, top = 1, 1
    else:
        n = desired if desired is not None else (low if low is not None else _MODULE_GROUP_DEFAULTS["desired"])
        top = high if high is not None else max(n, _MODULE_GROUP_DEFAULTS["max"])
    capacity = _str(body, "capacity_type", p("capacity_type"))
    spot_flag = body.get("create_spot_instance")
    if _is_expression(spot_flag):
        raise _Unresolved(p("create_spot_instance"), spot_flag)
    spot = (capacity or "").upper() == "SPOT" or hcl_value(spot_flag) in (True, "true")
    return _Group(label, itype, n, max(n, top), spot)
