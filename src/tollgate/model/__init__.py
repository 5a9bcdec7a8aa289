"""Pure domain values shared by every layer (frozen dataclasses, no I/O)."""

from tollgate.model.changes import ChangeKind, ChangeSet, ResourceChange, SkippedObject
from tollgate.model.config import AppSource, AppSpec, Environment, RepoConfig
from tollgate.model.cost import CostItem, CostReport, InstancePrice, PriceBook, PriceSource
from tollgate.model.decisions import Decision, Risk, Strategy, Verdict
from tollgate.model.findings import Finding, Severity
from tollgate.model.manifests import Manifest, ResourceKey, SourceLocation
from tollgate.model.quantities import parse_cpu, parse_memory
from tollgate.model.review import ReviewResult

__all__ = [
    "AppSource",
    "AppSpec",
    "ChangeKind",
    "ChangeSet",
    "CostItem",
    "CostReport",
    "Decision",
    "Environment",
    "Finding",
    "InstancePrice",
    "Manifest",
    "PriceBook",
    "PriceSource",
    "RepoConfig",
    "ResourceChange",
    "ResourceKey",
    "ReviewResult",
    "Risk",
    "Severity",
    "SkippedObject",
    "SourceLocation",
    "Strategy",
    "Verdict",
    "parse_cpu",
    "parse_memory",
]
