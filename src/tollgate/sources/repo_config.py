"""Which apps a repository holds: ``tollgate.yaml`` at the repo root, or auto-detection.

``tollgate.yaml``::

    apps:
      - name: shop
        path: deploy/overlays/prod
        source: kustomize          # optional: raw | kustomize | helm | terraform (default: detect)
        environment: production    # optional, see below
        namespace: shop            # optional default namespace of objects without one
        values: [deploy/values-prod.yaml]   # Helm values files, repo-relative
        releaseName: shop          # optional Helm release name
        overrides: {}              # free-form, for the analyzers
    settings: {...}                # optional, kept raw for the engine

Without apps (or without the file) every directory with a kustomization file, a ``Chart.yaml``
or ``*.tf`` files is an app, except Kustomize bases/components that another kustomization in the
repo pulls in, directories inside a Helm chart, and Terraform modules called by a local
``source = "./..."``. Remaining directories with Kubernetes YAML become raw apps (the top-most
such directory takes in its subdirectories).

An app's environment is, in order: the one it names; one inferred from its path segments
(``prod``/``production``/``live`` -> production, ``staging``/``stage`` -> staging,
``dev``/``development`` -> dev); ``Settings.environment``; else **production** (the cautious default).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tollgate.errors import ConfigError, InputError, ParseError
from tollgate.model.config import AppSource, AppSpec, Environment, RepoConfig
from tollgate.settings import Settings
from tollgate.sources.git import GitSource, normalize_path
from tollgate.sources.kustomization import (
    KUSTOMIZATION_FILES,
    PathIndex,
    local_references,
    read_kustomization,
)
from tollgate.sources.renderers import CHART_FILE, YAML_SUFFIXES
from tollgate.sources.yamldocs import parse_documents

__all__ = ["CONFIG_FILES", "detect_apps", "infer_environment", "load_repo_config", "parse_repo_config"]

#: Where the repo config is looked for, in order.
CONFIG_FILES = ("tollgate.yaml", "tollgate.yml")

_SEGMENT_ENV = {
    "prod": Environment.PRODUCTION,
    "production": Environment.PRODUCTION,
    "live": Environment.PRODUCTION,
    "staging": Environment.STAGING,
    "stage": Environment.STAGING,
    "dev": Environment.DEV,
    "development": Environment.DEV,
}
_API_VERSION_LINE = re.compile(rb"^\s*(?:-\s+)?apiVersion:\s*\S", re.MULTILINE)
_KIND_LINE = re.compile(rb"^\s*(?:-\s+)?kind:\s*\S", re.MULTILINE)
_TF_LOCAL_SOURCE = re.compile(r'^\s*source\s*=\s*"(\.{1,2}/[^"]*)"', re.MULTILINE)


def infer_environment(path: str) -> Environment | None:
    """Environment named by a path segment (the deepest one wins), or None."""
    for segment in reversed(normalize_path(path).split("/")):
        env = _SEGMENT_ENV.get(segment.lower())
        if env is not None:
            return env
    return None


# ----------------------------------------------------------------------------------------------
# tollgate.yaml


class _AppModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    path: str
    source: AppSource | None = None
    environment: str | None = None
    namespace: str | None = None
    values: list[str] = Field(default_factory=list)
    release_name: str | None = Field(default=None, alias="releaseName")
    overrides: dict[str, Any] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        try:
            return normalize_path(value)
        except InputError as exc:
            raise ValueError(exc.message) from exc

    @field_validator("values")
    @classmethod
    def _values(cls, value: list[str]) -> list[str]:
        try:
            return [normalize_path(v) for v in value]
        except InputError as exc:
            raise ValueError(exc.message) from exc

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str | None) -> str | None:
        return None if value is None else Environment.parse(value).value


class _ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apps: list[_AppModel] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)


def _field_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line_of(content: bytes, loc: Sequence[int | str]) -> int | None:
    """Best-effort line of the offending key: the first line naming the last string in ``loc``."""
    for part in reversed(loc):
        if isinstance(part, str):
            m = re.search(rb"^\s*-?\s*" + re.escape(part.encode()) + rb"\s*:", content, re.MULTILINE)
            if m:
                return content.count(b"\n", 0, m.start()) + 1
    return None


def parse_repo_config(content: bytes, file: str, settings: Settings | None = None) -> RepoConfig:
    """Validate a ``tollgate.yaml``; its apps get their environments (see the module docstring).

    Invalid YAML is a ParseError; a valid YAML file that breaks the schema is a ConfigError naming
    the file, the field (``apps[1].environment``) and, when found, its line.
    """
    docs = parse_documents(content, file)
    raw: Any = docs[0].data if docs else {}
    if len(docs) > 1:
        raise ConfigError(f"{file}: expected one YAML document, found {len(docs)}")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{file}: expected a mapping with 'apps' and 'settings'")
    try:
        model = _ConfigModel.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        line = _line_of(content, loc)
        where = f"{file}:{line}" if line else file
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{where}: {_field_path(loc)}: {first['msg']}{more}") from exc
    names = [a.name for a in model.apps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{file}: apps: duplicate app name(s) {', '.join(dupes)}")
    default_env = Environment.parse(settings.environment) if settings and settings.environment else None
    apps = tuple(
        AppSpec(
            name=a.name,
            path=a.path,
            source=a.source,
            environment=(
                Environment(a.environment)
                if a.environment
                else infer_environment(a.path) or default_env or Environment.PRODUCTION
            ),
            namespace=a.namespace,
            values=tuple(a.values),
            release_name=a.release_name,
            overrides=dict(a.overrides),
        )
        for a in model.apps
    )
    return RepoConfig(apps=apps, settings=dict(model.settings), auto_detected=False)


def load_repo_config(git: GitSource, commit: str, settings: Settings | None = None) -> RepoConfig:
    """The repo config at ``commit``: ``tollgate.yaml`` if present, apps auto-detected if it names none."""
    files = git.list_files(commit)
    index = PathIndex(files)
    config_file = next((f for f in CONFIG_FILES if index.is_file(f)), None)
    if config_file is None:
        return RepoConfig(apps=detect_apps(git, commit, files, settings), auto_detected=True)
    config = parse_repo_config(git.read_file(commit, config_file), config_file, settings)
    if config.apps:
        return config
    return RepoConfig(apps=detect_apps(git, commit, files, settings), settings=config.settings, auto_detected=True)


# ----------------------------------------------------------------------------------------------
# auto-detection


def _inside(path: str, directory: str) -> bool:
    return directory == "" or path == directory or path.startswith(directory + "/")


def _looks_like_k8s(content: bytes) -> bool:
    return bool(_API_VERSION_LINE.search(content) and _KIND_LINE.search(content))


def _app_name(path: str) -> str:
    return path or "root"


def detect_apps(
    git: GitSource, commit: str, files: Sequence[str] | None = None, settings: Settings | None = None
) -> tuple[AppSpec, ...]:
    """Apps found by looking at the repo's directories (see the module docstring), sorted by path."""
    files = list(files) if files is not None else git.list_files(commit)
    index = PathIndex(files)
    dirs_with: dict[str, set[str]] = {}
    for f in files:
        dirs_with.setdefault(posixpath.dirname(f), set()).add(posixpath.basename(f))

    kustomize_dirs = sorted(d for d, names in dirs_with.items() if names & set(KUSTOMIZATION_FILES))
    chart_dirs = sorted(d for d, names in dirs_with.items() if CHART_FILE in names)
    tf_dirs = sorted(d for d, names in dirs_with.items() if any(n.endswith(".tf") for n in names))

    # Kustomize: drop bases/components that another kustomization refers to, and Components.
    kfiles = {d: next(f"{d}/{n}" if d else n for n in KUSTOMIZATION_FILES if n in dirs_with[d]) for d in kustomize_dirs}
    contents = git.read_files(commit, list(kfiles.values())) if kfiles else {}
    referenced: set[str] = set()
    components: set[str] = set()
    for d, kfile in kfiles.items():
        try:
            data = read_kustomization(contents[kfile], kfile)
        except (ParseError, InputError):
            continue  # rendering it will report the problem
        if data.get("kind") == "Component":
            components.add(d)
        referenced.update(r for r in local_references(d, data, index) if r in kfiles)
    # Helm: nothing inside a chart is an app of its own (subcharts, templates).
    charts = [c for c in chart_dirs if not any(c != o and _inside(c, o) for o in chart_dirs)]
    # Terraform: modules called through a local source are part of their caller.
    tf_sources = git.read_files(commit, [f for f in files if f.endswith(".tf")]) if tf_dirs else {}
    called: set[str] = set()
    for f, content in tf_sources.items():
        base = posixpath.dirname(f)
        for m in _TF_LOCAL_SOURCE.finditer(content.decode("utf-8", errors="replace")):
            target = posixpath.normpath(posixpath.join(base, m.group(1)))
            if target != "." and not target.startswith(".."):
                called.add(target)
            elif target == ".":
                called.add("")

    found: dict[str, AppSource] = {}
    for c in charts:
        found[c] = AppSource.HELM
    for d in kustomize_dirs:
        if d in referenced or d in components or any(_inside(d, c) for c in charts):
            continue
        found.setdefault(d, AppSource.KUSTOMIZE)
    for d in tf_dirs:
        if d in called or d in found or any(_inside(d, c) for c in charts):
            continue
        found[d] = AppSource.TERRAFORM

    # Raw YAML: top-most directories with Kubernetes objects outside every other app and base.
    taken = [*found, *referenced, *components, *charts]
    yaml_dirs = sorted(
        d
        for d, names in dirs_with.items()
        if any(n.endswith(YAML_SUFFIXES) for n in names) and not any(_inside(d, t) for t in taken)
    )
    yaml_files = [
        f
        for f in files
        if f.endswith(YAML_SUFFIXES)
        and posixpath.dirname(f) in set(yaml_dirs)
        and f not in CONFIG_FILES
        and posixpath.basename(f) not in KUSTOMIZATION_FILES
    ]
    yaml_contents = git.read_files(commit, yaml_files) if yaml_files else {}
    k8s_dirs = sorted({posixpath.dirname(f) for f, c in yaml_contents.items() if _looks_like_k8s(c)})
    raw_roots: list[str] = []
    for d in k8s_dirs:
        if not any(_inside(d, r) for r in raw_roots):
            raw_roots.append(d)
    for d in raw_roots:
        found[d] = AppSource.RAW

    default_env = Environment.parse(settings.environment) if settings and settings.environment else None
    return tuple(
        AppSpec(
            name=_app_name(path),
            path=path,
            source=source,
            environment=infer_environment(path) or default_env or Environment.PRODUCTION,
        )
        for path, source in sorted(found.items())
    )
