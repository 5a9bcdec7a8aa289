"""Files the policy analyzers need, read here so that the analyzers stay free of I/O.

* :func:`read_rule_fixtures` reads a folder of rule fixtures (``<root>/<RULE_ID>/*-pass.yaml`` ...)
  into :class:`~tollgate.model.rule_fixtures.RuleFixture` values, parsed with the same loaders
  ``tollgate scan`` uses.
* :class:`EmbeddingCache` keeps the NL parser's template vectors on disk (user cache directory), so
  they are computed once per model, template set and encoder version instead of at every start.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import zipfile
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from tollgate.errors import ConfigError
from tollgate.model import Manifest
from tollgate.model.rule_fixtures import RuleFixture, expected_outcome
from tollgate.sources.renderers import TerraformRenderer, object_to_manifest
from tollgate.sources.yamldocs import parse_documents

_LOG = logging.getLogger(__name__)


# --- rule fixtures --------------------------------------------------------------------------------


def parse_fixture(text: str, file: str) -> list[Manifest]:
    """The objects of one fixture file (Kubernetes YAML or Terraform); ParseError on broken input."""
    if file.endswith(".tf"):
        return TerraformRenderer.parse_file(text, file)
    out: list[Manifest] = []
    for doc in parse_documents(text, file):
        found = object_to_manifest(doc.data, file, doc.line)
        if isinstance(found, Manifest):
            out.append(found)
    return out


def read_rule_fixtures(root: Traversable | Path) -> list[RuleFixture]:
    """Every fixture below ``root`` (one folder per rule), sorted by rule and file name.

    Files whose names announce no outcome are ignored; ConfigError if ``root`` is not a directory.
    """
    if not root.is_dir():
        raise ConfigError(f"{root}: fixtures directory does not exist")
    out: list[RuleFixture] = []
    for folder in sorted(root.iterdir(), key=lambda p: p.name):
        if not folder.is_dir():
            continue
        for item in sorted(folder.iterdir(), key=lambda p: p.name):
            if item.is_file() and expected_outcome(item.name) is not None:
                file = f"{folder.name}/{item.name}"
                text = item.read_text(encoding="utf-8")
                out.append(RuleFixture(folder.name, file, text, tuple(parse_fixture(text, file))))
    return out


# --- template vector cache ------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Where cached template vectors live: ``<user cache dir>/tollgate/embeddings``."""
    return Path(platformdirs.user_cache_dir("tollgate", appauthor=False)) / "embeddings"


class EmbeddingCache:
    """Template vectors on disk, one ``<key>.npz`` per key, checked by a digest of their bytes.

    Writes are atomic (temporary file + rename); an unreadable, truncated or altered entry reads as
    missing (and is removed), so the caller recomputes. Failing to write is logged, never raised.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_cache_dir()

    def path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError(f"cache key must be alphanumeric, got {key!r}")
        return self.directory / f"{key}.npz"

    def load(self, key: str) -> Any:
        """The vectors saved under ``key``, or ``None``."""
        path = self.path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                vectors = np.asarray(data["vectors"], dtype=np.float32)
                digest = str(data["digest"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            _LOG.warning("%s: unreadable template vector cache (%s); recomputing", path, exc)
            _discard(path)
            return None
        if digest != _digest(vectors) or vectors.ndim != 2:
            _LOG.warning("%s: template vector cache fails its digest; recomputing", path)
            _discard(path)
            return None
        return vectors

    def save(self, key: str, vectors: Any) -> None:
        """Store ``vectors`` under ``key`` (best effort)."""
        array = np.ascontiguousarray(vectors, dtype=np.float32)
        buffer = io.BytesIO()
        np.savez(buffer, vectors=array, digest=np.asarray(_digest(array)))
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        except OSError as exc:
            _LOG.warning("%s: cannot write the template vector cache (%s)", path, exc)
            return
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(buffer.getvalue())
            os.replace(tmp, path)
        except OSError as exc:
            _LOG.warning("%s: cannot write the template vector cache (%s)", path, exc)
            _discard(Path(tmp))


def _discard(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        _LOG.debug("%s: cannot remove (%s)", path, exc)


def _digest(vectors: Any) -> str:
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    return hashlib.sha256(f"{array.shape}".encode() + array.tobytes()).hexdigest()
