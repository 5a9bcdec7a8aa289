"""Subprocess that runs Rego policies with regopy, so a crash of the native engine stays contained.

Run as a script (``python _rego_worker.py``): it imports only the standard library and regopy.
Request on stdin (one JSON document)::

    {"modules": [{"path": "p.rego", "text": "...", "package": "k8s.security"}], "skip_modules": [2],
     "policies": ["k8s.security"], "policy_packages": [...], "inputs": [{...}, ...], "first_input": 0}

All modules are first parsed together (a syntax check). Each policy is then compiled in an
interpreter of its own holding its package's modules plus the library modules (packages that are not
policies), so a policy that breaks the compiler does not take the others with it. One runner
interpreter then sets each input once and queries every compiled bundle (setting the input is the
expensive step, about 10x a query).

Events on stdout, one per line, flushed one by one, so the parent can tell which module or policy
was running if this process dies:

    {"ev": "load", "i": 0}                       about to parse module 0
    {"ev": "parse_error", "i": 0, "error": "…"}  module 0 does not parse (the worker stops)
    {"ev": "compile", "p": "k8s.security"}        about to compile one policy
    {"ev": "policy_error", "p": "…", "error": "…"}  it does not compile
    {"ev": "compiled"}
    @k8s.security                                 about to query this policy on the next input
    {"ev": "r", "i": 7, "res": {"k8s.security": {"d": …, "w": …} | {"e": "…"} | null}}
    {"ev": "done"}

rego-cpp prints parse diagnostics on file descriptor 1; the worker moves the event stream to a
duplicate of it and points fd 1 at stderr, so those prints cannot corrupt the events.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO


def _error_text(output_impl: Any) -> str:
    """The error messages of a failed regopy output (ErrorMessage nodes), joined."""
    from regopy.rego_shared import (
        NodeKind,
        rego_node_get,
        rego_node_size,
        rego_node_type,
        rego_node_value,
        rego_output_node,
    )

    messages: list[str] = []

    def walk(node: Any, depth: int) -> None:
        if depth > 8:
            return
        if rego_node_type(node) == NodeKind.ErrorMessage:
            messages.append(rego_node_value(node))
            return
        for i in range(rego_node_size(node)):
            walk(rego_node_get(node, i), depth + 1)

    try:
        walk(rego_output_node(output_impl), 0)
    except Exception:
        return "evaluation error"
    return "; ".join(dict.fromkeys(messages)) or "evaluation error"


def _errormsg(text: str) -> str:
    """The ``(errormsg N:...)`` parts of an error printed as an AST, joined."""
    out: list[str] = []
    marker = "(errormsg "
    start = text.find(marker)
    while start >= 0:
        head = start + len(marker)
        colon = text.find(":", head)
        try:
            size = int(text[head:colon])
        except ValueError:
            break
        out.append(text[colon + 1 : colon + 1 + size])
        start = text.find(marker, colon + 1 + size)
    return "; ".join(dict.fromkeys(out)) or text.strip()[:300]


def _emit(stream: TextIO, event: dict[str, Any]) -> None:
    stream.write(json.dumps(event, default=str) + "\n")
    stream.flush()


def main() -> int:
    events = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    from regopy import Input, Interpreter
    from regopy.rego_shared import (
        rego_bundle_query,
        rego_free_output,
        rego_output_ok,
        rego_output_string,
        rego_set_input,
    )

    request = json.load(sys.stdin)
    skip = set(request.get("skip_modules", ()))
    modules = [m for i, m in enumerate(request["modules"]) if i not in skip]
    checker = Interpreter()
    for index, module in enumerate(request["modules"]):
        if index in skip:
            continue
        _emit(events, {"ev": "load", "i": index})
        try:
            checker.add_module(module["path"], module["text"])
        except Exception as exc:
            _emit(events, {"ev": "parse_error", "i": index, "error": str(exc.args[0] if exc.args else exc)})
            return 0
    del checker

    # Compile each policy in an interpreter of its own (libraries + its package's modules).
    policies = list(request.get("policies", ()))
    all_policies = set(policies) | set(request.get("policy_packages", ()))
    libraries = [m for m in modules if m["package"] not in all_policies]
    compiled: list[tuple[str, Any, Any]] = []
    for package in policies:
        _emit(events, {"ev": "compile", "p": package})
        try:
            builder = Interpreter()
            for module in libraries + [m for m in modules if m["package"] == package]:
                builder.add_module(module["path"], module["text"])
            bundle = builder.build(f"x := data.{package}", [])
            if not bundle.ok():
                raise RuntimeError("the policy does not compile")
        except Exception as exc:
            _emit(events, {"ev": "policy_error", "p": package, "error": _errormsg(str(exc))})
            continue
        compiled.append((package, builder, bundle))
    _emit(events, {"ev": "compiled"})

    # Evaluate: set each input once, then query every compiled policy. "@<package>" lines mark the
    # query under way so that a crash can be blamed on the right policy.
    runner = Interpreter()
    first = int(request.get("first_input", 0))
    for offset, item in enumerate(request.get("inputs", ())):
        results: dict[str, dict[str, Any] | None] = {}
        try:
            value = Input(item)  # keep a reference: its destructor frees the native value
            rego_set_input(runner._impl, value._impl)
        except Exception as exc:
            message = _errormsg(str(exc))
            _emit(events, {"ev": "r", "i": first + offset, "res": {p: {"e": message} for p, _, _ in compiled}})
            continue
        for package, _builder, bundle in compiled:
            events.write(f"@{package}\n")
            events.flush()
            results[package] = _query(runner, bundle, rego_bundle_query, rego_output_ok, rego_output_string,
                                      rego_free_output)
        _emit(events, {"ev": "r", "i": first + offset, "res": results})
    _emit(events, {"ev": "done"})
    return 0


def _query(runner: Any, bundle: Any, query: Any, ok: Any, text: Any, free: Any) -> dict[str, Any] | None:
    """One bundle query: ``{"d": deny, "w": warn}``, ``{"e": error}`` or ``None`` (undefined)."""
    out = query(runner._impl, bundle._impl)
    try:
        if not ok(out):
            return {"e": _error_text(out)}
        raw: str = text(out)
    finally:
        free(out)
    if raw.startswith("(error"):
        return {"e": _errormsg(raw)}
    if raw.strip() == "undefined":
        return None
    document = json.loads(raw)
    first = document[0] if isinstance(document, list) else document
    value = first.get("bindings", {}).get("x") if isinstance(first, dict) else None
    if isinstance(value, dict):
        return {"d": value.get("deny"), "w": value.get("warn")}
    return None


if __name__ == "__main__":
    sys.exit(main())
