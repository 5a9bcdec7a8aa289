"""Cost of a change set and of a whole state (pure).

:func:`estimate_change_costs` gives one :class:`~tollgate.model.cost.CostItem` per changed costable
object (Kubernetes workloads and volume claims, instance-bearing Terraform resources and modules):
``monthly_before`` is 0 for an addition and ``monthly_after`` 0 for a removal. Objects whose cost moves
because something else changed get an item too: the workload an HPA targets when the HPA changes, and
the group that uses a launch template when the template changes. An object whose cost cannot be known
on either side is ``unknown`` (the report leaves it out of the totals) and its note says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tollgate.cost.kubernetes import ContainerUsage, HpaBounds, estimate_workload, find_hpas
from tollgate.cost.terraform import InstanceEstimate, TerraformIndex, estimate_terraform
from tollgate.model.changes import ResourceChange
from tollgate.model.cost import CostItem, CostReport, PriceBook, PriceSource
from tollgate.model.manifests import Manifest, ResourceKey

__all__ = ["estimate_change_costs", "state_cost"]

_HPA = "HorizontalPodAutoscaler"
_TEMPLATE_KINDS = ("aws_launch_template", "aws_launch_configuration")


@dataclass(frozen=True)
class _Side:
    """One state (base or head) with what estimates need from it."""

    by_key: Mapping[ResourceKey, Manifest]
    hpas: Mapping[ResourceKey, HpaBounds]
    terraform: TerraformIndex

    @classmethod
    def of(cls, state: Sequence[Manifest]) -> _Side:
        return cls({m.key: m for m in state}, find_hpas(state), TerraformIndex.build(state))


@dataclass(frozen=True, slots=True)
class _Estimate:
    monthly: float | None
    monthly_max: float | None
    replicas: int | None
    source: PriceSource | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Params:
    book: PriceBook
    node_count: int
    hours: float
    region: str | None
    usage: Mapping[ResourceKey, Mapping[str, ContainerUsage]] | None


def _estimate(m: Manifest, side: _Side, p: _Params) -> _Estimate | None:
    if m.is_terraform:
        t: InstanceEstimate | None = estimate_terraform(
            m, p.book, index=side.terraform, hours_per_month=p.hours, region=p.region
        )
        if t is None:
            return None
        return _Estimate(t.monthly, t.monthly_max, t.count, t.source, t.notes)
    k = estimate_workload(
        m,
        p.book,
        node_count=p.node_count,
        hours_per_month=p.hours,
        hpa=side.hpas.get(m.key),
        usage=p.usage.get(m.key) if p.usage else None,
    )
    if k is None:
        return None
    return _Estimate(k.monthly, k.monthly_max, k.replicas, p.book.resource_source, k.notes)


def _item(
    key: ResourceKey,
    before: Manifest | None,
    after: Manifest | None,
    base: _Side,
    head: _Side,
    p: _Params,
    extra_note: str = "",
) -> CostItem | None:
    b = _estimate(before, base, p) if before is not None else None
    a = _estimate(after, head, p) if after is not None else None
    if b is None and a is None:
        return None
    unknown = (b is not None and b.monthly is None) or (a is not None and a.monthly is None)
    notes: list[str] = [extra_note] if extra_note else []
    if a is not None:
        notes.extend(a.notes)
    if b is not None and b.monthly is None:
        notes.extend(f"before: {n}" for n in b.notes)
    source = (a.source if a is not None else None) or (b.source if b is not None else None)
    if source is None:  # unknown on both sides: name where a price would have come from
        current = after or before
        terraform = current is not None and current.is_terraform
        source = PriceSource.PRICEBOOK if terraform else p.book.resource_source
    after_monthly = a.monthly if a is not None and a.monthly is not None else 0.0
    after_max = a.monthly_max if a is not None else None
    return CostItem(
        key=key,
        monthly_before=b.monthly if b is not None and b.monthly is not None else 0.0,
        monthly_after=after_monthly,
        price_source=source,
        unknown=unknown,
        monthly_after_max=after_max if after_max is not None and after_max != after_monthly else None,
        note="; ".join(dict.fromkeys(notes)),
        replicas=a.replicas if a is not None else None,
    )


def estimate_change_costs(
    changes: Sequence[ResourceChange],
    base_state: Sequence[Manifest],
    head_state: Sequence[Manifest],
    pricebook: PriceBook,
    *,
    node_count: int = 3,
    hours_per_month: float = 730.0,
    region: str | None = None,
    usage: Mapping[ResourceKey, Mapping[str, ContainerUsage]] | None = None,
) -> CostReport:
    """Monthly cost before and after each changed costable object (see the module docstring).

    ``region`` picks regional instance prices; ``usage`` (per workload, per container) applies
    OpenCost's ``max(request, usage)``. Raises :class:`~tollgate.errors.ParseError` for a malformed
    quantity, naming the file and field.
    """
    base, head = _Side.of(base_state), _Side.of(head_state)
    p = _Params(pricebook, node_count, hours_per_month, region, usage)
    items: dict[ResourceKey, CostItem] = {}
    knock_on: list[tuple[ResourceKey, str]] = []
    for change in changes:
        key = change.key
        item = _item(key, change.before, change.after, base, head, p)
        if item is not None:
            items[key] = item
        if key.kind == _HPA:
            for m in (change.before, change.after):
                target = _hpa_target(m)
                if target is not None:
                    knock_on.append((target, f"{_HPA} {key.name} changed"))
        elif key.kind in _TEMPLATE_KINDS:
            for side in (base, head):
                referrer = side.terraform.referenced_by.get(key)
                if referrer is not None:
                    knock_on.append((referrer, f"{key.kind}.{key.name} changed"))
    for target, why in knock_on:
        if target in items:
            continue
        item = _item(target, base.by_key.get(target), head.by_key.get(target), base, head, p, why)
        if item is not None:
            items[target] = item
    return CostReport(pricebook.currency, tuple(items.values()))


def _hpa_target(m: Manifest | None) -> ResourceKey | None:
    if m is None:
        return None
    spec = m.body.get("spec")
    ref = spec.get("scaleTargetRef") if isinstance(spec, Mapping) else None
    if not isinstance(ref, Mapping):
        return None
    kind, name = ref.get("kind"), ref.get("name")
    if isinstance(kind, str) and isinstance(name, str):
        return ResourceKey(kind, m.namespace, name)
    return None


def state_cost(
    manifests: Iterable[Manifest],
    pricebook: PriceBook,
    *,
    node_count: int = 3,
    hours_per_month: float = 730.0,
    region: str | None = None,
) -> CostReport:
    """Monthly cost of every costable object of one state; each item has before == after.

    ``report.monthly_after`` is the state's known total; unknown items are listed but not summed.
    """
    state = list(manifests)
    side = _Side.of(state)
    p = _Params(pricebook, node_count, hours_per_month, region, None)
    items: list[CostItem] = []
    for m in state:
        est = _estimate(m, side, p)
        if est is None:
            continue
        monthly = est.monthly if est.monthly is not None else 0.0
        items.append(
            CostItem(
                key=m.key,
                monthly_before=monthly,
                monthly_after=monthly,
                price_source=est.source or pricebook.resource_source,
                unknown=est.monthly is None,
                monthly_after_max=est.monthly_max if est.monthly_max != monthly else None,
                note="; ".join(est.notes),
                replicas=est.replicas,
            )
        )
    return CostReport(pricebook.currency, tuple(items))
