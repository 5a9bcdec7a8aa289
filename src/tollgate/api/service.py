"""What the routes share: the ledger (opened once), the metric source, named configs, and the
ledger look-ups behind Flagger's gates. The routes stay thin; everything here is plain Python.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tollgate import __version__
from tollgate.errors import ConfigError, DependencyError, InputError, NotFoundError, TollgateError
from tollgate.ledger import open_ledger
from tollgate.ledger.base import DecisionLedger
from tollgate.model.canary import JudgeResult, Series
from tollgate.model.ledger import DecisionDraft, DecisionRecord, digest_inputs
from tollgate.model.proposals import ProposeMode
from tollgate.release.judge import CanaryConfig, Mode, ScoreThresholds, judge, parse_config_text
from tollgate.release.judge.config import config_sha256
from tollgate.rollback import propose_rollback
from tollgate.settings import Settings
from tollgate.sources.metrics import MetricSource, PrometheusClient, fetch_pair, render_query

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
LOOKUP_LIMIT = 200  # newest ledger records scanned per canary when a gate looks for its evidence
JUDGE_SLOTS = 2
"""Judgements computed at once per process. The judge is CPU-bound Python (it holds the GIL), so more
threads only thrash; requests beyond this wait their turn, which keeps latency predictable."""


@dataclass(frozen=True, slots=True)
class Window:
    """Which samples to compare: one label selector per side over ``[start, end]`` at ``step``."""

    baseline_selector: str
    canary_selector: str
    start: float
    end: float
    step: float


@dataclass(frozen=True, slots=True)
class Judged:
    """A verdict and the ledger record that holds it."""

    result: JudgeResult
    record: DecisionRecord


def canary_key(namespace: str, name: str) -> str:
    """How a Flagger canary is filed in the ledger (its ``app``)."""
    return f"{namespace}/{name}"


def finite(value: float) -> float | None:
    """``value`` when finite, else None (JSON and the ledger take no NaN)."""
    return value if math.isfinite(value) else None


class ApiService:
    """State of one app: a lazily opened ledger, the metric source, a small config cache."""

    def __init__(
        self,
        settings: Settings,
        *,
        ledger_factory: Callable[[], DecisionLedger] | None = None,
        metric_source: MetricSource | None = None,
    ) -> None:
        self.settings = settings
        self.environment = settings.environment or settings.api.environment
        self._ledger_factory = ledger_factory or (lambda: open_ledger(settings.resolved_ledger_url()))
        self._ledger: DecisionLedger | None = None
        self._metric_source = metric_source
        self._owns_source = False
        self._lock = threading.Lock()
        self._configs: dict[Path, tuple[tuple[int, int], CanaryConfig]] = {}
        self._seen_checksum: dict[str, str] = {}
        self._judge_slots = threading.BoundedSemaphore(JUDGE_SLOTS)
        self._rollback_lock = threading.Lock()
        self._rollbacks: dict[str, dict[str, Any]] = {}

    # -- resources -------------------------------------------------------------------------------

    @property
    def ledger(self) -> DecisionLedger:
        """The ledger, opened on first use (a database that cannot be reached raises DependencyError)."""
        if self._ledger is None:
            with self._lock:
                if self._ledger is None:
                    self._ledger = self._ledger_factory()
        return self._ledger

    @property
    def metric_source(self) -> MetricSource:
        if self._metric_source is None:
            url = self.settings.api.prometheus_url
            if not url:
                raise DependencyError(
                    "no metric source: the service has no Prometheus configured",
                    hint="set TOLLGATE_API__PROMETHEUS_URL",
                )
            with self._lock:
                if self._metric_source is None:
                    self._metric_source = PrometheusClient(url, retries=1)
                    self._owns_source = True
        return self._metric_source

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        if self._owns_source and isinstance(self._metric_source, PrometheusClient):
            self._metric_source.close()
            self._metric_source = None

    # -- configs ---------------------------------------------------------------------------------

    def named_config(self, name: str) -> CanaryConfig:
        """The config ``<canary_dir>/<name>.(yaml|yml|json)``, parsed once per file version."""
        directory = self.settings.api.canary_dir
        if directory is None:
            raise ConfigError(
                f"canary config {name!r} was asked for by name, but the service has no canary directory",
                hint="set TOLLGATE_API__CANARY_DIR, or send the config inline as 'canaryConfig'",
            )
        for suffix in CONFIG_SUFFIXES:
            path = directory / f"{name}{suffix}"
            try:
                stat = path.stat()
            except OSError:
                continue
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._configs.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read canary config ({exc.strerror})") from exc
            config = parse_config_text(text, source=str(path))
            self._configs[path] = (stamp, config)
            return config
        raise NotFoundError(f"canary config {name!r} not found in {directory} (looked for {name}.yaml/.yml/.json)")

    # -- judging ---------------------------------------------------------------------------------

    def fetch(self, config: CanaryConfig, window: Window) -> tuple[dict[str, Series], dict[str, Series]]:
        """Baseline and canary series of every metric of ``config`` from the metric source."""
        source = self.metric_source
        baseline: dict[str, Series] = {}
        canary: dict[str, Series] = {}
        for index, metric in enumerate(config.metrics):
            template = metric.metric_query
            if render_query(template, "a") == render_query(template, "b"):
                raise ConfigError(
                    f"canary config metrics[{index}] ({metric.name}): query {template!r} has no {{{{selector}}}} "
                    "placeholder, so baseline and canary would read the same series"
                )
            b, c = fetch_pair(source, template, baseline_selector=window.baseline_selector,
                              canary_selector=window.canary_selector, start=window.start, end=window.end,
                              step=window.step)
            baseline[metric.name], canary[metric.name] = b, c
        return baseline, canary

    def judge_window(
        self,
        config: CanaryConfig,
        window: Window,
        *,
        mode: Mode,
        subject: Mapping[str, str],
        app: str | None,
        actor: str,
    ) -> Judged:
        """Fetch, judge and record the verdict as a ``judge`` decision."""
        baseline, canary = self.fetch(config, window)
        result = self.judge(config, baseline, canary, mode=mode)
        inputs = {**subject, "config_sha256": config_sha256(config),
                  "start": f"{window.start:.3f}", "end": f"{window.end:.3f}", "step": f"{window.step:g}"}
        window_info = {"start": window.start, "end": window.end, "step": window.step}
        return Judged(result, self.record_judgement(result, subject=subject, inputs=inputs, app=app, actor=actor,
                                                    extra={"window": window_info}))

    def judge(self, config: CanaryConfig, baseline: Mapping[str, Series], canary: Mapping[str, Series], *,
              mode: Mode, thresholds: ScoreThresholds | None = None) -> JudgeResult:
        """The judge, at most ``JUDGE_SLOTS`` at a time in this process."""
        with self._judge_slots:
            return judge(config, baseline, canary, mode=mode, thresholds=thresholds)

    def record_judgement(
        self,
        result: JudgeResult,
        *,
        subject: Mapping[str, str],
        inputs: Mapping[str, str],
        app: str | None,
        actor: str,
        extra: Mapping[str, Any] | None = None,
    ) -> DecisionRecord:
        payload: dict[str, Any] = {
            "score": finite(result.score),
            "reason": result.reason,
            "mode": result.mode,
            "metrics": [{"name": m.name, "classification": m.classification.value, "reason": m.reason}
                        for m in result.metrics],
            **(extra or {}),
        }
        return self.ledger.append(DecisionDraft(
            kind="judge", environment=self.environment, verdict=result.verdict.value, subject=dict(subject),
            inputs_digest=digest_inputs(inputs), payload=payload, app=app, actor=actor, tool_version=__version__,
        ))

    # -- Flagger evidence ------------------------------------------------------------------------

    def saw(self, namespace: str, name: str, checksum: str) -> None:
        """Remember the newest revision Flagger mentioned for a canary."""
        if checksum:
            self._seen_checksum[canary_key(namespace, name)] = checksum

    def latest_checksum(self, namespace: str, name: str) -> str:
        """The newest revision seen for a canary (this process, else the ledger); InputError if none."""
        key = canary_key(namespace, name)
        seen = self._seen_checksum.get(key)
        if seen:
            return seen
        for record in self.ledger.list(app=key, limit=LOOKUP_LIMIT):
            checksum = record.subject.get("checksum")
            if record.subject.get("controller") == "flagger" and checksum:
                return checksum
        raise InputError(
            f"canary {key}: no revision seen yet, so 'checksum' cannot be defaulted",
            hint="give the checksum Flagger reports for the canary (its webhook payload's 'checksum')",
        )

    def _matching(self, kind: str, namespace: str, name: str, checksum: str) -> list[DecisionRecord]:
        return [
            r for r in self.ledger.list(kind=kind, app=canary_key(namespace, name), limit=LOOKUP_LIMIT)
            if r.subject.get("controller") == "flagger" and r.subject.get("checksum", "") == checksum
        ]

    def find_approval(self, namespace: str, name: str, checksum: str, gate: str) -> DecisionRecord | None:
        """The newest approval opening ``gate`` for this canary revision, if any."""
        for record in self._matching("approval", namespace, name, checksum):
            if record.subject.get("gate") in ("any", gate):
                return record
        return None

    def rollback_reason(self, namespace: str, name: str, checksum: str) -> str | None:
        """Why this canary revision must roll back now (an operator asked, or its latest verdict failed)."""
        cause = self.rollback_cause(namespace, name, checksum)
        return cause[0] if cause else None

    def rollback_cause(self, namespace: str, name: str, checksum: str) -> tuple[str, str] | None:
        """The reason to roll back now and the ledger record behind it (request or failed verdict)."""
        requests = self._matching("rollback-request", namespace, name, checksum)
        if requests:
            who = requests[0].actor or "an operator"
            reason = requests[0].payload.get("reason") or "no reason given"
            return f"rollback requested by {who} (ledger {requests[0].id}): {reason}", requests[0].id
        judged = self._matching("judge", namespace, name, checksum)
        if judged and judged[0].verdict == "fail":
            reason = f"latest canary verdict is fail (ledger {judged[0].id}): {judged[0].payload.get('reason', '')}"
            return reason, judged[0].id
        return None

    # -- rollback in Git -------------------------------------------------------------------------

    def propose_rollback(
        self, *, commit: str, decision_id: str, evidence: str, app: str | None, subject: Mapping[str, str],
    ) -> dict[str, Any] | None:
        """Propose reverting ``commit`` in the GitOps repo (``settings.rollback``) after a failed decision.

        Returns None when rollback proposals are off, else what the response and the ledger carry:
        ``{"status": "created"|"exists"|"error", "mode", "branch", "commit", "reverts", "decisionId",
        "ledgerId"}`` (``reason`` instead of the Git fields for an error). Idempotent per reverted commit:
        later failing verdicts of the same rollout get the first proposal back (``status: exists``),
        found in this process or in the ledger's ``rollback-proposal`` records. A Git problem (unknown
        commit, conflicting revert, dirty branch) is reported as an error, never raised: the verdict
        stands whatever happens in Git.
        """
        settings = self.settings.rollback
        try:
            mode = ProposeMode.parse(settings.mode, field_name="TOLLGATE_ROLLBACK__MODE")
        except InputError as exc:
            return {"status": "error", "reason": str(exc)}
        if mode is ProposeMode.OFF:
            return None
        if settings.repo is None:
            return {"status": "error", "mode": mode.value,
                    "reason": "rollback proposals are on but no repo is set (TOLLGATE_ROLLBACK__REPO)"}
        key = commit.strip().lower()
        with self._rollback_lock:  # one Git writer per process; the ledger record makes it idempotent
            known = self._rollbacks.get(key) or self._recorded_rollback(key, app)
            if known is not None:
                self._rollbacks[key] = known
                return {**known, "status": "exists"}
            try:
                proposal = propose_rollback(settings.repo, commit=commit, decision_id=decision_id,
                                            evidence=evidence, mode=mode.value, base=settings.base)
            except TollgateError as exc:
                return {"status": "error", "mode": mode.value, "decisionId": decision_id, "reason": str(exc)}
            if proposal is None:  # pragma: no cover - mode was checked above
                return None
            info: dict[str, Any] = {
                "status": proposal.status, "mode": mode.value, "branch": proposal.branch,
                "commit": proposal.commit, "reverts": proposal.reverted, "decisionId": decision_id,
            }
            record = self.ledger.append(DecisionDraft(
                kind="rollback-proposal", environment=self.environment, verdict="proposed",
                subject={**subject, "commit": key, "reverts": proposal.reverted, "decision": decision_id},
                inputs_digest=digest_inputs({"commit": proposal.reverted, "decision": decision_id}),
                payload={**info, "message": proposal.message}, app=app, actor="tollgate", tool_version=__version__,
            ))
            info["ledgerId"] = record.id
            self._rollbacks[key] = info
            self._rollbacks[proposal.reverted] = info
            return info

    def _recorded_rollback(self, commit: str, app: str | None) -> dict[str, Any] | None:
        for record in self.ledger.list(kind="rollback-proposal", app=app, limit=LOOKUP_LIMIT):
            if commit in (record.subject.get("commit"), record.subject.get("reverts")) or (
                    len(commit) >= 7 and record.subject.get("reverts", "").startswith(commit)):
                info = {k: v for k, v in record.payload.items() if k != "message"}
                return {**info, "ledgerId": record.id}
        return None

    def record_flagger(
        self, kind: str, verdict: str, *, namespace: str, name: str, checksum: str,
        extra_subject: Mapping[str, str], payload: Mapping[str, Any], actor: str,
    ) -> DecisionRecord:
        """Append a Flagger-related record (approval, rollback request, event) filed under the canary."""
        subject = {"controller": "flagger", "name": name, "namespace": namespace, "checksum": checksum,
                   **extra_subject}
        inputs = {**subject, "at": f"{time.time():.6f}"}
        return self.ledger.append(DecisionDraft(
            kind=kind, environment=self.environment, verdict=verdict, subject=subject,
            inputs_digest=digest_inputs(inputs), payload=dict(payload), app=canary_key(namespace, name),
            actor=actor, tool_version=__version__,
        ))
