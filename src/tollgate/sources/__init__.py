"""Adapters that read the outside world: Git repositories and the renderers of their desired state.

Import the submodules directly (``tollgate.sources.git``, ``tollgate.sources.desired_state``...);
this package re-exports the names most callers need.
"""

from tollgate.sources.desired_state import RenderCache, load_state
from tollgate.sources.git import FakeGitSource, GitRepo, GitSource
from tollgate.sources.renderers import RENDERERS, RenderContext, Renderer, RenderResult
from tollgate.sources.repo_config import detect_apps, load_repo_config

__all__ = [
    "RENDERERS",
    "FakeGitSource",
    "GitRepo",
    "GitSource",
    "RenderCache",
    "RenderContext",
    "RenderResult",
    "Renderer",
    "detect_apps",
    "load_repo_config",
    "load_state",
]
