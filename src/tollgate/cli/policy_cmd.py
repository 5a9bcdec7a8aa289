"""``tollgate policy parse|new|test``: guardrails from plain English (templates, slots, Rego, fixtures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tollgate.cli.output import emit, err_console
from tollgate.errors import InputError, ParseError, PolicyError
from tollgate.settings import Settings

policy_app = typer.Typer(help="Write guardrail policies from plain English and test them.", no_args_is_help=True)

FIXTURES_SUFFIX = ".fixtures.json"
EXIT_FAILED = 1


def _parser(settings: Settings) -> Any:
    """The process-wide NL parser, with the on-disk template vector cache unless it is turned off."""
    from tollgate.policy.nl.parse import default_parser
    from tollgate.sources.policy_files import EmbeddingCache

    policy = settings.policy
    return default_parser(EmbeddingCache(policy.embedding_cache_dir) if policy.embedding_cache else None)


def _chat(settings: Settings) -> Any:
    """The configured OpenAI-compatible endpoint, or ``None`` (the default: no model is ever asked)."""
    llm = settings.llm
    if not llm.url:
        return None
    from tollgate.sources.llm import ChatEndpoint

    key = llm.api_key.get_secret_value() if llm.api_key else None
    return ChatEndpoint(llm.url, llm.model, api_key=key, timeout_s=llm.timeout_s)


def _resolve(text: str, parser: Any, chat: Any) -> Any:
    """Our frame; when no template fits and a model is configured, the model's checked proposal instead."""
    frame = parser.parse(text)
    if frame.template is not None or chat is None:
        return frame
    from tollgate.policy.nl.model_proposals import propose

    return propose(text, chat)


def _frame_line(frame: Any) -> str:
    return json.dumps(frame.to_json(), sort_keys=False) + "\n"


@policy_app.command("parse")
def parse(
    text: Annotated[str | None, typer.Argument(help="The request, e.g. \"require a team label\".")] = None,
    input_file: Annotated[Path | None, typer.Option("--input", help="A file with one request per line.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the frame as JSON (one object per line).")] = False,
) -> None:
    """Parse a request into a template and slots (no files are written)."""
    if (text is None) == (input_file is None):
        raise InputError("give either a request TEXT or --input FILE")
    settings = Settings()
    parser = _parser(settings)
    chat = _chat(settings)
    if input_file is not None:
        try:
            lines = input_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InputError(f"{input_file}: cannot read: {exc.strerror}") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                frame = _resolve(line, parser, chat)
            except InputError as exc:
                raise ParseError(str(input_file), exc.message, line=number) from exc
            emit(_frame_line(frame) if as_json else _describe(frame))
        return
    assert text is not None
    frame = _resolve(text, parser, chat)
    emit(_frame_line(frame) if as_json else _describe(frame))


def _describe(frame: Any) -> str:
    if getattr(frame, "kind", None) is not None:  # a model proposal
        if not frame.accepted:
            return f"no template; model proposal rejected: {frame.reason}\n"
        if frame.kind == "rego":
            return f"model-written Rego (source: model), {len(frame.cases)} cases pass:\n{frame.rego}\n"
        slots = ", ".join(f"{k}={json.dumps(v)}" for k, v in frame.slots.items())
        return f"{frame.template} (source: model): {slots}\n"
    if frame.template is None:
        return f"no template (confidence {frame.confidence:.2f}): {frame.question}\n"
    slots = ", ".join(f"{k}={json.dumps(v)}" for k, v in frame.slots.items()) or "(no slots)"
    line = f"{frame.template} (confidence {frame.confidence:.2f}): {slots}\n"
    return line + (f"question: {frame.question}\n" if frame.question else "")


@policy_app.command("new")
def new(
    text: Annotated[str, typer.Argument(help="The guardrail in plain English.")],
    directory: Annotated[Path, typer.Option("--dir", help="Policy directory of the repo.")] = Path("policies"),
    name: Annotated[str | None, typer.Option(help="Policy name (file stem and Rego package suffix).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing policy of the same name.")] = False,
) -> None:
    """Render the request as Rego with fixtures, run the fixtures, and write both if they all pass."""
    from tollgate.policy.nl.fixtures import generate, run_fixtures
    from tollgate.policy.nl.render import render

    settings = Settings()
    frame = _resolve(text, _parser(settings), _chat(settings))
    if getattr(frame, "kind", None) is not None:
        _new_from_model(text, frame, directory, name, force)
        return
    if frame.template is None or frame.question:
        raise InputError(frame.question or "the request could not be parsed",
                         hint=f"parsed so far: {json.dumps(frame.to_json()['slots'])} ({frame.template})")
    policy = render(frame.template, frame.slots, name=name)
    rego_path = directory / f"{policy.name}.rego"
    fixtures_path = directory / f"{policy.name}{FIXTURES_SUFFIX}"
    if not force and (rego_path.exists() or fixtures_path.exists()):
        raise InputError(f"{rego_path} already exists", hint="choose another --name or pass --force")
    cases = generate(policy)
    results = run_fixtures(str(rego_path), policy.rego, cases)
    failed = [r for r in results if not r.passed]
    if failed:
        details = "; ".join(f"{r.name}: expected {r.expect}, got {r.got}" for r in failed)
        raise PolicyError(f"{rego_path}: generated policy fails its own fixtures ({details}); nothing written")
    directory.mkdir(parents=True, exist_ok=True)
    rego_path.write_text(policy.rego, encoding="utf-8")
    document = {"template": policy.template, "request": text, "slots": frame.slots, "spans": frame.spans,
                "params": policy.params, "cases": cases}
    fixtures_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    err_console.print(f"wrote {rego_path} and {fixtures_path} ({len(results)} fixtures pass)")
    emit(f"{policy.template} -> {rego_path}\n")


def _new_from_model(text: str, proposal: Any, directory: Path, name: str | None, force: bool) -> None:
    """Write a checked model proposal: a frame goes through the templates, a Rego body is written as is."""
    from tollgate.policy.nl.fixtures import generate
    from tollgate.policy.nl.render import render

    if not proposal.accepted:
        raise InputError(f"no template fits and the model's proposal was rejected: {proposal.reason}")
    stem = name or "model_proposal"
    if proposal.kind == "frame":
        policy = render(proposal.template, proposal.slots, name=name)
        stem, rego, cases, params = policy.name, policy.rego, generate(policy), policy.params
    else:
        rego, cases, params = proposal.rego, list(proposal.cases), {}
    rego_path = directory / f"{stem}.rego"
    fixtures_path = directory / f"{stem}{FIXTURES_SUFFIX}"
    if not force and (rego_path.exists() or fixtures_path.exists()):
        raise InputError(f"{rego_path} already exists", hint="choose another --name or pass --force")
    directory.mkdir(parents=True, exist_ok=True)
    rego_path.write_text(f"# Written by a model (source: model) for: {text}\n{rego}", encoding="utf-8")
    document = {"template": proposal.template, "request": text, "slots": proposal.slots, "source": "model",
                "params": params, "cases": cases}
    fixtures_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    err_console.print(f"wrote {rego_path} and {fixtures_path} (model proposal, {len(cases)} fixtures pass)")
    emit(f"{proposal.template or 'rego'} (source: model) -> {rego_path}\n")


def _builtin_fixtures() -> int:
    """Run the shipped rule fixtures (built-in and security packs), print failures; the number that failed."""
    from tollgate.policy.fixtures import fixtures_root
    from tollgate.policy.fixtures import run_fixtures as run_rule_fixtures
    from tollgate.sources.policy_files import read_rule_fixtures

    results = run_rule_fixtures(read_rule_fixtures(fixtures_root()))
    bad = [r for r in results if not r.ok]
    for r in bad:
        emit(f"FAIL {r.file}: {r.problem}\n")
    rules = len({r.rule_id for r in results})
    emit(f"{len(results) - len(bad)}/{len(results)} built-in rule fixtures pass for {rules} rules\n")
    return len(bad)


@policy_app.command("test")
def test(
    directory: Annotated[Path, typer.Argument(help="Policy directory.")] = Path("policies"),
    builtin: Annotated[bool, typer.Option("--builtin", help="Also run the shipped rule fixtures "
                                          "(built-in and security packs).")] = False,
) -> None:
    """Run every ``*.fixtures.json`` against its ``.rego`` policy; exit 1 if any fixture fails."""
    from tollgate.policy.nl.fixtures import run_fixtures

    if builtin and _builtin_fixtures():
        raise typer.Exit(EXIT_FAILED)
    if builtin and not directory.exists():
        return
    if not directory.is_dir():
        raise InputError(f"{directory}: policy directory does not exist")
    files = sorted(directory.rglob(f"*{FIXTURES_SUFFIX}"))
    if not files:
        raise InputError(f"{directory}: no *{FIXTURES_SUFFIX} files found")
    total = failures = 0
    for path in files:
        rego_path = path.with_name(path.name[: -len(FIXTURES_SUFFIX)] + ".rego")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            cases = document["cases"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ParseError(str(path), f"not a fixtures file: {exc}") from exc
        if not rego_path.is_file():
            raise InputError(f"{path}: its policy {rego_path} does not exist")
        results = run_fixtures(str(rego_path), rego_path.read_text(encoding="utf-8"), cases)
        bad = [r for r in results if not r.passed]
        total += len(results)
        failures += len(bad)
        emit(f"{'FAIL' if bad else 'ok  '} {rego_path} ({len(results) - len(bad)}/{len(results)})\n")
        for r in bad:
            emit(f"     {r.name}: expected {r.expect}, got {r.got} {list(r.messages)}\n")
    emit(f"{total - failures}/{total} fixtures pass in {len(files)} policies\n")
    if failures:
        raise typer.Exit(EXIT_FAILED)
