"""Fixtures for policy tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from policy_helpers import to_manifest, workload

from tollgate.model import Manifest


@pytest.fixture
def make() -> Callable[..., Manifest]:
    """``make(kind, ...)`` -> a Manifest of a workload (see :func:`workload`)."""

    def build(kind: str = "Deployment", **kwargs: Any) -> Manifest:
        return to_manifest(workload(kind, **kwargs))

    return build
