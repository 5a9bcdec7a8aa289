"""Endpoints: Argo Rollouts ``web`` provider, Flagger webhooks, approvals, rollback requests, Kayenta.

Handlers are plain ``def``: FastAPI runs them in its thread pool, so the judge (NumPy) and the ledger
(database) never block the event loop.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tollgate.api.auth import check_webhook_token, require_token
from tollgate.api.durations import parse_duration
from tollgate.api.metrics import ApiMetrics
from tollgate.api.schemas import (
    ApprovalRequest,
    ArgoJudgeRequest,
    FlaggerPayload,
    KayentaJudgeRequest,
    Mode,
    RollbackRequest,
)
from tollgate.api.service import ApiService, Judged, Window, canary_key, finite
from tollgate.errors import InputError, NotFoundError
from tollgate.model.canary import CanaryVerdict, JudgeResult, Series
from tollgate.release.judge import ScoreThresholds, parse_config, to_kayenta_result

router = APIRouter()
T = TypeVar("T")


def _service(request: Request) -> ApiService:
    service: ApiService = request.app.state.service
    return service


def _metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


def _verdict_body(result: JudgeResult, decision_id: str) -> dict[str, Any]:
    return {
        "verdict": result.verdict.value,
        "score": finite(result.score),
        "reason": result.reason,
        "decisionId": decision_id,
        "metrics": [{"name": m.name, "classification": m.classification.value} for m in result.metrics],
    }


# -- Argo Rollouts ---------------------------------------------------------------------------------


async def _in_worker(request: Request, work: Callable[[], T]) -> T:
    """Run blocking, CPU-heavy work (fetch, judge, ledger) on one of a few worker threads.

    A small pool instead of FastAPI's 40 threads: the judge holds the GIL, and many runnable threads
    starve the event loop and each other (measured: throughput fell to a third under load).
    """
    limiter: anyio.CapacityLimiter = request.app.state.work_limiter
    return await anyio.to_thread.run_sync(work, limiter=limiter)


@router.post("/v1/judge/argo", dependencies=[Depends(require_token)], tags=["argo-rollouts"],
             response_class=JSONResponse)
async def judge_argo(body: ArgoJudgeRequest, request: Request) -> JSONResponse:
    """Judge a canary for Argo Rollouts' ``web`` metric provider.

    Always 200 with ``{"verdict", "score", "reason", "decisionId"}`` once a verdict exists (a fail too):
    the AnalysisTemplate's ``successCondition``/``failureCondition`` read ``result.verdict``. The body is
    plain JSON types already, so it is sent as is (no response-model pass: this is the hot endpoint).
    """
    return JSONResponse(await _in_worker(request, partial(_judge_argo, body, request)))


def _judge_argo(body: ArgoJudgeRequest, request: Request) -> dict[str, Any]:
    service = _service(request)
    if body.config is not None:
        config = service.named_config(body.config)
    else:
        config = parse_config(body.canaryConfig, source="canaryConfig")
    end = body.end if body.end is not None else time.time()
    window = Window(body.baselineSelector, body.canarySelector, end - body.lookback, end, body.step)
    subject = {"controller": "argo-rollouts", "config": body.config or f"inline:{config.name}",
               "baseline": body.baselineSelector, "canary": body.canarySelector, "mode": body.mode}
    subject.update({k: v for k, v in (("rollout", body.rollout), ("namespace", body.namespace)) if v})
    judged = service.judge_window(config, window, mode=body.mode, subject=subject, app=body.app,
                                  actor="argo-rollouts")
    _metrics(request).verdicts.labels("argo", judged.result.verdict.value).inc()
    answer = _verdict_body(judged.result, judged.record.id)
    if body.commit and judged.result.verdict is CanaryVerdict.FAIL:
        rollback = service.propose_rollback(commit=body.commit, decision_id=judged.record.id,
                                            evidence=_evidence(judged), app=body.app, subject=subject)
        if rollback is not None:
            answer["rollback"] = rollback
    return answer


def _evidence(judged: Judged) -> str:
    """The failed verdict in words, for the revert's commit message."""
    lines = [f"verdict {judged.result.verdict.value}, score {judged.result.score:g}: {judged.result.reason}"]
    lines += [f"- {m.classification.value}: {m.reason}" for m in judged.result.metrics]
    return "\n".join(lines)


def _commit_of(metadata: dict[str, str]) -> str | None:
    """The GitOps commit a Flagger webhook names (``metadata.commit`` or ``metadata.gitCommit``)."""
    value = (metadata.get("commit") or metadata.get("gitCommit") or "").strip()
    return value or None


# -- Flagger ---------------------------------------------------------------------------------------


class FlaggerJudgeOptions(BaseModel):
    """What a Flagger ``rollout`` webhook's ``metadata`` may say (Flagger metadata is strings only)."""

    model_config = ConfigDict(extra="ignore")

    config: str = Field(min_length=1)
    baselineSelector: str | None = None
    canarySelector: str | None = None
    lookback: float = 600.0
    step: float = 30.0
    mode: Mode = "sequential"
    onInconclusive: Literal["continue", "fail"] = "continue"

    @field_validator("lookback", "step", mode="before")
    @classmethod
    def _duration(cls, value: object, info: Any) -> float:
        return parse_duration(value, field=str(info.field_name))


def _options(metadata: dict[str, str]) -> FlaggerJudgeOptions:
    try:
        return FlaggerJudgeOptions.model_validate(metadata)
    except ValidationError as exc:
        problems = [f"metadata.{'.'.join(str(p) for p in e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}"
                    for e in exc.errors()]
        raise InputError("invalid Flagger webhook metadata: " + "; ".join(problems),
                         hint="the rollout webhook needs metadata.config naming a canary config") from None


def default_selectors(namespace: str, name: str) -> tuple[str, str]:
    """Flagger's pod naming: the primary's pods are ``<name>-primary-…``, the canary's ``<name>-…``."""
    pod = r"[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
    return (f'namespace="{namespace}",pod=~"{name}-primary-{pod}"', f'namespace="{namespace}",pod=~"{name}-{pod}"')


def _public_metadata(metadata: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if k != "token"}


def flagger_rollout(service: ApiService, payload: FlaggerPayload) -> JSONResponse:
    """Judge the canary: 200 lets Flagger continue; 412 fails the check (a fail, or an inconclusive
    verdict when ``metadata.onInconclusive`` is ``fail``)."""
    options = _options(payload.metadata)
    default_b, default_c = default_selectors(payload.namespace, payload.name)
    baseline_sel = options.baselineSelector or default_b
    canary_sel = options.canarySelector or default_c
    end = time.time()
    window = Window(baseline_sel, canary_sel, end - options.lookback, end, options.step)
    subject = {"controller": "flagger", "name": payload.name, "namespace": payload.namespace,
               "checksum": payload.checksum, "phase": payload.phase, "config": options.config,
               "baseline": baseline_sel, "canary": canary_sel, "mode": options.mode}
    judged: Judged = service.judge_window(
        service.named_config(options.config), window, mode=options.mode, subject=subject,
        app=canary_key(payload.namespace, payload.name), actor="flagger",
    )
    verdict = judged.result.verdict
    halt = verdict is CanaryVerdict.FAIL or (
        verdict is CanaryVerdict.INCONCLUSIVE and options.onInconclusive == "fail")
    answer = _verdict_body(judged.result, judged.record.id)
    commit = _commit_of(payload.metadata)
    if commit and verdict is CanaryVerdict.FAIL:
        rollback = service.propose_rollback(commit=commit, decision_id=judged.record.id,
                                            evidence=_evidence(judged),
                                            app=canary_key(payload.namespace, payload.name), subject=subject)
        if rollback is not None:
            answer["rollback"] = rollback
    return JSONResponse(answer, status_code=412 if halt else 200)


def _confirm(gate: str) -> Callable[[ApiService, FlaggerPayload], JSONResponse]:
    def confirm(service: ApiService, payload: FlaggerPayload) -> JSONResponse:
        approval = service.find_approval(payload.namespace, payload.name, payload.checksum, gate)
        if approval is None:
            key = canary_key(payload.namespace, payload.name)
            return JSONResponse({
                "approved": False,
                "reason": f"no approval for {gate} of canary {key} revision {payload.checksum or '(none)'}; "
                          "approve it with POST /v1/approvals",
            }, status_code=403)
        return JSONResponse({"approved": True, "approvalId": approval.id, "approver": approval.actor})

    confirm.__doc__ = f"{gate}: 200 once a human approved this canary revision, else 403 (Flagger waits)."
    return confirm


def flagger_rollback(service: ApiService, payload: FlaggerPayload) -> JSONResponse:
    """Inverted: 200 tells Flagger to roll back now; 409 means keep going.

    With ``metadata.commit`` (or ``gitCommit``) naming the GitOps commit of the rollout, a rollback also
    proposes its revert in Git (``TOLLGATE_ROLLBACK__*``), reported under ``proposal``.
    """
    cause = service.rollback_cause(payload.namespace, payload.name, payload.checksum)
    if cause is None:
        return JSONResponse({"rollback": False, "reason": "no failed verdict and no rollback request"},
                            status_code=409)
    reason, decision_id = cause
    answer: dict[str, Any] = {"rollback": True, "reason": reason}
    commit = _commit_of(payload.metadata)
    if commit:
        subject = {"controller": "flagger", "name": payload.name, "namespace": payload.namespace,
                   "checksum": payload.checksum}
        proposal = service.propose_rollback(commit=commit, decision_id=decision_id, evidence=reason,
                                            app=canary_key(payload.namespace, payload.name), subject=subject)
        if proposal is not None:
            answer["proposal"] = proposal
    return JSONResponse(answer)


def flagger_event(service: ApiService, payload: FlaggerPayload) -> JSONResponse:
    """Record a Flagger event in the ledger; 202."""
    metadata = _public_metadata(payload.metadata)
    record = service.record_flagger(
        "event", "recorded", namespace=payload.namespace, name=payload.name, checksum=payload.checksum,
        extra_subject={"phase": payload.phase}, payload={"phase": payload.phase, "metadata": metadata},
        actor="flagger",
    )
    return JSONResponse({"recorded": record.id}, status_code=202)


FLAGGER_GATES: dict[str, Callable[[ApiService, FlaggerPayload], JSONResponse]] = {
    "rollout": flagger_rollout,
    "confirm-rollout": _confirm("confirm-rollout"),
    "confirm-promotion": _confirm("confirm-promotion"),
    "rollback": flagger_rollback,
    "event": flagger_event,
}
"""Webhook type -> handler; ``POST /v1/flagger/{gate}`` dispatches through it."""


@router.post("/v1/flagger/{gate}", tags=["flagger"])
async def flagger_webhook(gate: str, payload: FlaggerPayload, request: Request) -> JSONResponse:
    """A Flagger webhook (``analysis.webhooks[].url``), with Flagger's status semantics per gate."""
    return await _in_worker(request, partial(_flagger_webhook, gate, payload, request))


def _flagger_webhook(gate: str, payload: FlaggerPayload, request: Request) -> JSONResponse:
    handler = FLAGGER_GATES.get(gate)
    if handler is None:
        raise NotFoundError(f"unknown Flagger gate {gate!r}; use one of {', '.join(FLAGGER_GATES)}")
    check_webhook_token(request, payload.metadata.get("token"))
    service = _service(request)
    service.saw(payload.namespace, payload.name, payload.checksum)
    response = handler(service, payload)
    _metrics(request).gate_answers.labels(gate, str(response.status_code)).inc()
    return response


@router.post("/v1/approvals", dependencies=[Depends(require_token)], status_code=201, tags=["flagger"])
def approve(body: ApprovalRequest, request: Request) -> dict[str, str]:
    """Record a human approval that opens Flagger's confirm gate(s) for one canary revision."""
    service = _service(request)
    checksum = body.checksum or service.latest_checksum(body.namespace, body.name)
    gate = body.gate or "any"
    record = service.record_flagger(
        "approval", "approved", namespace=body.namespace, name=body.name, checksum=checksum,
        extra_subject={"gate": gate}, payload={"approver": body.approver, "note": body.note, "gate": gate},
        actor=body.approver,
    )
    return {"approvalId": record.id, "name": body.name, "namespace": body.namespace, "checksum": checksum,
            "gate": gate}


@router.post("/v1/rollbacks", dependencies=[Depends(require_token)], status_code=201, tags=["flagger"])
def request_rollback(body: RollbackRequest, request: Request) -> dict[str, str]:
    """Record an operator's rollback request; Flagger's rollback gate then answers 200."""
    service = _service(request)
    checksum = body.checksum or service.latest_checksum(body.namespace, body.name)
    record = service.record_flagger(
        "rollback-request", "requested", namespace=body.namespace, name=body.name, checksum=checksum,
        extra_subject={}, payload={"requester": body.requester, "reason": body.reason}, actor=body.requester,
    )
    return {"rollbackId": record.id, "name": body.name, "namespace": body.namespace, "checksum": checksum}


# -- Kayenta ---------------------------------------------------------------------------------------

_NON_FINITE = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf, "+infinity": math.inf}


def _kayenta_values(values: list[float | str | None], where: str) -> Series:
    out: list[float] = []
    for i, value in enumerate(values):
        if value is None:
            out.append(math.nan)
        elif isinstance(value, str):
            special = _NON_FINITE.get(value.strip().lower())
            if special is None:
                raise InputError(f"{where}[{i}]: {value!r} is not a number")
            out.append(special)
        else:
            out.append(float(value))
    return Series(tuple(out))


@router.post("/v1/kayenta/judge", dependencies=[Depends(require_token)], tags=["kayenta"])
async def judge_kayenta(
    body: KayentaJudgeRequest,
    request: Request,
    mode: Mode = Query(default="sequential", description="Judge mode; 'mannwhitney' reproduces Kayenta's."),  # noqa: B008
) -> JSONResponse:
    """Kayenta's RemoteJudge: a RemoteJudgeRequest in, a CanaryJudgeResult out.

    The ledger decision id is in the ``X-Tollgate-Decision-Id`` header (the body is Kayenta's shape).
    """
    return await _in_worker(request, partial(_judge_kayenta, body, request, mode))


def _judge_kayenta(body: KayentaJudgeRequest, request: Request, mode: Mode) -> JSONResponse:
    service = _service(request)
    config = parse_config(body.canaryConfig, source="canaryConfig")
    thresholds = None
    if body.scoreThresholds is not None:
        try:
            thresholds = ScoreThresholds.model_validate(
                {"pass": body.scoreThresholds.pass_, "marginal": body.scoreThresholds.marginal})
        except ValidationError as exc:
            raise InputError(f"scoreThresholds: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    baseline: dict[str, Series] = {}
    canary: dict[str, Series] = {}
    for i, pair in enumerate(body.metricSetPairList):
        where = f"metricSetPairList[{i}].values"
        baseline[pair.name] = _kayenta_values(pair.values.control, f"{where}.control")
        canary[pair.name] = _kayenta_values(pair.values.experiment, f"{where}.experiment")
    result = service.judge(config, baseline, canary, mode=mode, thresholds=thresholds)
    pairs_text = json.dumps(body.model_dump(mode="json")["metricSetPairList"], sort_keys=True)
    subject = {"controller": "kayenta", "config": config.name, "mode": mode}
    inputs = {**subject, "pairs_sha256": hashlib.sha256(pairs_text.encode()).hexdigest(),
              "config_sha256": hashlib.sha256(json.dumps(body.canaryConfig, sort_keys=True, default=str).encode())
              .hexdigest()}
    record = service.record_judgement(result, subject=subject, inputs=inputs, app=None, actor="kayenta")
    _metrics(request).verdicts.labels("kayenta", result.verdict.value).inc()
    return JSONResponse(to_kayenta_result(result), headers={"X-Tollgate-Decision-Id": record.id})
