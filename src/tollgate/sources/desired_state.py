"""Render every app of a repo at one commit into a :class:`~tollgate.model.state.DesiredState`.

Rendered apps are cached in memory by (renderer, app spec, Git object ids of every path the
render reads: the app directory, Kustomize bases, Helm values files). An app unchanged between
base and head is therefore rendered once per review; the commit is exported to disk only when
kustomize or helm actually has to run.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path

from tollgate.model.changes import SkippedObject
from tollgate.model.config import AppSpec, RepoConfig
from tollgate.model.kinds import is_cluster_scoped
from tollgate.model.manifests import Manifest
from tollgate.model.state import DesiredState
from tollgate.settings import Settings
from tollgate.sources.git import GitSource
from tollgate.sources.renderers import RenderContext, RenderResult, renderer_for

__all__ = ["DEFAULT_CACHE", "DesiredState", "RenderCache", "finalize_manifest", "load_state"]


class RenderCache:
    """Bounded, thread-safe LRU map from a render's inputs to its result. Counts hits and misses."""

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[Hashable, RenderResult] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> RenderResult | None:
        with self._lock:
            result = self._data.get(key)
            if result is None:
                self.misses += 1
            else:
                self.hits += 1
                self._data.move_to_end(key)
            return result

    def put(self, key: Hashable, result: RenderResult) -> None:
        with self._lock:
            self._data[key] = result
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0


#: Process-wide cache used when the caller passes none. Keys are content ids, so sharing is safe.
DEFAULT_CACHE = RenderCache()


def finalize_manifest(manifest: Manifest, app: AppSpec) -> Manifest:
    """Stamp the app name and give a namespaced object without one the app's (or ``default``)."""
    namespace = manifest.namespace
    if not namespace and not manifest.is_terraform and not is_cluster_scoped(manifest.kind):
        namespace = app.namespace or "default"
    if manifest.app == app.name and namespace == manifest.namespace:
        return manifest
    return dataclasses.replace(manifest, app=app.name, namespace=namespace)


class _Workdir:
    """Exports the commit into a temporary directory the first time it is asked for."""

    def __init__(self, git: GitSource, commit: str) -> None:
        self._git = git
        self._commit = commit
        self._path: Path | None = None

    def __call__(self) -> Path:
        if self._path is None:
            path = Path(tempfile.mkdtemp(prefix="tollgate-export-"))
            try:
                self._git.export(self._commit, path / "repo")
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            self._path = path
        return self._path / "repo"

    def cleanup(self) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None


def _top_paths(inputs: tuple[str, ...]) -> tuple[str, ...]:
    """The top-most of the input paths (a path inside another input is covered by its id).

    Their Git object ids form the cache key; an absent path gets "-" (still a distinct input).
    """
    top: list[str] = []
    for path in sorted(set(inputs)):
        if not any(path == t or path.startswith(t + "/") or t == "" for t in top):
            top.append(path)
    return tuple(top)


def load_state(
    git: GitSource,
    commit: str,
    config: RepoConfig,
    settings: Settings | None = None,
    *,
    cache: RenderCache | None = None,
) -> DesiredState:
    """Render every app of ``config`` at ``commit`` (a ref or sha).

    Every Manifest gets ``app`` set and, if namespaced and without a namespace, the app's namespace
    or ``default``. An app whose directory does not exist at this commit renders to nothing.
    Raises RefError, ParseError, RenderError, ConfigError or ToolNotFoundError.
    """
    sha = git.resolve(commit)
    settings = settings or Settings()
    cache = DEFAULT_CACHE if cache is None else cache
    workdir = _Workdir(git, sha)

    ctx = RenderContext(
        files=tuple(git.list_files(sha)),
        read=lambda paths: git.read_files(sha, paths),
        workdir=workdir,
        settings=settings.render,
    )
    manifests: list[Manifest] = []
    skipped: list[SkippedObject] = []
    try:
        plans = []
        for app in config.apps:
            renderer = renderer_for(app, ctx.files_under(app.path))
            plans.append((app, renderer, _top_paths(renderer.inputs(app, ctx))))
        # One batched object-id lookup for every app's inputs (the cache keys).
        ids = git.object_ids(sha, sorted({p for _, _, top in plans for p in top}))
        for app, renderer, top in plans:
            key = (renderer.source, app, tuple((p, ids.get(p) or "-") for p in top))
            result = cache.get(key)
            if result is None:
                result = renderer.render(app, ctx)
                cache.put(key, result)
            manifests.extend(finalize_manifest(m, app) for m in result.manifests)
            skipped.extend(result.skipped)
    finally:
        workdir.cleanup()
    return DesiredState(tuple(manifests), tuple(skipped), tuple(config.apps), sha)

