"""Change risk: a transparent logistic score and the rollout strategy it calls for.

The model is deliberately simple and deterministic (see ``risk_model.yaml`` for the formula and
weights). :func:`extract_features` turns a change into named raw values (counts, flags);
:func:`assess` transforms them, weighs them, and returns a :class:`~tollgate.model.Risk` whose
``reasons`` name every feature that moved the score and by how much (in log-odds), largest first.

Strategy bands (thresholds in ``risk_model.yaml``):

* score < ``bands.canary`` -> **rolling**: a plain rolling update is enough;
* score < ``bands.blue_green`` -> **canary**: shift traffic in steps, judged automatically;
* otherwise -> **blue-green**: a full parallel stack, promoted after a check and an approval.

A medium-band change that touches a StatefulSet or removes a resource is raised to blue-green:
stateful pods cannot run two versions side by side safely (shared volumes, ordinal identity) and a
removal cannot be rolled out to a fraction of traffic, so neither may take the canary path with
automatic promotion.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tollgate.errors import ConfigError
from tollgate.model import (
    ChangeKind,
    ChangeSet,
    CostReport,
    Environment,
    Finding,
    ResourceChange,
    Risk,
    Severity,
    Strategy,
)


@dataclass(frozen=True, slots=True)
class RiskHistory:
    """Recent outcomes for the app, from the ledger: decisions taken and how many failed."""

    recent_decisions: int = 0
    recent_failures: int = 0


# --- the model's parameters -------------------------------------------------------------------


class _Prior(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = Field(ge=0, le=1)
    weight: float = Field(gt=0)


class _Bands(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    canary: float = Field(gt=0, lt=1)
    blue_green: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> _Bands:
        if self.canary >= self.blue_green:
            raise ValueError("bands.canary must be below bands.blue_green")
        return self


class RiskModel(BaseModel):
    """Weights and thresholds of the risk model (validated from ``risk_model.yaml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    intercept: float
    weights: dict[str, float]
    cost_scale: float = Field(gt=0)
    history_prior: _Prior
    bands: _Bands

    @model_validator(mode="after")
    def _known_features(self) -> RiskModel:
        missing = sorted(set(FEATURES) - set(self.weights))
        unknown = sorted(set(self.weights) - set(FEATURES))
        if missing or unknown:
            raise ValueError(f"weights must cover exactly the model's features (missing {missing}, unknown {unknown})")
        return self


@cache
def default_model() -> RiskModel:
    """The shipped model (``tollgate/release/risk_model.yaml``)."""
    text = resources.files("tollgate.release").joinpath("risk_model.yaml").read_text(encoding="utf-8")
    return parse_model(text, source="risk_model.yaml")


def parse_model(text: str, *, source: str) -> RiskModel:
    """Validate a risk model document; ConfigError names the file and the field."""
    try:
        raw = yaml.safe_load(text)
        return RiskModel.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "(document)"
        raise ConfigError(f"{source}: field '{where}': {error['msg']}") from exc


# --- features ----------------------------------------------------------------------------------

WORKLOAD_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob",
     "Pod", "Rollout"}
)
CONFIG_KINDS = frozenset({"ConfigMap", "Secret", "SealedSecret", "ExternalSecret"})
POLICY_KINDS = frozenset(
    {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount", "NetworkPolicy",
     "PodSecurityPolicy", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
     "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "AuthorizationPolicy",
     "PeerAuthentication", "CiliumNetworkPolicy"}
)
SCALING_KINDS = frozenset({"HorizontalPodAutoscaler", "ScaledObject", "VerticalPodAutoscaler"})
RESOURCE_KINDS = frozenset({"LimitRange", "ResourceQuota", "PriorityClass"})
STATEFUL_KINDS = frozenset({"StatefulSet"})

_CONTAINER = r"(?:containers|initContainers|ephemeralContainers)\[[^\]]*\]"
_IMAGE_FIELD = re.compile(rf"{_CONTAINER}\.image$")
_CONFIG_FIELD = re.compile(rf"{_CONTAINER}\.(?:env|envFrom|args|command)(?:\b|\[|$)|\.volumes(?:\b|\[|$)")
_RESOURCES_FIELD = re.compile(r"\.resources(?:\.|$)|(?:^|\.)instance_types?(?:\.|\[|$)|(?:^|\.)instance_class$")
_SCALING_FIELD = re.compile(r"(?:^|\.)(?:replicas|minReplicas|maxReplicas|min_size|max_size|desired_size)$")

#: Change-type flags, in report order.
CHANGE_TYPES = (
    "image_bump", "config", "resources", "scaling", "infra", "policy_rbac", "new_workload", "removal",
    "stateful",
)


def _change_types(change: ResourceChange) -> set[str]:
    kind = change.key.kind
    found: set[str] = set()
    if change.change is ChangeKind.REMOVED:
        found.add("removal")
    if change.change is ChangeKind.ADDED and kind in WORKLOAD_KINDS:
        found.add("new_workload")
    if change.current.is_terraform:
        found.add("infra")
    if kind in CONFIG_KINDS:
        found.add("config")
    if kind in POLICY_KINDS:
        found.add("policy_rbac")
    if kind in SCALING_KINDS:
        found.add("scaling")
    if kind in RESOURCE_KINDS:
        found.add("resources")
    if kind in STATEFUL_KINDS:
        found.add("stateful")
    for path in change.fields:
        if _IMAGE_FIELD.search(path):
            found.add("image_bump")
        if _CONFIG_FIELD.search(path):
            found.add("config")
        if _RESOURCES_FIELD.search(path):
            found.add("resources")
        if _SCALING_FIELD.search(path):
            found.add("scaling")
    return found


def extract_features(
    changes: ChangeSet,
    findings: Sequence[Finding],
    cost: CostReport | None,
    environment: Environment,
    history: RiskHistory | None = None,
) -> dict[str, float]:
    """The raw (untransformed) feature values of a change, keyed by feature name."""
    history = history or RiskHistory()
    items = changes.changes
    files = set(changes.changed_files) or {c.file for c in items if c.file}
    types: set[str] = set()
    for change in items:
        types |= _change_types(change)
    active = [f for f in findings if f.suppressed is None]
    raw: dict[str, float] = {
        "changed_resources": len(items),
        "changed_fields": sum(max(1, len(c.fields)) for c in items),
        "changed_files": len(files),
        "apps": len({c.app for c in items if c.app}),
        "namespaces": len({c.key.namespace for c in items if c.key.namespace}),
        "kinds": len({c.key.kind for c in items}),
        "env_staging": float(environment is Environment.STAGING),
        "env_production": float(environment is Environment.PRODUCTION),
        "cost_delta": abs(cost.monthly_delta) if cost is not None else 0.0,
        "medium_findings": sum(1 for f in active if f.severity is Severity.MEDIUM),
        "high_findings": sum(1 for f in active if f.severity is Severity.HIGH),
        "critical_findings": sum(1 for f in active if f.severity is Severity.CRITICAL),
        "recent_decisions": history.recent_decisions,
        "recent_failures": history.recent_failures,
    }
    for name in CHANGE_TYPES:
        raw[name] = float(name in types)
    return raw


def _log1p(name: str) -> Callable[[Mapping[str, float], RiskModel], float]:
    return lambda raw, _model: math.log1p(max(raw[name], 0.0))


def _spread(name: str) -> Callable[[Mapping[str, float], RiskModel], float]:
    return lambda raw, _model: math.log(raw[name]) if raw[name] > 1 else 0.0


def _flag(name: str) -> Callable[[Mapping[str, float], RiskModel], float]:
    return lambda raw, _model: 1.0 if raw[name] else 0.0


def _cost(raw: Mapping[str, float], model: RiskModel) -> float:
    return math.log1p(raw["cost_delta"] / model.cost_scale)


def _failure_rate(raw: Mapping[str, float], model: RiskModel) -> float:
    prior = model.history_prior
    smoothed = (raw["recent_failures"] + prior.rate * prior.weight) / (raw["recent_decisions"] + prior.weight)
    return smoothed - prior.rate


#: Feature name -> transform of the raw values into the model's input (see risk_model.yaml).
FEATURES: dict[str, Callable[[Mapping[str, float], RiskModel], float]] = {
    "changed_resources": _log1p("changed_resources"),
    "changed_fields": _log1p("changed_fields"),
    "changed_files": _log1p("changed_files"),
    "apps": _spread("apps"),
    "namespaces": _spread("namespaces"),
    "kinds": _spread("kinds"),
    **{name: _flag(name) for name in CHANGE_TYPES},
    "env_staging": _flag("env_staging"),
    "env_production": _flag("env_production"),
    "cost_delta": _cost,
    "medium_findings": _log1p("medium_findings"),
    "high_findings": _log1p("high_findings"),
    "critical_findings": _log1p("critical_findings"),
    "failure_rate": _failure_rate,
    "recent_failures": _log1p("recent_failures"),
}


def _describe(name: str, raw: Mapping[str, float], currency: str) -> str:
    if name in CHANGE_TYPES:
        return f"change type {name.replace('_', ' ')}"
    if name in ("env_staging", "env_production"):
        return f"environment {name.removeprefix('env_')}"
    if name == "cost_delta":
        return f"monthly cost change {raw['cost_delta']:.2f} {currency}"
    if name == "failure_rate":
        return f"recent failures {int(raw['recent_failures'])} of {int(raw['recent_decisions'])} decisions"
    return f"{name.replace('_', ' ')} {int(raw[name])}"


@dataclass(frozen=True, slots=True)
class Contribution:
    """One feature's share of the score, in log-odds (``weight * value``)."""

    name: str
    raw: float
    value: float
    weight: float
    contribution: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "contribution", self.weight * self.value)


def contributions(raw: Mapping[str, float], model: RiskModel | None = None) -> list[Contribution]:
    """Every feature's contribution, in model order."""
    model = model or default_model()
    out: list[Contribution] = []
    for name, transform in FEATURES.items():
        value = transform(raw, model)
        shown = raw["recent_failures"] if name == "failure_rate" else raw[name]
        out.append(Contribution(name, shown, value, model.weights[name]))
    return out


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def band(score: float, model: RiskModel | None = None) -> str:
    """``low``, ``medium`` or ``high``."""
    model = model or default_model()
    if score < model.bands.canary:
        return "low"
    if score < model.bands.blue_green:
        return "medium"
    return "high"


_BAND_STRATEGY = {"low": Strategy.ROLLING, "medium": Strategy.CANARY, "high": Strategy.BLUE_GREEN}


def assess(
    changes: ChangeSet,
    findings: Sequence[Finding],
    cost: CostReport | None,
    environment: Environment,
    history: RiskHistory | None = None,
    *,
    model: RiskModel | None = None,
) -> Risk:
    """Score a change in [0, 1], choose its strategy and explain both (see the module docstring)."""
    model = model or default_model()
    raw = extract_features(changes, findings, cost, environment, history)
    parts = contributions(raw, model)
    logit = model.intercept + sum(p.contribution for p in parts)
    score = round(_sigmoid(logit), 4)
    level = band(score, model)
    strategy = _BAND_STRATEGY[level]
    reasons = [f"risk {score:.2f} ({level}) -> {strategy.value}"]
    if strategy is Strategy.CANARY and (raw["stateful"] or raw["removal"]):
        strategy = Strategy.BLUE_GREEN
        what = "a StatefulSet change" if raw["stateful"] else "a removal"
        reasons[0] = f"risk {score:.2f} ({level}) -> {strategy.value}"
        reasons.append(f"{what} never takes the canary path with automatic promotion: blue-green with approval")
    currency = cost.currency if cost is not None else ""
    moving = [p for p in parts if abs(p.contribution) >= 0.005]
    moving.sort(key=lambda p: (-abs(p.contribution), p.name))
    for part in moving:
        reasons.append(f"{part.name}: {_describe(part.name, raw, currency)} ({part.contribution:+.2f})")
    features: dict[str, float] = {p.name: round(p.value, 6) for p in parts}
    features["logit"] = round(logit, 6)
    return Risk(score=score, strategy=strategy, reasons=tuple(reasons), features=features)


#: Descriptive alias.
assess_risk = assess


def explain_model(model: RiskModel | None = None) -> dict[str, Any]:
    """The model's parameters as plain data (for docs and ``tollgate explain``)."""
    model = model or default_model()
    return model.model_dump()
