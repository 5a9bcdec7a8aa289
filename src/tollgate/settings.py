"""One Settings object for tollgate, read from the environment (prefix ``TOLLGATE_``).

Nested groups use ``__`` as the separator, e.g. ``TOLLGATE_PRICING__NODE_COUNT=5``. The ledger URL
also has the documented short form ``TOLLGATE_LEDGER_URL``. Nothing is read at import time: build a
``Settings()`` where it is needed (the CLI and the API app factory do).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollgate.errors import ConfigError


def default_data_dir() -> Path:
    """Per-user data directory where the default ledger and billing store live."""
    return Path(platformdirs.user_data_dir("tollgate", appauthor=False))


class PricingSettings(BaseModel):
    """How costs are estimated."""

    pricebook: Path | None = Field(
        default=None, description="User price book (YAML or CSV); overrides the shipped OpenCost defaults."
    )
    focus_file: Path | None = Field(
        default=None, description="FOCUS billing export to derive instance unit prices from."
    )
    currency: str = Field(default="USD", description="ISO 4217 currency of all estimates.")
    hours_per_month: float = Field(default=730.0, gt=0, description="Hours in a billing month (OpenCost).")
    node_count: int = Field(default=3, ge=1, description="Nodes a DaemonSet runs on, for its estimate.")
    region: str | None = Field(default=None, description="Preferred region when a price book has several.")


class PolicySettings(BaseModel):
    """Which rules run."""

    rego_dir: Path | None = Field(
        default=None, description="Directory of *.rego policies, relative to the repo root if not absolute."
    )
    rule_packs: list[Path] = Field(default_factory=list, description="Extra YAML rule packs.")
    required_labels: list[str] = Field(
        default_factory=lambda: ["cost-center"], description="Labels every workload must carry."
    )
    allowed_instance_types: list[str] = Field(
        default_factory=list, description="Terraform instance types allowed; empty allows all."
    )
    annotation_prefix: str = Field(
        default="tollgate.dev", description="Domain of the FinOps annotations (max-monthly-cost, …)."
    )
    security_packs: bool = Field(
        default=True,
        description="Run the IaC security packs (TG-K8S-006.., TG-TF-002..) in reviews too; findings a modified "
        "resource already had before the change are reported as info. `scan` always runs them.",
    )
    embedding_cache: bool = Field(
        default=True, description="Keep the NL parser's template vectors on disk instead of computing them per run."
    )
    embedding_cache_dir: Path | None = Field(
        default=None, description="Directory of that cache; default: <user cache dir>/tollgate/embeddings."
    )


class RenderSettings(BaseModel):
    """External renderers."""

    kustomize: str | None = Field(default=None, description="kustomize program; default: found on PATH.")
    helm: str | None = Field(default=None, description="helm program; default: found on PATH.")
    timeout_s: float = Field(default=120.0, gt=0, description="Timeout of one render.")


class LedgerSettings(BaseModel):
    """Where decisions are recorded."""

    url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file in the user data dir."
    )


class ApiSettings(BaseModel):
    """The HTTP service (``tollgate serve``)."""

    token: SecretStr | None = Field(
        default=None,
        description="Bearer token of every mutating or approving endpoint (TOLLGATE_API__TOKEN); "
        "unset: those endpoints answer 503.",
    )
    webhook_token: SecretStr | None = Field(
        default=None,
        description="Extra token accepted only on the Flagger webhooks, which cannot send headers and pass "
        "it as metadata.token (TOLLGATE_API__WEBHOOK_TOKEN); it cannot approve or request rollbacks.",
    )
    canary_dir: Path | None = Field(
        default=None, description="Directory of named canary configs (<name>.yaml, .yml or .json)."
    )
    prometheus_url: str | None = Field(default=None, description="Prometheus the judge endpoints query.")
    environment: str = Field(default="production", description="Environment recorded on API decisions.")


class BillingSettings(BaseModel):
    """FOCUS billing data (``tollgate cost …``)."""

    store: Path | None = Field(
        default=None, description="DuckDB billing store; default: billing.duckdb in the data dir."
    )
    memory_limit: str = Field(
        default="2GB", description="DuckDB memory ceiling while ingesting and querying (e.g. 2GB, 512MB)."
    )
    threads: int | None = Field(
        default=None, ge=1, description="DuckDB worker threads; default: one per core."
    )


class RightsizeSettings(BaseModel):
    """Rightsizing (``tollgate rightsize``)."""

    prometheus_url: str | None = Field(default=None, description="Prometheus holding the usage history.")
    strategy: str = Field(default="krr-simple", description="Recommendation strategy (krr-simple, vpa or safe).")
    history: str = Field(default="14d", description="Usage history window (Prometheus duration).")
    per: str = Field(default="workload", description="Proposal granularity: one commit per workload or per run.")
    idle_replicas: int = Field(default=0, ge=0, description="Replicas proposed for an idle workload.")


class RollbackSettings(BaseModel):
    """Rollback of a failed canary as a Git proposal."""

    mode: str = Field(default="off", description="off, branch or commit.")
    repo: Path | None = Field(default=None, description="GitOps repo the rollback is proposed in.")
    base: str | None = Field(default=None, description="Branch the revert goes on (default: the repo's default).")


class LlmSettings(BaseModel):
    """Optional OpenAI-compatible endpoint; off unless ``url`` is set. It only rephrases or proposes."""

    url: str | None = Field(default=None, description="Base URL of an OpenAI-compatible API (…/v1).")
    model: str = Field(default="gpt-4o-mini", description="Model name sent to the endpoint.")
    api_key: SecretStr | None = Field(default=None, description="Bearer key for the endpoint.")
    timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one request.")


class RepoOverrides(BaseModel):
    """Settings a repo may set in ``tollgate.yaml`` (``settings:``) and each app in its ``overrides:``."""

    model_config = ConfigDict(extra="forbid")

    node_count: int | None = Field(default=None, ge=1, description="Nodes a DaemonSet of this app runs on.")
    required_labels: list[str] | None = Field(default=None, description="Labels every workload must carry.")
    allowed_instance_types: list[str] | None = Field(default=None, description="Allowed instance types.")
    annotation_prefix: str | None = Field(default=None, description="Domain of the FinOps annotations.")


class Settings(BaseSettings):
    """All of tollgate's settings."""

    model_config = SettingsConfigDict(env_prefix="TOLLGATE_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="Where local state is kept.")
    ledger_url: str | None = Field(default=None, description="Short form of ledger.url.")
    environment: str | None = Field(
        default=None, description="Default environment when tollgate.yaml names none."
    )
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    render: RenderSettings = Field(default_factory=RenderSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    rightsize: RightsizeSettings = Field(default_factory=RightsizeSettings)
    rollback: RollbackSettings = Field(default_factory=RollbackSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)

    def with_overrides(self, overrides: Mapping[str, Any], where: str) -> Settings:
        """A copy with ``overrides`` (a :class:`RepoOverrides` mapping) applied.

        Raises ConfigError naming ``where`` (e.g. ``tollgate.yaml: apps[shop].overrides``) and the field.
        """
        if not overrides:
            return self
        try:
            parsed = RepoOverrides.model_validate(dict(overrides))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "?"
            raise ConfigError(f"{where}.{field}: {first['msg']}") from exc
        pricing = self.pricing
        if parsed.node_count is not None:
            pricing = pricing.model_copy(update={"node_count": parsed.node_count})
        policy_update = {k: v for k, v in parsed.model_dump(exclude={"node_count"}).items() if v is not None}
        policy = self.policy.model_copy(update=policy_update) if policy_update else self.policy
        return self.model_copy(update={"pricing": pricing, "policy": policy})

    def resolved_ledger_url(self) -> str:
        """The ledger URL in force: explicit setting, else a SQLite file under ``data_dir``."""
        url = self.ledger_url or self.ledger.url
        if url:
            return url
        return f"sqlite:///{self.data_dir / 'ledger.db'}"

    def resolved_billing_store(self) -> Path:
        """The billing store in force: explicit setting, else ``billing.duckdb`` under ``data_dir``."""
        return self.billing.store or self.data_dir / "billing.duckdb"
