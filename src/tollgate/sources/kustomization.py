"""What a kustomization refers to inside the repo (bases, components, patches, generator files).

Used to tell overlays from the bases they pull in, and to know which paths decide the output of
``kustomize build`` (the render cache key).
"""

from __future__ import annotations

import posixpath
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from tollgate.errors import InputError
from tollgate.sources.git import normalize_path
from tollgate.sources.yamldocs import parse_documents

__all__ = [
    "KUSTOMIZATION_FILES",
    "PathIndex",
    "kustomization_file",
    "kustomization_closure",
    "local_references",
    "read_kustomization",
]

#: File names kustomize accepts for a kustomization, in its order of preference.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

Reader = Callable[[Sequence[str]], Mapping[str, bytes]]


class PathIndex:
    """Sorted repo file list with fast "is this a file / a directory" lookups."""

    def __init__(self, files: Sequence[str]) -> None:
        self.files: tuple[str, ...] = tuple(sorted(files))
        self._set = frozenset(self.files)

    def is_file(self, path: str) -> bool:
        return path in self._set

    def is_dir(self, path: str) -> bool:
        if not path:
            return bool(self.files)
        i = bisect_left(self.files, path + "/")
        return i < len(self.files) and self.files[i].startswith(path + "/")

    def under(self, path: str) -> list[str]:
        """Files below directory ``path`` ("" = everything)."""
        if not path:
            return list(self.files)
        prefix = path + "/"
        i = bisect_left(self.files, prefix)
        out: list[str] = []
        while i < len(self.files) and self.files[i].startswith(prefix):
            out.append(self.files[i])
            i += 1
        return out


def kustomization_file(index: PathIndex, directory: str) -> str | None:
    """Repo path of the kustomization file of ``directory``, or None."""
    for name in KUSTOMIZATION_FILES:
        candidate = posixpath.join(directory, name) if directory else name
        if index.is_file(candidate):
            return candidate
    return None


def read_kustomization(content: bytes, file: str) -> Mapping[str, Any]:
    """The kustomization mapping; not a mapping -> ParseError naming the file."""
    docs = parse_documents(content, file)
    if not docs:
        return {}
    data = docs[0].data
    if not isinstance(data, Mapping):
        raise InputError(f"{file}: a kustomization must be a mapping")
    return data


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def local_references(directory: str, data: Mapping[str, Any], index: PathIndex) -> list[str]:
    """Repo paths (files or directories) that a kustomization in ``directory`` names.

    Every string value is tried as a path relative to ``directory`` (``key=path`` generator entries
    too); those that exist in the repo are returned, sorted. Remote URLs never match a repo path.
    """
    found: set[str] = set()
    for raw in _strings(data):
        if not raw or "\n" in raw or len(raw) > 1024 or "://" in raw:
            continue
        for candidate in {raw, raw.split("=", 1)[-1]}:
            joined = posixpath.normpath(posixpath.join(directory, candidate)) if directory else candidate
            if joined.startswith(("../", "/")) or joined == "..":
                continue
            try:
                path = normalize_path(joined)
            except InputError:
                continue
            if path != directory and (index.is_file(path) or index.is_dir(path)):
                found.add(path)
    return sorted(found)


def kustomization_closure(directory: str, index: PathIndex, read: Reader) -> list[str]:
    """``directory`` plus every repo path its kustomization reaches, recursively through bases."""
    seen_dirs: set[str] = set()
    paths: set[str] = set()
    pending = [directory]
    while pending:
        current = pending.pop()
        if current in seen_dirs:
            continue
        seen_dirs.add(current)
        paths.add(current)
        kfile = kustomization_file(index, current)
        if kfile is None:
            continue
        data = read_kustomization(read([kfile])[kfile], kfile)
        for ref in local_references(current, data, index):
            paths.add(ref)
            if index.is_dir(ref):
                pending.append(ref)
    return sorted(paths)
