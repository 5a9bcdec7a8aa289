"""What a GitOps repository contains, as named by ``tollgate.yaml`` or auto-detected."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Environment(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PRODUCTION = "production"

    @classmethod
    def parse(cls, value: str) -> Environment:
        """Normalise common spellings (``prod``, ``live`` -> production; ``stage`` -> staging)."""
        v = value.strip().lower()
        aliases = {
            "prod": cls.PRODUCTION, "production": cls.PRODUCTION, "live": cls.PRODUCTION, "prd": cls.PRODUCTION,
            "staging": cls.STAGING, "stage": cls.STAGING, "stg": cls.STAGING, "qa": cls.STAGING,
            "preprod": cls.STAGING, "uat": cls.STAGING,
            "dev": cls.DEV, "development": cls.DEV, "test": cls.DEV, "sandbox": cls.DEV, "local": cls.DEV,
        }
        if v not in aliases:
            raise ValueError(f"unknown environment {value!r} (use dev, staging or production)")
        return aliases[v]


class AppSource(StrEnum):
    """How an app directory is turned into desired state."""

    RAW = "raw"
    KUSTOMIZE = "kustomize"
    HELM = "helm"
    TERRAFORM = "terraform"


@dataclass(frozen=True, slots=True)
class AppSpec:
    """One app of the repo: a directory rendered one way, deployed to one environment."""

    name: str
    path: str
    source: AppSource | None = None  # None: auto-detect
    environment: Environment = Environment.PRODUCTION
    namespace: str | None = None  # default namespace for objects without one
    values: tuple[str, ...] = ()  # Helm values files, repo-relative
    release_name: str | None = None  # Helm release name (default: app name)
    overrides: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class RepoConfig:
    """The content of ``tollgate.yaml`` (or what auto-detection found)."""

    apps: tuple[AppSpec, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    auto_detected: bool = False
