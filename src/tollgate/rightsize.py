"""Rightsizing orchestration: usage from Prometheus -> strategy -> source file -> Git proposal -> ledger.

:func:`run_rightsize` renders the repo at the base ref with the spine's renderers, lists every workload
container, fetches its usage history, asks the strategy for a recommendation, locates the file and path
that really set the values (:mod:`tollgate.propose.locate`), prices the change with the spine's cost
model, and -- when asked -- writes one proposal per workload (or one per run) to Git. Every
recommendation and every proposal is a ledger decision with its inputs.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tollgate import __version__
from tollgate.cost.annotations import RULE_OVER_BUDGET
from tollgate.cost.assemble import assemble_pricebook
from tollgate.cost.kubernetes import HpaBounds, estimate_workload, find_hpas
from tollgate.cost.rightsize import recommend
from tollgate.errors import InputError
from tollgate.ledger.base import DecisionLedger
from tollgate.model.config import AppSource, AppSpec
from tollgate.model.cost import PriceBook
from tollgate.model.ledger import DecisionDraft, digest_inputs
from tollgate.model.manifests import Manifest
from tollgate.model.proposals import FileChange, Proposal, ProposeMode
from tollgate.model.quantities import format_cpu, format_memory, parse_cpu, parse_memory
from tollgate.model.rightsize import Recommendation, ResourceValues, WorkloadContainer
from tollgate.model.workloads import WORKLOAD_KINDS, iter_containers
from tollgate.propose.edit import apply_edits, format_cpu_quantity, format_memory_quantity
from tollgate.propose.locate import FIELDS, REPLICAS, Location, locate, plan_edits
from tollgate.settings import Settings
from tollgate.sources.desired_state import load_state
from tollgate.sources.git import GitRepo, GitSource
from tollgate.sources.gitwrite import GitWriter
from tollgate.sources.kustomization import PathIndex, kustomization_closure
from tollgate.sources.pricing_files import read_user_pricing
from tollgate.sources.renderers import renderer_for
from tollgate.sources.repo_config import load_repo_config
from tollgate.sources.usage import UsageSource
from tollgate.sources.yamldocs import decode_text

__all__ = [
    "BRANCH_PREFIX",
    "RightsizeItem",
    "RightsizeProposal",
    "RightsizeReport",
    "recommendation_to_dict",
    "report_to_dict",
    "fix_cost",
    "run_rightsize",
]

log = logging.getLogger(__name__)

BRANCH_PREFIX = "tollgate/rightsize/"
#: Kinds whose replicas a scale-down proposal may change (DaemonSets follow nodes, Jobs run to completion).
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "Rollout"})
_RIGHTSIZED_KINDS = WORKLOAD_KINDS - {"Pod"}


@dataclass(frozen=True, slots=True)
class RightsizeItem:
    """One container: its recommendation (with ``file``, ``path``, ``monthly_delta`` filled where known),
    the values proposed for it (field -> quantity text), what could not be placed, and its ledger id."""

    recommendation: Recommendation
    changes: Mapping[str, str | int]
    problems: tuple[str, ...] = ()
    decision_id: str | None = None


@dataclass(frozen=True, slots=True)
class RightsizeProposal:
    """One Git proposal and the workloads it covers."""

    proposal: Proposal
    workloads: tuple[str, ...]
    monthly_delta: float | None
    decision_id: str | None = None


@dataclass(frozen=True, slots=True)
class RightsizeReport:
    repo: str
    base: str
    base_commit: str
    strategy: str
    window: str
    currency: str
    items: tuple[RightsizeItem, ...]
    proposals: tuple[RightsizeProposal, ...] = ()


# ------------------------------------------------------------------------------------------ values


def _quantity(value: Any, parse: Callable[..., float], where: str) -> float | None:
    if value is None:
        return None
    try:
        return parse(value, field=where)
    except InputError:
        return None


def current_values(spec: Mapping[str, Any]) -> ResourceValues:
    """Requests and limits of one container spec (cores, bytes)."""
    def mapping(value: object) -> Mapping[str, Any]:
        return value if isinstance(value, Mapping) else {}

    resources = mapping(spec.get("resources"))
    requests, limits = mapping(resources.get("requests")), mapping(resources.get("limits"))
    return ResourceValues(
        cpu_request=_quantity(requests.get("cpu"), parse_cpu, "requests.cpu"),
        cpu_limit=_quantity(limits.get("cpu"), parse_cpu, "limits.cpu"),
        memory_request=_quantity(requests.get("memory"), parse_memory, "requests.memory"),
        memory_limit=_quantity(limits.get("memory"), parse_memory, "limits.memory"),
    )


def _field_values(values: ResourceValues) -> dict[str, float | None]:
    return {"requests.cpu": values.cpu_request, "limits.cpu": values.cpu_limit,
            "requests.memory": values.memory_request, "limits.memory": values.memory_limit}


def wanted_changes(rec: Recommendation) -> dict[str, str]:
    """Fields to write (quantity text) for a recommendation: only those that change.

    A recommended ``None`` leaves the current value alone, except that a current limit below the new
    request is raised to it (Kubernetes rejects a limit under the request).
    """
    if rec.recommended is None:
        return {}
    now, new = _field_values(rec.current), _field_values(rec.recommended)
    for resource in ("cpu", "memory"):
        req, lim = f"requests.{resource}", f"limits.{resource}"
        if new[lim] is None and now[lim] is not None and new[req] is not None and now[lim] < new[req]:  # type: ignore[operator]
            new[lim] = new[req]
    out: dict[str, str] = {}
    for name, value in new.items():
        if value is None or value <= 0:
            continue
        text = format_cpu_quantity(value) if name.endswith("cpu") else format_memory_quantity(value)
        parsed = parse_cpu(text) if name.endswith("cpu") else parse_memory(text)
        old = now[name]
        if old is None or abs(parsed - old) > 1e-9 * max(1.0, old):
            out[name] = text
    return out


def _with_changes(manifest: Manifest, container: str, changes: Mapping[str, str | int]) -> Manifest:
    body = copy.deepcopy(dict(manifest.body))
    probe = replace(manifest, body=body)
    for ref in iter_containers(probe):
        if ref.name != container:
            continue
        spec = ref.spec
        assert isinstance(spec, dict)
        resources = spec.setdefault("resources", {}) or {}
        spec["resources"] = resources
        for name, value in changes.items():
            if name in FIELDS:
                group, res = FIELDS[name]
                resources.setdefault(group, {})[res] = value
    if REPLICAS in changes:
        body.setdefault("spec", {})["replicas"] = changes[REPLICAS]
    return probe


def _monthly(manifest: Manifest, book: PriceBook, settings: Settings, hpa: HpaBounds | None) -> float | None:
    try:
        est = estimate_workload(manifest, book, node_count=settings.pricing.node_count,
                                hours_per_month=settings.pricing.hours_per_month, hpa=hpa)
    except InputError:
        return None
    return est.monthly if est is not None else None


def _delta(before: Manifest, after: Manifest, book: PriceBook, settings: Settings,
           hpa: HpaBounds | None) -> float | None:
    old, new = _monthly(before, book, settings, hpa), _monthly(after, book, settings, hpa)
    return None if old is None or new is None else round(new - old, 2)


# ------------------------------------------------------------------------------------------ repo files


class _AppFiles:
    """Texts of the files that feed each app at the base commit (read once per app)."""

    def __init__(self, git: GitSource, commit: str) -> None:
        self._git = git
        self._commit = commit
        self._files = git.list_files(commit)
        self._index = PathIndex(self._files)
        self._cache: dict[str, tuple[AppSource, dict[str, str]]] = {}

    def of(self, app: AppSpec) -> tuple[AppSource, dict[str, str]]:
        if app.name in self._cache:
            return self._cache[app.name]
        under = self._index.under(app.path) if app.path else list(self._files)
        source = renderer_for(app, under).source
        wanted: set[str] = set()
        if source is AppSource.KUSTOMIZE:
            def read(paths: Sequence[str]) -> Mapping[str, bytes]:
                return self._git.read_files(self._commit, paths)
            for path in kustomization_closure(app.path, self._index, read):
                wanted.update(self._index.under(path) if self._index.is_dir(path) else [path])
        else:
            wanted.update(under)
            wanted.update(v for v in app.values if self._index.is_file(v))
        names = sorted(f for f in wanted if f.endswith((".yaml", ".yml", ".json", ".tpl")) or
                       f.rsplit("/", 1)[-1] == "Kustomization")
        blobs = self._git.read_files(self._commit, names) if names else {}
        texts: dict[str, str] = {}
        for name, blob in blobs.items():
            try:
                texts[name] = decode_text(blob, name)
            except InputError:
                continue
        self._cache[app.name] = (source, texts)
        return source, texts


# ------------------------------------------------------------------------------------------ messages


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "unset"
    return format_cpu(value) if name.endswith("cpu") else format_memory(value)


def _money(value: float | None, currency: str) -> str:
    if value is None:
        return "unknown $/month"
    sign = "-" if value < 0 else "+"
    return f"{sign}{abs(value):.2f} {currency}/month"


def proposal_message(workload: str, items: Sequence[RightsizeItem], delta: float | None, currency: str,
                     proposal_id: str) -> str:
    """Commit message: a summary line with the $/month delta, per-container changes and evidence, trailers."""
    lines = [f"rightsize {workload}: {_money(delta, currency)}", ""]
    for item in items:
        rec = item.recommendation
        now = _field_values(rec.current)
        changes = [f"{name} {_fmt(name, now.get(name))} -> {value}" if name != REPLICAS
                   else f"replicas {rec.replicas if rec.replicas is not None else '?'} -> {value}"
                   for name, value in item.changes.items()]
        lines.append(f"{rec.target.kind}/{rec.target.namespace}/{rec.target.name} container {rec.target.container}: "
                     + ", ".join(changes))
        ev = rec.evidence
        p95 = f"{ev.p95_cpu * 1000:.0f}m" if ev.p95_cpu is not None else "n/a"
        peak = format_memory(ev.max_memory) if ev.max_memory is not None else "n/a"
        lines.append(f"  evidence ({rec.strategy}, window {ev.window}): p95 CPU {p95}, max memory {peak}, "
                     f"{ev.oom_events} OOM kills, {ev.samples} samples")
        if rec.idle:
            lines.append("  idle for the whole window: scale-down proposed")
        if rec.file:
            lines.append(f"  set in {rec.file} ({rec.path})")
        if rec.monthly_delta is not None:
            lines.append(f"  cost: {_money(rec.monthly_delta, currency)}")
        if item.decision_id:
            lines.append(f"  decision: {item.decision_id}")
        if item.problems:
            lines.append("  not changed: " + "; ".join(item.problems))
    lines += ["", f"Tollgate-Proposal: {proposal_id}",
              f"Tollgate-Monthly-Delta: {delta:.2f} {currency}" if delta is not None
              else "Tollgate-Monthly-Delta: unknown"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ ledger


def recommendation_to_dict(rec: Recommendation, *, decision_id: str | None = None) -> dict[str, Any]:
    """One entry of the ``recommendations`` list of ``tollgate rightsize --format json`` (issue 7 item 4)."""

    def side(values: ResourceValues | None, rounding: bool) -> dict[str, Any] | None:
        if values is None:
            return None

        def q(name: str, v: float | None) -> str | None:
            if v is None:
                return None
            if rounding:
                return format_cpu_quantity(v) if name == "cpu" else format_memory_quantity(v)
            return format_cpu(v) if name == "cpu" else format_memory(v)

        return {"requests": {"cpu": q("cpu", values.cpu_request), "memory": q("memory", values.memory_request)},
                "limits": {"cpu": q("cpu", values.cpu_limit), "memory": q("memory", values.memory_limit)}}

    ev = rec.evidence
    out: dict[str, Any] = {
        "kind": rec.target.kind, "namespace": rec.target.namespace, "name": rec.target.name,
        "container": rec.target.container,
        "current": side(rec.current, False),
        "recommended": side(rec.recommended, True),
        "monthly_delta": rec.monthly_delta,
        "severity": rec.severity.value,
        "file": rec.file, "path": rec.path,
        "evidence": {"p95_cpu": ev.p95_cpu, "max_memory": ev.max_memory, "oom_events": ev.oom_events,
                     "samples": ev.samples, "window": ev.window},
        "reason": rec.reason,
        "idle": rec.idle,
    }
    if decision_id is not None:
        out["decisionId"] = decision_id
    return out


def report_to_dict(report: RightsizeReport) -> dict[str, Any]:
    """The JSON document of a run: ``recommendations`` (issue 7 item 4) and ``proposals``."""
    return {
        "recommendations": [recommendation_to_dict(i.recommendation, decision_id=i.decision_id)
                            for i in report.items],
        "proposals": [{"branch": p.proposal.branch, "commit": p.proposal.commit, "status": p.proposal.status,
                       "files": list(p.proposal.files), "workloads": list(p.workloads),
                       "monthly_delta": p.monthly_delta, "decisionId": p.decision_id} for p in report.proposals],
    }


def _verdict(item: RightsizeItem) -> str:
    rec = item.recommendation
    if rec.recommended is None:
        return "none"
    if item.problems:
        return "partial"
    return "change" if item.changes else "keep"


def _record(ledger: DecisionLedger | None, draft: DecisionDraft) -> str | None:
    return ledger.append(draft).id if ledger is not None else None


# ------------------------------------------------------------------------------------------ run


def _pricebook(git: GitSource, commit: str, repo_settings: Mapping[str, Any], settings: Settings) -> PriceBook:
    """The price book the review spine would use at ``commit`` (defaults, repo book, user book, FOCUS prices)."""
    books: list[tuple[str, str]] = []
    path = repo_settings.get("pricebook")
    if isinstance(path, str):
        books.append((path, git.read_file(commit, path).decode("utf-8")))
    user_books, focus_rows = read_user_pricing(settings.pricing)
    return assemble_pricebook([*books, *user_books], region=settings.pricing.region, focus_rows=focus_rows)


def run_rightsize(
    repo: Path,
    usage: UsageSource,
    *,
    settings: Settings | None = None,
    base: str = "HEAD",
    namespace: str | None = None,
    strategy: str | None = None,
    propose: ProposeMode | str = ProposeMode.OFF,
    per: str | None = None,
    ledger_factory: Callable[[], DecisionLedger] | None = None,
    git_factory: Callable[[Path], GitSource] = GitRepo,
) -> RightsizeReport:
    """Recommend, locate, price and (optionally) propose rightsizing for every workload container.

    Raises RefError (bad repo or base), RenderError/ToolNotFoundError (rendering), DependencyError
    (Prometheus unreachable), ConfigError (unknown strategy), ProposalRefusedError (dirty/diverged tree
    in commit mode).
    """
    settings = settings or Settings()
    strategy = strategy or settings.rightsize.strategy
    window = settings.rightsize.history
    mode = propose if isinstance(propose, ProposeMode) else ProposeMode.parse(propose, field_name="--propose")
    per = per or settings.rightsize.per
    if per not in ("workload", "run"):
        raise InputError(f"--per: {per!r} is not one of workload, run")
    git = git_factory(repo)
    base_commit = git.resolve(base)
    config = load_repo_config(git, base_commit, settings)
    state = load_state(git, base_commit, config, settings)
    apps = {a.name: a for a in config.apps}
    book = _pricebook(git, base_commit, config.settings, settings)
    hpas = find_hpas(state.manifests)
    files = _AppFiles(git, base_commit)

    workloads: list[tuple[Manifest, list[tuple[WorkloadContainer, ResourceValues]]]] = []
    for m in state.manifests:
        if m.is_terraform or m.kind not in _RIGHTSIZED_KINDS or (namespace and m.namespace != namespace):
            continue
        containers = [(WorkloadContainer(m.kind, m.namespace, m.name, ref.name), current_values(ref.spec))
                      for ref in iter_containers(m, ("containers",))]
        if containers:
            workloads.append((m, containers))
    targets = [t for _, cs in workloads for t, _ in cs]
    history = usage.fetch(targets, window) if targets else {}

    ledger = ledger_factory() if ledger_factory is not None else None
    try:
        items: list[RightsizeItem] = []
        per_workload: list[tuple[Manifest, list[RightsizeItem], dict[str, list[Any]], float | None]] = []
        for manifest, containers in workloads:
            app = apps.get(manifest.app)
            hpa = hpas.get(manifest.key)
            group: list[RightsizeItem] = []
            edits: dict[str, list[Any]] = {}
            combined = manifest
            for target, current in containers:
                rec = recommend(history[target], current, strategy=strategy)
                changes: dict[str, str | int] = dict(wanted_changes(rec))
                if rec.idle and manifest.kind in SCALABLE_KINDS and hpa is None:
                    replicas = manifest.body.get("spec", {}).get("replicas", 1)
                    if isinstance(replicas, int) and replicas > settings.rightsize.idle_replicas:
                        changes = {REPLICAS: settings.rightsize.idle_replicas}
                location: Location | None = None
                problems: list[str] = []
                if app is None:
                    problems.append(f"app {manifest.app!r} is not in the repo config")
                elif rec.recommended is not None or changes:
                    source, texts = files.of(app)
                    location = locate(target, manifest, source, texts, app_path=app.path, values_files=app.values)
                    if location.reason:
                        problems.append(location.reason)
                    elif changes:
                        planned, problems = plan_edits(location, changes)
                        for file, file_edits in planned.items():
                            edits.setdefault(file, []).extend(file_edits)
                        for p in problems:
                            changes.pop(p.split(":", 1)[0], None)
                    if location.conflicts:
                        problems.extend(f"conflict: {c}" for c in location.conflicts if c not in problems)
                if location is None or location.reason:
                    changes = {}
                after = _with_changes(manifest, target.container, changes)
                delta = _delta(manifest, after, book, settings, hpa) if changes else (0.0 if rec.recommended else None)
                combined = _with_changes(combined, target.container, changes)
                reason = rec.reason
                if rec.recommended is None and rec.reason:
                    reason = f"no recommendation: {rec.reason}"
                if problems:
                    reason = "; ".join(filter(None, [reason, *problems]))
                rec = replace(rec, file=location.file if location else None, path=location.path if location else None,
                              monthly_delta=delta, reason=reason)
                item = RightsizeItem(rec, changes, tuple(problems))
                draft = DecisionDraft(
                    kind="rightsize",
                    environment=(app.environment.value if app else "production"),
                    verdict=_verdict(item),
                    subject={"repo": str(repo), "base": base, "workload": f"{target.kind}/{target.namespace}/"
                             f"{target.name}", "container": target.container},
                    inputs_digest=digest_inputs({"repo": str(repo), "base_commit": base_commit, "strategy": strategy,
                                                 "window": window, "target": f"{target}"}),
                    payload={"recommendation": recommendation_to_dict(rec), "changes": dict(changes),
                             "problems": list(problems), "currency": book.currency},
                    app=manifest.app or None,
                    tool_version=__version__,
                )
                item = replace(item, decision_id=_record(ledger, draft))
                group.append(item)
                items.append(item)
            total = _delta(manifest, combined, book, settings, hpa) if any(i.changes for i in group) else None
            per_workload.append((manifest, group, edits, total))

        proposals: list[RightsizeProposal] = []
        if mode is not ProposeMode.OFF:
            proposals = _write_proposals(repo, git, base, base_commit, per_workload, per, mode, namespace,
                                         book.currency, ledger, strategy)
        return RightsizeReport(str(repo), base, base_commit, strategy, window, book.currency, tuple(items),
                               tuple(proposals))
    finally:
        if ledger is not None:
            ledger.close()


def _write_proposals(repo: Path, git: GitSource, base: str, base_commit: str,
                     per_workload: Sequence[tuple[Manifest, list[RightsizeItem], dict[str, list[Any]], float | None]],
                     per: str, mode: ProposeMode, namespace: str | None, currency: str,
                     ledger: DecisionLedger | None, strategy: str) -> list[RightsizeProposal]:
    writer = GitWriter(repo)
    batches: list[tuple[str, str, list[tuple[Manifest, list[RightsizeItem], dict[str, list[Any]], float | None]]]] = []
    todo = [w for w in per_workload if w[2]]
    if per == "run":
        if todo:
            label = f"{namespace}" if namespace else "all"
            batches.append((f"run-{label}", f"{len(todo)} workloads in {label}", list(todo)))
    else:
        for entry in todo:
            m = entry[0]
            batches.append((f"{m.namespace}-{m.name}", f"{m.kind} {m.namespace}/{m.name}", [entry]))
    out: list[RightsizeProposal] = []
    for suffix, title, entries in batches:
        by_file: dict[str, list[Any]] = {}
        for _, _, edits, _ in entries:
            for file, file_edits in edits.items():
                by_file.setdefault(file, []).extend(file_edits)
        texts = git.read_files(base_commit, sorted(by_file))
        changes = [FileChange(f, apply_edits(decode_text(texts[f], f), by_file[f], file=f).encode("utf-8"))
                   for f in sorted(by_file)]
        known = [e[3] for e in entries]
        delta = round(sum(d for d in known if d is not None), 2) if all(d is not None for d in known) else None
        all_items = [i for e in entries for i in e[1] if i.changes]
        proposal_id = f"rightsize/{suffix}"
        message = proposal_message(title, all_items, delta, currency, proposal_id)
        if mode is ProposeMode.BRANCH:
            proposal = writer.propose_branch(f"{BRANCH_PREFIX}{suffix}", base, changes, message)
        else:
            proposal = writer.commit_current(changes, message, base=base)
        workloads = tuple(str(e[0].key) for e in entries)
        draft = DecisionDraft(
            kind="rightsize-proposal",
            environment="production",
            verdict=proposal.status,
            subject={"repo": str(repo), "base": base, "branch": proposal.branch},
            inputs_digest=digest_inputs({"repo": str(repo), "base_commit": base_commit, "strategy": strategy,
                                         "proposal": proposal_id, "commit": proposal.commit}),
            payload={"branch": proposal.branch, "commit": proposal.commit, "created": proposal.created,
                     "files": list(proposal.files), "workloads": list(workloads), "monthly_delta": delta,
                     "currency": currency, "recommendations": [i.decision_id for i in all_items if i.decision_id],
                     "mode": mode.value},
            tool_version=__version__,
        )
        log.info("rightsize proposal %s: %s", proposal.branch, proposal.status)
        out.append(RightsizeProposal(proposal, workloads, delta, _record(ledger, draft)))
    return out


# ------------------------------------------------------------------------------------------ cost fixes

_REDUCE_REPLICAS = re.compile(r"reduce replicas from (\d+) to (\d+)")
_CUT_REQUESTS = re.compile(r"cut CPU/memory requests by (\d+)%")


def _cost_fix_changes(manifest: Manifest, remediation: str) -> tuple[dict[str, dict[str, str | int]], str] | None:
    """Per-container changes (``""`` = the workload) implementing a TG-FINOPS-001 remediation, and a summary."""
    replicas = _REDUCE_REPLICAS.search(remediation)
    if replicas is not None and manifest.kind in SCALABLE_KINDS:
        return {"": {REPLICAS: int(replicas.group(2))}}, f"replicas {replicas.group(1)} -> {replicas.group(2)}"
    cut = _CUT_REQUESTS.search(remediation)
    if cut is None:
        return None
    factor = 1 - int(cut.group(1)) / 100
    out: dict[str, dict[str, str | int]] = {}
    for ref in iter_containers(manifest, ("containers",)):
        now = current_values(ref.spec)
        changes: dict[str, str | int] = {}
        if now.cpu_request:
            changes["requests.cpu"] = format_cpu_quantity(now.cpu_request * factor)
        if now.memory_request:
            changes["requests.memory"] = format_memory_quantity(now.memory_request * factor)
        if changes:
            out[ref.name] = changes
    return (out, f"requests cut by {cut.group(1)}%") if out else None


def fix_cost(
    repo: Path,
    decision_id: str,
    ledger: DecisionLedger,
    *,
    settings: Settings | None = None,
    base: str | None = None,
    propose: ProposeMode | str = ProposeMode.BRANCH,
    git_factory: Callable[[Path], GitSource] = GitRepo,
) -> list[RightsizeProposal]:
    """Turn the ``max-monthly-cost`` breaches (TG-FINOPS-001) of review ``decision_id`` into proposals.

    The review's remediation is applied as written: fewer replicas when that fits the cap, else requests
    cut by the stated percentage, in the file that sets them. ``base`` defaults to the review's head ref.
    One proposal per workload, on ``tollgate/rightsize/<namespace>-<name>-cost`` (or the current branch
    in commit mode), recorded in ``ledger``. Raises NotFoundError for an unknown decision and InputError
    when it is not a review or has no breach.
    """
    settings = settings or Settings()
    mode = propose if isinstance(propose, ProposeMode) else ProposeMode.parse(propose, field_name="--propose")
    record = ledger.get(decision_id)
    if record.kind != "review":
        raise InputError(f"decision {decision_id}: a {record.kind} decision, not a review")
    breaches = [f for f in record.payload.get("findings", []) if isinstance(f, Mapping)
                and f.get("rule_id") == RULE_OVER_BUDGET]
    if not breaches:
        raise InputError(f"decision {decision_id}: no {RULE_OVER_BUDGET} (max-monthly-cost) finding to fix")
    ref = base or record.subject.get("head") or "HEAD"
    git = git_factory(repo)
    commit = git.resolve(ref)
    config = load_repo_config(git, commit, settings)
    state = load_state(git, commit, config, settings)
    apps = {a.name: a for a in config.apps}
    by_key = {str(m.key): m for m in state.manifests}
    book = _pricebook(git, commit, config.settings, settings)
    hpas = find_hpas(state.manifests)
    files = _AppFiles(git, commit)
    writer = GitWriter(repo)
    out: list[RightsizeProposal] = []
    for finding in breaches:
        manifest = by_key.get(str(finding.get("resource")))
        app = apps.get(manifest.app) if manifest else None
        planned = _cost_fix_changes(manifest, str(finding.get("remediation", ""))) if manifest else None
        if manifest is None or app is None or planned is None:
            log.warning("cannot fix %s: workload or remediation not usable", finding.get("resource"))
            continue
        per_container, summary = planned
        source, texts = files.of(app)
        edits: dict[str, list[Any]] = {}
        after = manifest
        for container, changes in per_container.items():
            name = container or next((c.name for c in iter_containers(manifest, ("containers",))), "")
            target = WorkloadContainer(manifest.kind, manifest.namespace, manifest.name, name)
            location = locate(target, manifest, source, texts, app_path=app.path, values_files=app.values)
            if location.reason:
                raise InputError(f"{manifest.key}: {location.reason}")
            planned_edits, problems = plan_edits(location, changes)
            if problems:
                raise InputError(f"{manifest.key}: " + "; ".join(problems))
            for file, file_edits in planned_edits.items():
                edits.setdefault(file, []).extend(file_edits)
            after = _with_changes(after, name, changes)
        delta = _delta(manifest, after, book, settings, hpas.get(manifest.key))
        blobs = git.read_files(commit, sorted(edits))
        changes_out = [FileChange(f, apply_edits(decode_text(blobs[f], f), edits[f], file=f).encode("utf-8"))
                       for f in sorted(edits)]
        suffix = f"{manifest.namespace}-{manifest.name}-cost"
        message = (f"fix max-monthly-cost of {manifest.kind} {manifest.namespace}/{manifest.name}: "
                   f"{_money(delta, book.currency)}\n\n{finding.get('message', '')}\n"
                   f"remediation: {finding.get('remediation', '')}\n"
                   f"applied: {summary} in {', '.join(sorted(edits))}\n\n"
                   f"Tollgate-Decision: {decision_id}\nTollgate-Proposal: rightsize/{suffix}\n")
        if mode is ProposeMode.COMMIT:
            proposal = writer.commit_current(changes_out, message, base=ref)
        else:
            proposal = writer.propose_branch(f"{BRANCH_PREFIX}{suffix}", ref, changes_out, message)
        draft = DecisionDraft(
            kind="rightsize-proposal", environment=app.environment.value, verdict=proposal.status,
            subject={"repo": str(repo), "base": ref, "branch": proposal.branch, "fixes": decision_id},
            inputs_digest=digest_inputs({"repo": str(repo), "base_commit": commit, "fixes": decision_id,
                                         "resource": str(manifest.key)}),
            payload={"branch": proposal.branch, "commit": proposal.commit, "created": proposal.created,
                     "files": list(proposal.files), "workloads": [str(manifest.key)], "monthly_delta": delta,
                     "currency": book.currency, "fixes": decision_id, "applied": summary, "mode": mode.value},
            app=app.name, tool_version=__version__,
        )
        out.append(RightsizeProposal(proposal, (str(manifest.key),), delta, ledger.append(draft).id))
    return out
