"""FinOps annotations on workloads and the budget findings they produce (pure).

Annotations (prefix configurable, ``settings.policy.annotation_prefix``, default ``tollgate.dev``), on
the workload's metadata or its pod template (the workload's win):

* ``<prefix>/max-monthly-cost`` -- a monthly cap: ``"5000"``, ``"$5000"``, ``"5,000 USD"``, ``"€300"``,
  ``"USD 1.5k"``, optionally ending ``/month`` or ``per month``. A cap in another currency than the
  estimate is reported, never converted.
* ``<prefix>/budget-owner`` -- who to ask; named in the finding.
* ``<prefix>/cost-tier`` -- free text (e.g. ``critical``); named in the finding.

Findings (``source="finops"``):

* ``TG-FINOPS-001`` (high) -- the estimate is above the cap. The estimate is the normal one (HPA at
  ``minReplicas``); the worst case is mentioned. The remediation gives the largest replica count that fits
  and the cut in CPU/memory requests that would fit.
* ``TG-FINOPS-002`` (medium) -- the cap annotation cannot be used (unparseable, or in another currency).
* ``TG-FINOPS-003`` (low) -- containers without CPU or memory requests, so their cost cannot be allocated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tollgate.cost.kubernetes import is_costable, pod_requests, pod_spec, workload_annotations
from tollgate.model.changes import ChangeKind, ResourceChange
from tollgate.model.config import Environment
from tollgate.model.cost import CostItem, CostReport
from tollgate.model.findings import Finding, Severity
from tollgate.model.manifests import Manifest

__all__ = ["Money", "check_budgets", "format_money", "parse_money"]

RULE_OVER_BUDGET = "TG-FINOPS-001"
RULE_BAD_ANNOTATION = "TG-FINOPS-002"
RULE_NO_REQUESTS = "TG-FINOPS-003"
_SOURCE = "finops"

_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "C$": "CAD", "A$": "AUD"}
_MONEY = re.compile(
    r"""^\s*
    (?P<pre>[A-Za-z]{3}\s*|US\$|C\$|A\$|[$€£¥₹])?\s*
    (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
    \s*(?P<mult>[kKmM])?
    \s*(?P<post>[A-Za-z]{3}|[$€£¥₹])?
    \s*(?:(?:/|per\s+)(?:mo|month)|monthly)?\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount and its ISO currency (``None`` when the text named none)."""

    amount: float
    currency: str | None


def parse_money(text: str) -> Money:
    """Parse a monthly money amount as people write it; raises ``ValueError`` when it is not one."""
    match = _MONEY.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an amount of money (e.g. 5000, $5,000, 300 EUR)")
    pre, post = (match.group("pre") or "").strip(), (match.group("post") or "").strip()
    if pre and post:
        raise ValueError(f"{text!r} names a currency twice")
    symbol = pre or post
    currency = _SYMBOLS.get(symbol, symbol.upper() if symbol else None)
    amount = float(match.group("num").replace(",", ""))
    mult = (match.group("mult") or "").lower()
    amount *= {"k": 1e3, "m": 1e6}.get(mult, 1.0)
    return Money(amount, currency)


def format_money(amount: float, currency: str) -> str:
    """``$1,234.56`` for USD, ``1,234.56 EUR`` otherwise."""
    if currency == "USD":
        return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"
    return f"{amount:,.2f} {currency}"


def _finding(
    rule: str, severity: Severity, change: ResourceChange, message: str, remediation: str = ""
) -> Finding:
    return Finding(
        rule_id=rule,
        severity=severity,
        resource=str(change.key),
        file=change.file,
        line=change.line,
        message=message,
        remediation=remediation,
        source=_SOURCE,
    )


def _fix(item: CostItem, manifest: Manifest, cap: float, currency: str) -> str:
    """A concrete change that would bring the estimate under the cap."""
    estimate = item.monthly_after
    parts: list[str] = []
    replicas = item.replicas
    hpa = item.monthly_after_max is not None
    if replicas and replicas > 1 and manifest.kind != "DaemonSet":
        per_replica = estimate / replicas
        fit = math.floor(cap / per_replica + 1e-9) if per_replica > 0 else replicas
        if 1 <= fit < replicas:
            what = "the HPA's minReplicas" if hpa else "replicas"
            parts.append(f"reduce {what} from {replicas} to {fit} ({format_money(per_replica * fit, currency)})")
    cut = math.ceil((1 - cap / estimate) * 100 - 1e-9) if estimate > 0 else 0
    if 0 < cut < 100:
        parts.append(f"cut CPU/memory requests by {cut}%")
    if not parts:
        return f"raise the cap above {format_money(estimate, currency)} or remove resources"
    return ", or ".join(parts)


def _over_budget(
    change: ResourceChange,
    item: CostItem,
    cap: float,
    annotations: Mapping[str, str],
    prefix: str,
    currency: str,
    environment: Environment | None,
) -> Finding:
    estimate = item.monthly_after
    message = (
        f"estimated {format_money(estimate, currency)}/month exceeds {prefix}/max-monthly-cost "
        f"{format_money(cap, currency)} by {format_money(estimate - cap, currency)}"
    )
    if item.monthly_after_max is not None:
        message += f" (worst case at HPA maxReplicas: {format_money(item.monthly_after_max, currency)})"
    owner = annotations.get(f"{prefix}/budget-owner")
    tier = annotations.get(f"{prefix}/cost-tier")
    extras = [f"budget owner: {owner}"] if owner else []
    if tier:
        extras.append(f"cost tier: {tier}")
    if extras:
        message += "; " + ", ".join(extras)
    if environment is Environment.PRODUCTION:
        message += "; blocks in production"
    manifest = change.after or change.current
    return _finding(RULE_OVER_BUDGET, Severity.HIGH, change, message, _fix(item, manifest, cap, currency))


def _missing_requests(manifest: Manifest) -> tuple[str, ...]:
    spec = pod_spec(manifest)
    if spec is not None:
        return pod_requests(manifest, spec).missing
    body_spec = manifest.body.get("spec")
    if manifest.kind in ("Prometheus", "Alertmanager") and isinstance(body_spec, Mapping):
        container = {"name": manifest.kind.lower(), "resources": body_spec.get("resources")}
        return pod_requests(manifest, {"containers": [container]}).missing
    return ()


def check_budgets(
    changes: Sequence[ResourceChange],
    report: CostReport,
    prefix: str = "tollgate.dev",
    environment: Environment | str | None = None,
) -> list[Finding]:
    """FinOps findings for the added and modified workloads of a change (see the module docstring)."""
    env = Environment.parse(environment) if isinstance(environment, str) else environment
    items = {i.key: i for i in report.items}
    prefix = prefix.rstrip("/")
    findings: list[Finding] = []
    for change in changes:
        after = change.after
        if change.change is ChangeKind.REMOVED or after is None or after.is_terraform:
            continue
        annotations = workload_annotations(after)
        cap_name = f"{prefix}/max-monthly-cost"
        raw_cap = annotations.get(cap_name)
        if raw_cap is not None:
            try:
                cap = parse_money(raw_cap)
            except ValueError as exc:
                findings.append(
                    _finding(
                        RULE_BAD_ANNOTATION, Severity.MEDIUM, change,
                        f"annotation {cap_name}: {exc}",
                        f'write the cap as a plain monthly amount, e.g. {cap_name}: "5000"',
                    )
                )
            else:
                item = items.get(change.key)
                if cap.currency is not None and cap.currency != report.currency:
                    findings.append(
                        _finding(
                            RULE_BAD_ANNOTATION, Severity.MEDIUM, change,
                            f"annotation {cap_name} is in {cap.currency} but estimates are in "
                            f"{report.currency}; not converted, cap not checked",
                            f"give the cap in {report.currency}",
                        )
                    )
                elif item is not None and not item.unknown and item.monthly_after > cap.amount + 1e-9:
                    findings.append(
                        _over_budget(change, item, cap.amount, annotations, prefix, report.currency, env)
                    )
        if is_costable(after) or pod_spec(after) is not None:
            missing = _missing_requests(after)
            if missing:
                findings.append(
                    _finding(
                        RULE_NO_REQUESTS, Severity.LOW, change,
                        f"no resource requests for {', '.join(missing)}: their cost cannot be allocated "
                        "and is counted as 0",
                        "set resources.requests.cpu and resources.requests.memory on every container",
                    )
                )
    return findings
