"""Orchestration: the only module that calls both adapters (git, renderers, ledger) and analyzers.

``review`` is the spine: two refs of a GitOps repo -> rendered desired states -> change set ->
cost, policy, FinOps and risk analyzers -> a verdict -> one ledger record.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from tollgate import __version__
from tollgate.cost.annotations import check_budgets
from tollgate.cost.assemble import assemble_pricebook
from tollgate.cost.estimate import estimate_change_costs
from tollgate.errors import ConfigError, InputError
from tollgate.ledger.base import DecisionLedger
from tollgate.model.changes import ChangeSet, ResourceChange
from tollgate.model.config import AppSpec, Environment, RepoConfig
from tollgate.model.cost import CostItem, CostReport, PriceBook
from tollgate.model.decisions import Decision
from tollgate.model.diff import diff_states
from tollgate.model.findings import Finding
from tollgate.model.ledger import DecisionDraft, digest_inputs
from tollgate.model.manifests import SourceLocation
from tollgate.model.review import ReviewResult
from tollgate.policy.params import PolicyParams
from tollgate.policy.rego import evaluate_rego
from tollgate.policy.review import review_security_findings
from tollgate.policy.rulepack import load_builtin_pack, load_pack_file, merge_packs
from tollgate.policy.security import load_security_pack
from tollgate.release.risk import RiskHistory, assess
from tollgate.release.verdict import decide_verdict_per_environment
from tollgate.render.json_report import review_to_dict
from tollgate.settings import Settings
from tollgate.sources.desired_state import RenderCache, load_state
from tollgate.sources.git import GitRepo, GitSource
from tollgate.sources.pricing_files import read_user_pricing
from tollgate.sources.repo_config import load_repo_config

log = logging.getLogger(__name__)

_ENV_RANK = {Environment.DEV: 0, Environment.STAGING: 1, Environment.PRODUCTION: 2}
_FAILED_VERDICTS = frozenset({"block", "fail"})
DEFAULT_POLICY_DIR = "policies"


@dataclass
class StageTimer:
    """Wall-clock seconds per pipeline stage, reported by benchmarks and ``--verbose``."""

    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


LedgerFactory = Callable[[], DecisionLedger]


class Engine:
    """Runs reviews with one set of settings; adapters are injected for tests."""

    def __init__(
        self,
        settings: Settings,
        *,
        ledger_factory: LedgerFactory | None = None,
        git_factory: Callable[[Path], GitSource] = GitRepo,
    ) -> None:
        self.settings = settings
        self._ledger_factory = ledger_factory
        self._git_factory = git_factory
        # Rendered apps keyed by the Git object ids of their inputs: an app unchanged between the two
        # refs (or between reviews by this engine) renders once.
        self._render_cache = RenderCache()

    # -- price book -------------------------------------------------------------------------------------

    def pricebook(self, git: GitSource | None = None, commit: str | None = None,
                  config: RepoConfig | None = None) -> PriceBook:
        """Default prices, then the repo's own price book, then the user's, then FOCUS-derived prices."""
        pricing = self.settings.pricing
        books: list[tuple[str, str]] = []
        repo_book = (config.settings.get("pricebook") if config else None)
        if repo_book and git is not None and commit is not None:
            if not isinstance(repo_book, str):
                raise ConfigError("tollgate.yaml: settings.pricebook must be a path in the repo")
            books.append((repo_book, git.read_file(commit, repo_book).decode("utf-8")))
        user_books, focus_rows = read_user_pricing(pricing)
        return assemble_pricebook([*books, *user_books], region=pricing.region, focus_rows=focus_rows)

    # -- review -----------------------------------------------------------------------------------------

    def review(self, repo: Path, base: str, head: str, *, record: bool = True) -> ReviewResult:
        timer = StageTimer()
        with timer.stage("git"):
            git = self._git_factory(repo)
            base_commit = git.resolve(base)
            head_commit = git.resolve(head)
            base_config = load_repo_config(git, base_commit)
            head_config = load_repo_config(git, head_commit)
        with timer.stage("render"):
            base_state = load_state(git, base_commit, base_config, self.settings, cache=self._render_cache)
            head_state = load_state(git, head_commit, head_config, self.settings, cache=self._render_cache)
        with timer.stage("diff"):
            changed_files = tuple(git.changed_files(base_commit, head_commit))
            changes = attribute_sources(diff_states(base_state.manifests, head_state.manifests),
                                        head_state.apps, changed_files)
            change_set = ChangeSet(
                repo=str(repo),
                base_ref=base,
                head_ref=head,
                base_commit=base_commit,
                head_commit=head_commit,
                base_tree=git.tree_id(base_commit),
                head_tree=git.tree_id(head_commit),
                changes=changes,
                base_state=base_state.manifests,
                head_state=head_state.manifests,
                apps=head_state.apps,
                skipped=head_state.skipped,
                changed_files=changed_files,
            )
        environment = self._environment(change_set)
        repo_settings = self._repo_settings(head_config)
        groups = _group_by_app(changes)
        by_app = {a.name: a for a in head_state.apps}
        app_settings = {
            name: repo_settings.with_overrides(by_app[name].overrides, f"tollgate.yaml: apps[{name}].overrides")
            if name in by_app else repo_settings
            for name in groups
        }
        with timer.stage("cost"):
            book = self.pricebook(git, head_commit, head_config)
            items: list[CostItem] = []
            for app_name, group in groups.items():
                pricing = app_settings[app_name].pricing
                items.extend(estimate_change_costs(
                    group, base_state.manifests, head_state.manifests, book,
                    node_count=pricing.node_count, hours_per_month=pricing.hours_per_month,
                ).items)
            cost = CostReport(book.currency, tuple(items))
        with timer.stage("policy"):
            findings = self._findings(git, head_commit, head_config, groups, app_settings, repo_settings)
            for app_name, group in groups.items():
                prefix = app_settings[app_name].policy.annotation_prefix
                app_env = by_app[app_name].environment if app_name in by_app else environment
                findings.extend(check_budgets(group, cost, prefix, app_env))
        with timer.stage("ledger"):
            ledger = self._ledger_factory() if (record and self._ledger_factory) else None
        try:
            with timer.stage("risk"):
                app = _primary_app(change_set)
                history = self._history(ledger, app)
                risk = assess(change_set, findings, cost, environment, history)
                environment_of = {str(c.key): by_app[c.app].environment for c in changes if c.app in by_app}
                verdict, reasons = decide_verdict_per_environment(findings, environment_of, environment, risk=risk)
            decision = Decision(id="", verdict=verdict, strategy=risk.strategy, risk=risk.score,
                                reasons=tuple(reasons))
            result = ReviewResult(
                decision=decision, change_set=change_set, cost=cost, findings=tuple(findings), risk=risk,
                environment=environment, tollgate_version=__version__, timings=timer.timings,
            )
            if ledger is None:
                return replace(result, decision=replace(decision, id=_provisional_id(change_set)))
            with timer.stage("ledger"):
                record_ = ledger.append(self._draft(result, app))
            return replace(result, decision=replace(decision, id=record_.id), recorded=True)
        finally:
            if ledger is not None:
                ledger.close()

    # -- helpers ----------------------------------------------------------------------------------------

    def _environment(self, change_set: ChangeSet) -> Environment:
        """The most exposed environment any changed app deploys to."""
        by_app = {a.name: a.environment for a in change_set.apps}
        envs = {by_app[c.app] for c in change_set.changes if c.app in by_app}
        if not envs:
            if self.settings.environment:
                try:
                    return Environment.parse(self.settings.environment)
                except ValueError as exc:
                    raise ConfigError(f"TOLLGATE_ENVIRONMENT: {exc}") from exc
            envs = {a.environment for a in change_set.apps} or {Environment.PRODUCTION}
        return max(envs, key=lambda e: _ENV_RANK[e])

    def _repo_settings(self, config: RepoConfig) -> Settings:
        """Settings with the ``settings:`` of tollgate.yaml applied (paths handled elsewhere)."""
        own = {k: v for k, v in config.settings.items() if k not in ("pricebook", "policies")}
        return self.settings.with_overrides(own, "tollgate.yaml: settings")

    def _findings(self, git: GitSource, commit: str, config: RepoConfig,
                  groups: Mapping[str, Sequence[ResourceChange]], app_settings: Mapping[str, Settings],
                  repo_settings: Settings) -> list[Finding]:
        pack = load_security_pack() if self.settings.policy.security_packs else load_builtin_pack()
        for path in self.settings.policy.rule_packs:
            pack = merge_packs(pack, load_pack_file(path))
        findings: list[Finding] = []
        for app, group in groups.items():
            params = PolicyParams.from_settings(app_settings[app].policy)
            findings.extend(review_security_findings(group, pack, params))
        modules = self._rego_modules(git, commit, config)
        if modules:
            every = [c for group in groups.values() for c in group]
            findings.extend(evaluate_rego(modules, every, annotation_prefix=repo_settings.policy.annotation_prefix))
        return findings

    def _rego_modules(self, git: GitSource, commit: str, config: RepoConfig) -> list[tuple[str, str]]:
        configured = self.settings.policy.rego_dir
        if configured is not None and configured.is_absolute():
            if not configured.is_dir():
                raise InputError(f"{configured}: policy directory does not exist")
            return [(str(p), p.read_text(encoding="utf-8")) for p in sorted(configured.rglob("*.rego"))]
        directory = str(configured) if configured is not None else str(config.settings.get("policies",
                                                                                           DEFAULT_POLICY_DIR))
        files = [f for f in git.list_files(commit, directory) if f.endswith(".rego")
                 and not f.endswith("_test.rego")]
        if not files:
            return []
        blobs = git.read_files(commit, files)
        return [(f, blobs[f].decode("utf-8")) for f in files]

    @staticmethod
    def _history(ledger: DecisionLedger | None, app: str | None) -> RiskHistory:
        if ledger is None or app is None:
            return RiskHistory(recent_decisions=0, recent_failures=0)
        recent = ledger.recent(app, kind="review", limit=20)
        return RiskHistory(
            recent_decisions=len(recent),
            recent_failures=sum(1 for r in recent if r.verdict in _FAILED_VERDICTS),
        )

    @staticmethod
    def _draft(result: ReviewResult, app: str | None) -> DecisionDraft:
        cs = result.change_set
        inputs = {
            "repo": cs.repo, "base": cs.base_ref, "head": cs.head_ref, "base_commit": cs.base_commit,
            "head_commit": cs.head_commit, "base_tree": cs.base_tree, "head_tree": cs.head_tree,
        }
        payload = review_to_dict(result)
        payload["decision"].pop("id", None)
        payload["decision"].pop("recorded", None)
        payload["model"] = {"risk": "tollgate.release.risk", "version": result.tollgate_version}
        payload["apps"] = sorted({c.app for c in cs.changes if c.app})
        return DecisionDraft(
            kind="review",
            environment=result.environment.value,
            verdict=result.decision.verdict.value,
            subject={"repo": cs.repo, "base": cs.base_ref, "head": cs.head_ref},
            inputs_digest=digest_inputs(inputs),
            payload=payload,
            app=app,
            tool_version=result.tollgate_version,
        )


def attribute_sources(changes: Sequence[ResourceChange], apps: Sequence[AppSpec],
                      changed_files: Sequence[str]) -> tuple[ResourceChange, ...]:
    """Point each change at the file the commit really touched, where the renderer could not.

    A Kustomize patch or a Helm values file changes an object whose rendered source is its base
    manifest or template. When that source file did not change, but a file that feeds the same app
    did (a patch in the overlay, a values file), the change is attributed to that file instead.
    """
    touched = set(changed_files)
    by_name = {a.name: a for a in apps}
    out: list[ResourceChange] = []
    for change in changes:
        app = by_name.get(change.app)
        if change.after is None or change.file in touched or app is None:
            out.append(change)
            continue
        prefix = app.path.rstrip("/") + "/" if app.path not in ("", ".") else ""
        candidates = sorted(f for f in touched if f.startswith(prefix) or f in app.values)
        if not candidates:
            out.append(change)
            continue
        after = replace(change.after, source=SourceLocation(candidates[0]))
        out.append(replace(change, after=after))
    return tuple(out)


def _group_by_app(changes: Sequence[ResourceChange]) -> dict[str, list[ResourceChange]]:
    """Changes per app, apps in the order their first change appears."""
    groups: dict[str, list[ResourceChange]] = {}
    for change in changes:
        groups.setdefault(change.app, []).append(change)
    return groups


def _primary_app(change_set: ChangeSet) -> str | None:
    counts = Counter(c.app for c in change_set.changes if c.app)
    if not counts:
        return None
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def _provisional_id(change_set: ChangeSet) -> str:
    digest = digest_inputs({"base": change_set.base_commit, "head": change_set.head_commit})
    return f"unrecorded-{digest[:12]}"
