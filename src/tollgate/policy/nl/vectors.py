"""Template vectors shipped inside the package, so a fresh install parses without a cold start.

``template_vectors.npz`` holds the vectors of :func:`~tollgate.policy.nl.parse.index_texts` and the
key they were computed for (:func:`~tollgate.policy.nl.parse.index_key`: model files + encoder version
+ every template text). :class:`ShippedVectors` hands them out only for exactly that key; any other key
(templates edited, another model or encoder version) reads as missing, so the parser falls back to the
user cache or recomputes, never using stale vectors. Rebuild with
``python benchmarks/nl_policy/build_template_vectors.py``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

SHIPPED = "template_vectors.npz"
_LOG = logging.getLogger(__name__)


def _digest(array: Any) -> str:
    data = np.ascontiguousarray(array, dtype=np.float32)
    return hashlib.sha256(f"{data.shape}".encode() + data.tobytes()).hexdigest()


def dump(key: str, vectors: Any) -> bytes:
    """The ``.npz`` bytes of ``vectors`` (float32) saved for ``key``, with a digest of the vectors."""
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, key=np.asarray(key), vectors=array, digest=np.asarray(_digest(array)))
    return buffer.getvalue()


def read(data: bytes) -> tuple[str, Any] | None:
    """``(key, vectors)`` from :func:`dump` bytes, or ``None`` if unreadable or failing the digest."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            key = str(npz["key"])
            vectors = np.asarray(npz["vectors"], dtype=np.float32)
            digest = str(npz["digest"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        _LOG.warning("shipped template vectors are unreadable (%s); they will be recomputed", exc)
        return None
    if vectors.ndim != 2 or digest != _digest(vectors):
        _LOG.warning("shipped template vectors fail their digest; they will be recomputed")
        return None
    return key, vectors


class ShippedVectors:
    """A read-only vector store over the package's ``template_vectors.npz`` (or ``path``)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._loaded: tuple[str, Any] | None = None
        self._read = False

    def _entry(self) -> tuple[str, Any] | None:
        if not self._read:
            self._read = True
            try:
                data = (self.path.read_bytes() if self.path is not None
                        else (resources.files("tollgate.policy.nl") / SHIPPED).read_bytes())
            except OSError:
                return None
            self._loaded = read(data)
        return self._loaded

    def shipped_key(self) -> str | None:
        """The key the shipped vectors were computed for (``None`` if there are none)."""
        entry = self._entry()
        return entry[0] if entry else None

    def load(self, key: str) -> Any:
        """The shipped vectors if they were computed for exactly ``key``, else ``None`` (logged)."""
        entry = self._entry()
        if entry is None:
            return None
        if entry[0] != key:
            _LOG.info("shipped template vectors are for another model or template set; recomputing")
            return None
        return entry[1]

    def save(self, key: str, vectors: Any) -> None:
        """Nothing: the shipped vectors change only by rebuilding them."""
