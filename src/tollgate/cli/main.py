"""Entry point of the ``tollgate`` command.

Exit codes (fixed contract): 0 ok (pass or warn), 1 verdict block / judge fail, 2 bad input or usage,
3 a dependency unreachable, 4 judge inconclusive. They are mapped here, once.
"""

from __future__ import annotations

import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.text import Text

from tollgate import __version__
from tollgate.cli.bench_focus import bench_focus_command
from tollgate.cli.bench_rightsize import bench_rightsize_command
from tollgate.cli.cost_analysis import cost_anomalies_command, cost_feedback_command, cost_forecast_command
from tollgate.cli.cost_ingest import cost_ingest_command
from tollgate.cli.output import emit, err_console
from tollgate.cli.policy_cmd import policy_app
from tollgate.cli.rightsize import rightsize_command
from tollgate.cli.rollback import rollback_app
from tollgate.engine import Engine
from tollgate.errors import TollgateError
from tollgate.ledger.store import Ledger
from tollgate.model.decisions import Verdict
from tollgate.render import FORMATTERS
from tollgate.settings import Settings

EXIT_OK, EXIT_BLOCK, EXIT_INPUT, EXIT_DEPENDENCY, EXIT_INCONCLUSIVE = 0, 1, 2, 3, 4

app = typer.Typer(
    name="tollgate",
    help="Release automation and FinOps for GitOps repositories.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
ledger_app = typer.Typer(help="Inspect and verify the decision ledger.", no_args_is_help=True)
bench_app = typer.Typer(help="Reproducible speed and quality benchmarks.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(bench_app, name="bench")
app.add_typer(policy_app, name="policy")
app.add_typer(rollback_app, name="rollback")
cost_app = typer.Typer(help="FOCUS billing: ingest, cost anomalies with their likely changes, forecasts.",
                       no_args_is_help=True)
cost_app.command("ingest")(cost_ingest_command)
cost_app.command("anomalies")(cost_anomalies_command)
cost_app.command("feedback")(cost_feedback_command)
cost_app.command("forecast")(cost_forecast_command)
app.add_typer(cost_app, name="cost")


class ReviewFormat(StrEnum):
    TABLE = "table"
    MARKDOWN = "markdown"
    JSON = "json"
    SARIF = "sarif"


def settings() -> Settings:
    return Settings()


def open_ledger(s: Settings) -> Ledger:
    return Ledger(s.resolved_ledger_url())


@app.callback()
def main_callback(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")] = False,
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


@app.command()
def version() -> None:
    """Print the tollgate version."""
    emit(f"tollgate {__version__}\n")


@app.command()
def review(
    repo: Annotated[Path, typer.Option(help="Path of the GitOps repository.")] = Path("."),
    base: Annotated[str, typer.Option(help="Base ref (e.g. main).")] = "HEAD~1",
    head: Annotated[str, typer.Option(help="Head ref (e.g. the PR branch).")] = "HEAD",
    fmt: Annotated[ReviewFormat | None, typer.Option("--format", "-f",
                                                     help="Output format (default: table on a terminal, "
                                                          "markdown otherwise).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the result to this file.")] = None,
    no_record: Annotated[bool, typer.Option("--no-record", help="Do not write a ledger decision.")] = False,
) -> None:
    """Review the change between two refs: cost, policy, risk, verdict; record the decision."""
    s = settings()
    engine = Engine(s, ledger_factory=None if no_record else (lambda: open_ledger(s)))
    result = engine.review(repo, base, head, record=not no_record)
    chosen = fmt or (ReviewFormat.TABLE if sys.stdout.isatty() and output is None else ReviewFormat.MARKDOWN)
    emit(FORMATTERS[chosen.value](result), output)
    if result.decision.verdict is Verdict.BLOCK:
        raise typer.Exit(EXIT_BLOCK)


@app.command()
def explain(
    decision_id: Annotated[str, typer.Argument(help="Decision id or unique prefix (8+ characters).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> None:
    """Show one recorded decision with its evidence."""
    from tollgate.cli.ledger_view import explain_text, record_to_dict

    ledger = open_ledger(settings())
    try:
        record = ledger.get(decision_id)
        approvals = [r for r in ledger.list(kind="approval", limit=1000)
                     if r.payload.get("decision_id") == record.id]
    finally:
        ledger.close()
    if fmt == "json":
        data = record_to_dict(record)
        data["approvals"] = [record_to_dict(a) for a in approvals]
        emit(json.dumps(data, indent=2) + "\n")
    else:
        emit(explain_text(record, approvals))


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Check the ledger's hash chain; names the first bad record."""
    ledger = open_ledger(settings())
    try:
        report = ledger.verify()
    finally:
        ledger.close()
    emit(f"ledger ok: {report.count} records, head {report.head_hash}\n")


@ledger_app.command("list")
def ledger_list(
    kind: Annotated[str | None, typer.Option(help="Only this kind (review, approval, …).")] = None,
    app_name: Annotated[str | None, typer.Option("--app", help="Only this app.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 20,
) -> None:
    """List recent decisions."""
    ledger = open_ledger(settings())
    try:
        records = ledger.list(kind=kind, app=app_name, limit=limit)
    finally:
        ledger.close()
    for r in records:
        emit(f"{r.id}  #{r.seq:<5} {r.created_at:%Y-%m-%d %H:%M:%S}  {r.kind:<9} {r.verdict:<6} "
             f"{r.environment:<10} {r.app or '-'}\n")


@ledger_app.command("approve")
def ledger_approve(
    decision_id: Annotated[str, typer.Argument(help="Decision id or unique prefix.")],
    approver: Annotated[str, typer.Option(help="Who approves (recorded).")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Record a human approval of a decision (a new ledger record)."""
    ledger = open_ledger(settings())
    try:
        record = ledger.approve(decision_id, approver, note)
    finally:
        ledger.close()
    emit(f"approval recorded: {record.id}\n")


@app.command()
def demo(
    keep: Annotated[Path | None, typer.Option(help="Build the demo repo here and keep it.")] = None,
    fmt: Annotated[ReviewFormat, typer.Option("--format", "-f", help="How to print each review.")] =
        ReviewFormat.TABLE,
) -> None:
    """Build a sample GitOps repo, make realistic commits, review each, print results and ledger ids."""
    from tollgate.cli.demo import run_demo

    run_demo(settings(), keep=keep, fmt=fmt.value)


@bench_app.command("review")
def bench_review(
    services: Annotated[int, typer.Option(help="Services in the small repo.")] = 12,
    manifests: Annotated[int, typer.Option(help="Manifests in the large generated repo.")] = 5000,
    repeat: Annotated[int, typer.Option(help="Timed runs per repo (the median is reported).")] = 3,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Time `review` on a 12-service repo and on a generated repo of many manifests, split by stage."""
    from tollgate.cli.bench import bench_review as run

    emit(run(settings(), services=services, manifests=manifests, repeat=repeat, fmt=fmt))


@bench_app.command("policy")
def bench_policy(
    resources: Annotated[int, typer.Option(help="Resources for the built-in rule pack.")] = 3000,
    rego_resources: Annotated[int, typer.Option(help="Resources for the Rego policies.")] = 1000,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Decisions per second of the built-in rule pack and of Rego policies."""
    from tollgate.cli.bench import bench_policy as run

    emit(run(resources=resources, rego_resources=rego_resources, fmt=fmt))


@app.command()
def scan(
    path: Annotated[Path, typer.Argument(help="Directory or file of manifests, Helm charts and Terraform.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or sarif")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the result to this file.")] = None,
) -> None:
    """IaC security and policy checks on a tree, no Git needed (exit 1 on a high or critical finding)."""
    from tollgate.cli.scan import scan_command

    rc = scan_command(path, fmt, output, settings=settings())
    if rc:
        raise typer.Exit(rc)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """The HTTP service: Argo Rollouts web provider, Flagger webhooks, Kayenta remote judge, /metrics."""
    from tollgate.cli.serve import serve_command

    serve_command(host, port, workers)


@app.command()
def detect(
    input_dir: Annotated[Path, typer.Option("--input", help="NAB layout: DIR/<category>/<file>.csv.")],
    output_dir: Annotated[Path, typer.Option("--output", help="Results root: OUT/NAME/<category>/NAME_<file>.csv.")],
    name: Annotated[str, typer.Option(help="Detector name in the results (no underscore).")] = "tollgate",
    detector: Annotated[str, typer.Option(help="Registered detector.")] = "ensemble",
) -> None:
    """Run a streaming anomaly detector over NAB-layout CSVs and write NAB results files."""
    from tollgate.detect import get_detector, run_detector

    summary = run_detector(input_dir, output_dir, name, get_detector(detector))
    emit(f"wrote {summary.files} files ({summary.rows} rows) to {summary.results_dir}\n")


@bench_app.command("nab")
def bench_nab_command(
    data: Annotated[Path, typer.Option(help="NAB data dir with labels/combined_windows.json.")],
    output: Annotated[Path | None, typer.Option(help="Keep the results files here.")] = None,
    detector: Annotated[str, typer.Option(help="Registered detector.")] = "ensemble",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Score a detector with the built-in NAB scorer (threshold optimised per profile over the data set)."""
    import tempfile

    from tollgate.detect import bench_nab, get_detector

    with tempfile.TemporaryDirectory(prefix="tollgate-nab-") as tmp:
        scores = bench_nab(data, output or Path(tmp), detector_factory=get_detector(detector))
    result = {profile: round(score.score, 2) for profile, score in scores.items()}
    if fmt == "json":
        emit(json.dumps(result) + "\n")
    else:
        for profile, score in scores.items():
            emit(f"{profile:<20} {score.score:7.2f}  threshold {score.threshold:.4f}\n")


@bench_app.command("canary")
def bench_canary_command(
    data: Annotated[Path, typer.Option(help="NAB data dir: baseline traffic is built from its real series.")],
    seed: Annotated[int, typer.Option(help="Random seed of the generated suite.")] = 0,
    cases: Annotated[int, typer.Option(help="Cases per regression type (and as many nulls).")] = 60,
) -> None:
    """Sequential judge vs Kayenta-style Mann-Whitney on generated regressions and null cases (JSON)."""
    from tollgate.release.judge.bench import bench_canary

    emit(json.dumps(bench_canary(data, seed, cases_per_type=cases), indent=2, default=str) + "\n")


@bench_app.command("detect")
def bench_detect_command(
    points: Annotated[int, typer.Option(help="Points in the synthetic series.")] = 100_000,
    detector: Annotated[str, typer.Option(help="Registered detector.")] = "ensemble",
) -> None:
    """Detector throughput on one core, points per second."""
    from tollgate.detect import bench_detect

    emit(f"{detector}: {bench_detect(points, detector):,.0f} points/s\n")


@bench_app.command("forecast")
def bench_forecast_command(
    seed: Annotated[int, typer.Option(help="Seed of the generated cost series.")] = 7,
    per_kind: Annotated[int, typer.Option(help="Series per kind (plain, steps, spikes).")] = 40,
    horizon: Annotated[int, typer.Option(help="Forecast horizon in days.")] = 30,
) -> None:
    """Forecast backtest on generated daily cost series: MASE, interval coverage, error of the total (JSON)."""
    from dataclasses import asdict

    from tollgate.detect.forecast import backtest_suite

    suite = backtest_suite(seed=seed, per_kind=per_kind, horizon=horizon)
    emit(json.dumps({kind: asdict(result) for kind, result in suite.items()}, indent=2) + "\n")


class JudgeMode(StrEnum):
    SEQUENTIAL = "sequential"
    MANNWHITNEY = "mannwhitney"


@app.command("judge")
def judge_command(
    config: Annotated[Path, typer.Option(help="Canary config (YAML/JSON, or a Kayenta canaryConfig).")],
    baseline: Annotated[str, typer.Option(help="Metric file (metric,timestamp,value) or prom:URL.")],
    canary: Annotated[str, typer.Option(help="Metric file or prom:URL (the same URL as --baseline).")],
    baseline_selector: Annotated[str | None, typer.Option(help="PromQL selector of the baseline pods.")] = None,
    canary_selector: Annotated[str | None, typer.Option(help="PromQL selector of the canary pods.")] = None,
    lookback: Annotated[float, typer.Option(help="Seconds of metrics to fetch from Prometheus.")] = 1800.0,
    step: Annotated[float, typer.Option(help="Query step in seconds.")] = 30.0,
    end: Annotated[float | None, typer.Option(help="End of the window, unix seconds (default: now).")] = None,
    mode: Annotated[JudgeMode, typer.Option(help="sequential (anytime-valid) or Kayenta's mannwhitney.")] =
        JudgeMode.SEQUENTIAL,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    no_record: Annotated[bool, typer.Option("--no-record", help="Do not write a ledger decision.")] = False,
    rollback: Annotated[str | None, typer.Option(
        help="On a fail verdict, propose reverting --commit: off, branch or commit (default TOLLGATE_ROLLBACK__MODE).",
    )] = None,
    repo: Annotated[Path | None, typer.Option(help="GitOps repo for --rollback (default TOLLGATE_ROLLBACK__REPO).")]
        = None,
    commit: Annotated[str | None, typer.Option(help="The commit that started the rollout (for --rollback).")] = None,
) -> None:
    """Canary verdict from metric files or PromQL: exit 0 pass, 1 fail, 4 inconclusive."""
    from tollgate.canary import PromWindow, judge_sources
    from tollgate.errors import InputError
    from tollgate.model.canary import CanaryVerdict
    from tollgate.model.proposals import ProposeMode
    from tollgate.rollback import propose_rollback

    s = settings()
    window = None
    if baseline_selector is not None and canary_selector is not None:
        window = PromWindow(baseline_selector, canary_selector, lookback_s=lookback, step_s=step, end=end)
    result, decision_id = judge_sources(
        config, baseline, canary, mode="mannwhitney" if mode is JudgeMode.MANNWHITNEY else "sequential",
        window=window, ledger_factory=None if no_record else (lambda: open_ledger(s)),
    )
    rollback_mode = ProposeMode.parse(rollback or s.rollback.mode, field_name="--rollback")
    proposal: dict[str, object] | None = None
    if rollback_mode is not ProposeMode.OFF and commit and result.verdict is CanaryVerdict.FAIL:
        target = repo or s.rollback.repo
        if target is None or decision_id is None:
            raise InputError("--rollback needs --repo (or TOLLGATE_ROLLBACK__REPO) and a ledger decision "
                             "(not --no-record) to name the revert after")
        evidence = "\n".join([f"verdict fail, score {result.score:g}: {result.reason}",
                              *(f"- {m.classification.value}: {m.reason}" for m in result.metrics)])
        made = propose_rollback(target, commit=commit, decision_id=decision_id, evidence=evidence,
                                mode=rollback_mode.value, base=s.rollback.base)
        if made is not None:
            proposal = {"status": made.status, "mode": rollback_mode.value, "branch": made.branch,
                        "commit": made.commit, "reverts": made.reverted}
    if fmt == "json":
        metrics = [{
            "name": m.name,
            "classification": m.classification.value,
            "effect": None if m.effect is None else m.effect.estimate,
            "interval": None if m.effect is None else [m.effect.lower, m.effect.upper],
            "measure": None if m.effect is None else m.effect.measure,
            "reason": m.reason,
        } for m in result.metrics]
        emit(json.dumps({"verdict": result.verdict.value, "score": result.score, "reason": result.reason,
                         "decisionId": decision_id, "mode": result.mode, "metrics": metrics,
                         **({"rollback": proposal} if proposal else {})}, indent=2) + "\n")
    else:
        emit(f"{result.verdict.value.upper()}  score {result.score:.2f}  ({result.reason})"
             + (f"  decision {decision_id}" if decision_id else "") + "\n")
        for m in result.metrics:
            emit(f"  {m.classification.value:<17} {m.reason}\n")
        if proposal:
            emit(f"rollback {proposal['status']}: {proposal['branch']} @ {proposal['commit']} "
                 f"reverts {proposal['reverts']}\n")
    if result.verdict is CanaryVerdict.FAIL:
        raise typer.Exit(EXIT_BLOCK)
    if result.verdict is CanaryVerdict.INCONCLUSIVE:
        raise typer.Exit(EXIT_INCONCLUSIVE)


# Commands whose code lives in their own modules, registered after the inline ones so --help lists them in
# workflow order.
app.command("rightsize")(rightsize_command)
bench_app.command("rightsize")(bench_rightsize_command)
bench_app.command("focus")(bench_focus_command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (errors mapped to the fixed exit codes)."""
    try:
        rc = app(args=argv, prog_name="tollgate", standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        return EXIT_INPUT
    except click.exceptions.ClickException as exc:
        exc.show()
        return EXIT_INPUT
    except TollgateError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)))
        return exc.exit_code
    return rc if isinstance(rc, int) else EXIT_OK


def run() -> None:
    sys.exit(main())
