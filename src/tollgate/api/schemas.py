"""Request bodies of the HTTP API (pydantic; a body that does not validate is answered 400)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from tollgate.api.durations import parse_duration

CONFIG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
Mode = Literal["sequential", "mannwhitney"]
ConfirmGate = Literal["confirm-rollout", "confirm-promotion"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ArgoJudgeRequest(_Body):
    """Body of ``POST /v1/judge/argo`` (sent by an AnalysisTemplate's ``web`` provider as ``jsonBody``).

    Exactly one of ``config`` (a name in the configured canary directory) and ``canaryConfig`` (an inline
    config, ours or a Kayenta canaryConfig) is required. The selectors replace ``{{selector}}`` in each
    metric's PromQL; the window ends at ``end`` (unix seconds, default now) and spans ``lookback``.
    """

    config: str | None = Field(default=None, description="Name of a canary config in the canary directory.")
    canaryConfig: dict[str, Any] | None = Field(default=None, description="An inline canary config.")
    baselineSelector: str = Field(min_length=1, description="PromQL label matchers of the baseline pods.")
    canarySelector: str = Field(min_length=1, description="PromQL label matchers of the canary pods.")
    lookback: float = Field(default=600.0, description="Window length: seconds or '10m'-style text.")
    step: float = Field(default=30.0, description="Query resolution: seconds or '30s'-style text.")
    end: float | None = Field(default=None, description="End of the window, unix seconds; default now.")
    mode: Mode = "sequential"
    rollout: str | None = Field(default=None, max_length=253, description="Rollout name (recorded).")
    namespace: str | None = Field(default=None, max_length=253, description="Rollout namespace (recorded).")
    app: str | None = Field(default=None, max_length=253, description="App the decision is filed under.")
    commit: str | None = Field(
        default=None, validation_alias=AliasChoices("commit", "gitCommit"), pattern=r"^[0-9a-fA-F]{7,64}$",
        description="GitOps commit that started the rollout; a fail verdict proposes its revert.",
    )

    @field_validator("lookback", "step", mode="before")
    @classmethod
    def _duration(cls, value: object, info: Any) -> float:
        return parse_duration(value, field=str(info.field_name))

    @field_validator("commit", mode="before")
    @classmethod
    def _blank_commit(cls, value: object) -> object:
        # An AnalysisTemplate arg whose annotation is unset arrives as "": no commit, not a bad body.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("config")
    @classmethod
    def _config_name(cls, value: str | None) -> str | None:
        if value is not None and not CONFIG_NAME.match(value):
            raise ValueError(f"{value!r} is not a config name (letters, digits, '_', '-', '.'; no paths)")
        return value

    @model_validator(mode="after")
    def _one_config(self) -> ArgoJudgeRequest:
        if (self.config is None) == (self.canaryConfig is None):
            raise ValueError("give exactly one of 'config' (a name) and 'canaryConfig' (inline)")
        if self.step > self.lookback:
            raise ValueError(f"step ({self.step:g}s) is longer than lookback ({self.lookback:g}s)")
        return self


class FlaggerPayload(BaseModel):
    """Flagger's ``CanaryWebhookPayload``; unknown top-level fields are ignored (newer Flagger versions)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=253)
    namespace: str = Field(min_length=1, max_length=253)
    phase: str = ""
    checksum: str = Field(default="", max_length=253)
    metadata: dict[str, str] = Field(default_factory=dict)


class ApprovalRequest(_Body):
    """Body of ``POST /v1/approvals``: a human approves a Flagger confirm gate for one canary revision.

    Without ``checksum`` the approval binds to the newest revision the service has seen for that
    canary (echoed back). Without ``gate`` it opens both confirm gates.
    """

    name: str = Field(min_length=1, max_length=253)
    namespace: str = Field(min_length=1, max_length=253)
    checksum: str | None = Field(default=None, min_length=1, max_length=253)
    gate: ConfirmGate | None = None
    approver: str = Field(min_length=1, max_length=253)
    note: str = Field(default="", max_length=4000)


class RollbackRequest(_Body):
    """Body of ``POST /v1/rollbacks``: an operator asks Flagger's rollback gate to roll one canary back."""

    name: str = Field(min_length=1, max_length=253)
    namespace: str = Field(min_length=1, max_length=253)
    checksum: str | None = Field(default=None, min_length=1, max_length=253)
    requester: str = Field(min_length=1, max_length=253)
    reason: str = Field(default="", max_length=4000)


class KayentaScoreThresholds(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pass_: float = Field(alias="pass", ge=0, le=100)
    marginal: float = Field(ge=0, le=100)


class KayentaValues(BaseModel):
    model_config = ConfigDict(extra="ignore")

    control: list[float | str | None] = Field(default_factory=list)
    experiment: list[float | str | None] = Field(default_factory=list)


class KayentaMetricSetPair(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    values: KayentaValues = Field(default_factory=KayentaValues)


class KayentaJudgeRequest(BaseModel):
    """Kayenta's ``RemoteJudgeRequest``: ``{canaryConfig, scoreThresholds, metricSetPairList}``."""

    model_config = ConfigDict(extra="ignore")

    canaryConfig: dict[str, Any]
    scoreThresholds: KayentaScoreThresholds | None = None
    metricSetPairList: list[KayentaMetricSetPair]
