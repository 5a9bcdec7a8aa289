"""Canary judge configuration: Kayenta's per-metric fields (same names and defaults) plus our own.

Two input shapes are accepted:

* ours (YAML or JSON)::

    metrics:
      - name: p99_latency
        query: 'histogram_quantile(0.99, sum by (le) (rate(http_duration_seconds_bucket{ {{selector}} }[1m])))'
        groups: [latency]
        direction: increase
        kind: continuous          # or count (event counts per interval, e.g. errors)
        minSamples: 20
    classifier:
      groupWeights: {latency: 60, errors: 40}
      scoreThresholds: {pass: 95, marginal: 75}

* a Kayenta ``canaryConfig`` as is: ``metrics[].analysisConfigurations.canary.*`` hold the per-metric
  fields, ``metrics[].query`` is Kayenta's query object (its ``customInlineTemplate`` or ``metricName``
  becomes our query), ``classifier.groupWeights`` the weights. Our own fields may be added under
  ``analysisConfigurations.canary`` too.

Fields that are ours, not Kayenta's: ``kind``, ``minSamples``, ``passMargin`` (per metric) and
``confidence`` (top level). Invalid input raises :class:`~tollgate.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tollgate.errors import ConfigError

__all__ = [
    "CanaryConfig",
    "ClassifierConfig",
    "EffectSizeConfig",
    "MetricConfig",
    "OutlierConfig",
    "ScoreThresholds",
    "config_sha256",
    "dump_config",
    "parse_config",
    "parse_config_text",
]

Direction = Literal["increase", "decrease", "either"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class OutlierConfig(_Model):
    """Kayenta's IQR outlier removal: fences at min(P1, Q1 - f·IQR) and max(P99, Q3 + f·IQR)."""

    strategy: Literal["keep", "remove"] = "keep"
    outlierFactor: float = Field(default=3.0, gt=0)


class EffectSizeConfig(_Model):
    """Practical-significance gates.

    With ``meanRatio`` (canary mean / baseline mean) the defaults are 1.0: any significant change
    counts. With ``cles`` (probability that a canary sample exceeds a baseline one) they are 0.5.
    """

    measure: Literal["meanRatio", "cles"] = "meanRatio"
    allowedIncrease: float | None = Field(default=None, ge=0)
    allowedDecrease: float | None = Field(default=None, ge=0)
    criticalIncrease: float | None = Field(default=None, ge=0)
    criticalDecrease: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _defaults(self) -> EffectSizeConfig:
        neutral = 1.0 if self.measure == "meanRatio" else 0.5
        for name in ("allowedIncrease", "allowedDecrease", "criticalIncrease", "criticalDecrease"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, neutral)
        return self

    def gate(self, name: str) -> float:
        """One of the four thresholds, defaults filled in."""
        value = getattr(self, name)
        assert isinstance(value, float)
        return value


class MetricConfig(_Model):
    """One metric to compare between baseline and canary."""

    name: str = Field(min_length=1)
    query: str = Field(
        default="",
        description="PromQL template ({{selector}}, {{canary_selector}} or {{baseline_selector}} is replaced by "
        "the selector of the side being fetched) or the metric's name in a metric file; default: the name.",
    )
    groups: tuple[str, ...] = ()
    direction: Direction = "either"
    critical: bool = False
    mustHaveData: bool = False
    nanStrategy: Literal["remove", "replace"] = "remove"
    outliers: OutlierConfig = Field(default_factory=OutlierConfig)
    effectSize: EffectSizeConfig = Field(default_factory=EffectSizeConfig)
    muted: bool = False
    kind: Literal["continuous", "count"] = "continuous"
    minSamples: int = Field(default=20, ge=1, description="Fewer samples per side than this: inconclusive.")
    passMargin: float | None = Field(
        default=None,
        gt=0,
        description="Sequential mode: the metric passes once the confidence interval shows the harmful change "
        "is below this fraction (continuous: of the baseline mean; count: of the baseline rate). "
        "Default 0.10 for continuous metrics, 0.5 for counts.",
    )

    @field_validator("groups", mode="before")
    @classmethod
    def _one_group(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @property
    def metric_query(self) -> str:
        """The query, or the metric's name when none is given."""
        return self.query or self.name

    @property
    def pass_margin(self) -> float:
        if self.passMargin is not None:
            return self.passMargin
        return 0.5 if self.kind == "count" else 0.10


class ScoreThresholds(_Model):
    """Score at or above ``pass`` passes; at or above ``marginal`` is marginal; below fails."""

    pass_: float = Field(default=95.0, alias="pass", ge=0, le=100)
    marginal: float = Field(default=75.0, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ScoreThresholds:
        if self.marginal > self.pass_:
            raise ValueError(f"marginal ({self.marginal}) is above pass ({self.pass_})")
        return self


class ClassifierConfig(_Model):
    groupWeights: dict[str, float] = Field(default_factory=dict)
    scoreThresholds: ScoreThresholds = Field(default_factory=ScoreThresholds)

    @field_validator("groupWeights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        for group, weight in value.items():
            if weight < 0:
                raise ValueError(f"weight of group {group!r} is negative ({weight})")
        total = sum(value.values())
        if total > 100 + 1e-9:
            raise ValueError(f"weights add up to {total:g}, more than 100")
        return value


class CanaryConfig(_Model):
    """A whole canary configuration."""

    name: str = "canary"
    metrics: tuple[MetricConfig, ...] = Field(min_length=1)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    confidence: float = Field(
        default=0.98,
        gt=0.5,
        lt=1.0,
        description="Confidence of intervals and tests (Kayenta uses 98%); 1 - confidence bounds the chance "
        "that one metric fails falsely.",
    )

    @model_validator(mode="after")
    def _unique(self) -> CanaryConfig:
        seen: set[str] = set()
        for i, metric in enumerate(self.metrics):
            if metric.name in seen:
                raise ValueError(f"metrics[{i}].name: {metric.name!r} appears twice")
            seen.add(metric.name)
        return self


_KAYENTA_ONLY = {"scopeName", "analysisConfigurations", "description", "id"}
_KAYENTA_TOP_IGNORED = {"configVersion", "applications", "judge", "templates", "description", "createdTimestamp",
                        "updatedTimestamp", "createdTimestampIso", "updatedTimestampIso", "id"}


def _kayenta_query(query: object) -> object:
    """Kayenta's query object -> our query string (inline template, else metric name)."""
    if not isinstance(query, Mapping):
        return query
    template = query.get("customInlineTemplate")
    if isinstance(template, str) and template.strip():
        text = template.strip()
        return text.split(":", 1)[1].strip() if text.lower().startswith("promql:") else text
    for key in ("metricName", "customFilter", "q"):
        value = query.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _from_kayenta(data: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten a Kayenta canaryConfig into our shape (unknown keys still reach validation)."""
    out = {k: v for k, v in data.items() if k not in _KAYENTA_TOP_IGNORED}
    metrics = data.get("metrics")
    if isinstance(metrics, list):
        flat: list[Any] = []
        for metric in metrics:
            if not isinstance(metric, Mapping):
                flat.append(metric)
                continue
            item = {k: v for k, v in metric.items() if k not in _KAYENTA_ONLY}
            analysis = metric.get("analysisConfigurations")
            canary = analysis.get("canary") if isinstance(analysis, Mapping) else None
            if isinstance(canary, Mapping):
                item.update(canary)
            if "query" in item:
                item["query"] = _kayenta_query(item["query"])
            flat.append(item)
        out["metrics"] = flat
    return out


def _is_kayenta(data: Mapping[str, Any]) -> bool:
    metrics = data.get("metrics")
    return isinstance(metrics, list) and any(
        isinstance(m, Mapping) and ("analysisConfigurations" in m or isinstance(m.get("query"), Mapping))
        for m in metrics
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(top level)"


def parse_config(data: object, *, source: str = "<config>") -> CanaryConfig:
    """Validate a parsed config (ours or a Kayenta canaryConfig). Raises ConfigError naming the field."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a canary config must be a mapping, got {type(data).__name__}")
    shaped = _from_kayenta(data) if _is_kayenta(data) else dict(data)
    try:
        return CanaryConfig.model_validate(shaped)
    except ValidationError as exc:
        problems = [
            f"{_field_path(tuple(err['loc']))}: {err['msg'].removeprefix('Value error, ')}" for err in exc.errors()
        ]
        raise ConfigError(
            f"{source}: invalid canary config: " + "; ".join(problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        ) from None


def parse_config_text(text: str, *, source: str = "<config>") -> CanaryConfig:
    """Parse YAML or JSON text (JSON is YAML) into a config."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{line}: not valid YAML/JSON: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, source=source)


def dump_config(config: CanaryConfig) -> str:
    """Our own JSON form of a config (field names as Kayenta spells them)."""
    return json.dumps(config.model_dump(by_alias=True, mode="json"), indent=2)


_DIGESTS: dict[int, tuple[CanaryConfig, str]] = {}
_DIGEST_CACHE_SIZE = 256


def config_sha256(config: CanaryConfig) -> str:
    """SHA-256 of :func:`dump_config` (what a verdict's ledger inputs name).

    Remembered per config object (configs are frozen; the entry keeps its object alive, so an id is never
    reused while cached): a service judges the same few configs over and over.
    """
    cached = _DIGESTS.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    digest = hashlib.sha256(dump_config(config).encode()).hexdigest()
    if len(_DIGESTS) >= _DIGEST_CACHE_SIZE:
        _DIGESTS.clear()
    _DIGESTS[id(config)] = (config, digest)
    return digest
