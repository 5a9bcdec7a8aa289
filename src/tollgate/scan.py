"""``tollgate scan``: run the rule packs over a plain directory (or one file), no Git needed.

What is read below the path (directories starting with ``.`` are skipped):

* every ``*.yaml``/``*.yml`` file outside Helm charts, except kustomization files and
  ``tollgate.yaml``: each Kubernetes object in it, as written;
* every ``*.tf`` file: its ``resource`` blocks (and compute-bearing ``module`` calls), with
  ``# tollgate:ignore=RULE reason`` comments applied;
* every top-most Helm chart (a directory with ``Chart.yaml``): rendered with its default values.

The rules are the built-in pack plus the security packs, then ``settings.policy.rule_packs``.
Broken YAML or HCL raises :class:`~tollgate.errors.ParseError` naming the file and the line.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from pathlib import Path

from tollgate.errors import InputError
from tollgate.model.changes import SkippedObject
from tollgate.model.config import AppSource, AppSpec
from tollgate.model.manifests import Manifest
from tollgate.model.scan import ScanResult
from tollgate.policy.engine import compile_pack, evaluate
from tollgate.policy.params import PolicyParams
from tollgate.policy.rulepack import RulePack, load_pack_file, merge_packs
from tollgate.policy.security import apply_terraform_ignores, load_security_pack, terraform_ignores
from tollgate.settings import Settings
from tollgate.sources.kustomization import KUSTOMIZATION_FILES
from tollgate.sources.renderers import (
    CHART_FILE,
    RENDERERS,
    YAML_SUFFIXES,
    RenderContext,
    TerraformRenderer,
    object_to_manifest,
)
from tollgate.sources.yamldocs import decode_text, parse_documents

__all__ = ["scan_pack", "scan_tree"]

_IGNORED_YAML = frozenset({*KUSTOMIZATION_FILES, "tollgate.yaml", "tollgate.yml"})


def scan_pack(settings: Settings) -> RulePack:
    """The rules a scan runs: built-in + security packs + the user's ``policy.rule_packs``."""
    pack = load_security_pack()
    for path in settings.policy.rule_packs:
        pack = merge_packs(pack, load_pack_file(path))
    return pack


def _context(path: Path, settings: Settings) -> RenderContext:
    if path.is_file():
        root = path.resolve().parent
        name = path.name

        def read(paths: Sequence[str]) -> dict[str, bytes]:
            return {p: (root / p).read_bytes() for p in paths}

        return RenderContext((name,), read, lambda: root, settings.render)
    return RenderContext.for_directory(path, settings.render)


def _inside(path: str, directory: str) -> bool:
    return directory == "" or path.startswith(directory + "/")


def _hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/")[:-1])


def _load(ctx: RenderContext) -> tuple[list[Manifest], list[SkippedObject], dict[str, dict[int, dict[str, str]]], int]:
    files = [f for f in ctx.files if not _hidden(f)]
    chart_dirs = sorted(posixpath.dirname(f) for f in files if posixpath.basename(f) == CHART_FILE)
    charts = [c for c in chart_dirs if not any(c != o and _inside(c, o) for o in chart_dirs)]

    def in_chart(f: str) -> bool:
        return any(_inside(f, c) for c in charts)

    yaml_files = [
        f for f in files
        if f.endswith(YAML_SUFFIXES) and posixpath.basename(f) not in _IGNORED_YAML and not in_chart(f)
    ]
    tf_files = [f for f in files if f.endswith(".tf") and not in_chart(f)]
    contents = ctx.read([*yaml_files, *tf_files]) if yaml_files or tf_files else {}
    manifests: list[Manifest] = []
    skipped: list[SkippedObject] = []
    for f in yaml_files:
        for doc in parse_documents(contents[f], f):
            found = object_to_manifest(doc.data, f, doc.line)
            if isinstance(found, Manifest):
                manifests.append(found)
            elif isinstance(found, SkippedObject):
                skipped.append(found)
    ignores: dict[str, dict[int, dict[str, str]]] = {}
    for f in tf_files:
        text = decode_text(contents[f], f)
        manifests.extend(TerraformRenderer.parse_file(text, f))
        marks = terraform_ignores(text)
        if marks:
            ignores[f] = marks
    for chart in charts:
        app = AppSpec(name=posixpath.basename(chart) or "chart", path=chart, source=AppSource.HELM)
        result = RENDERERS[AppSource.HELM].render(app, ctx)
        manifests.extend(result.manifests)
        skipped.extend(result.skipped)
    read = len(yaml_files) + len(tf_files) + sum(1 for f in files if in_chart(f))
    return manifests, skipped, ignores, read


def scan_tree(path: Path | str, settings: Settings | None = None) -> ScanResult:
    """Scan every IaC file below ``path`` (a directory or one file) with the rule packs."""
    settings = settings or Settings()
    target = Path(path)
    if not target.exists():
        raise InputError(f"{target}: no such file or directory")
    ctx = _context(target, settings)
    manifests, skipped, ignores, read = _load(ctx)
    pack = scan_pack(settings)
    compiled = compile_pack(pack, PolicyParams.from_settings(settings.policy))
    findings = evaluate(manifests, compiled)
    if ignores:
        findings = apply_terraform_ignores(findings, manifests, ignores)
    return ScanResult(
        root=str(target),
        findings=tuple(findings),
        resources=len(manifests),
        files=read,
        rules=compiled.rule_count,
        skipped=tuple(skipped),
    )
