"""Builders of usage histories for the rightsizing tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tollgate.model.rightsize import ContainerUsage, HpaInfo, PodUsage, WorkloadContainer

MIB = 2.0**20
TARGET = WorkloadContainer("Deployment", "shop", "cart", "server")


def pod(cpu: Sequence[float], memory: Sequence[float], *, step: float = 60.0, t0: float = 1_700_000_000.0,
        name: str = "cart-5d8f7c9b6-abcde", started_at: Sequence[float] = ()) -> PodUsage:
    times = tuple(t0 + i * step for i in range(len(cpu)))
    mtimes = tuple(t0 + i * step for i in range(len(memory)))
    return PodUsage(name, tuple(float(c) for c in cpu), times, tuple(float(m) for m in memory), mtimes,
                    tuple(started_at))


def usage(*pods: PodUsage, oom_kills: int = 0, oom_limit: float | None = None, hpa: HpaInfo | None = None,
          step: float = 60.0) -> ContainerUsage:
    return ContainerUsage(TARGET, tuple(pods), step=step, window="14d", oom_kills=oom_kills,
                          oom_memory_limit=oom_limit, hpa=hpa, replicas=len(pods))


def noisy(n: int, level: float, spread: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(level + spread * rng.standard_normal(n), 0, None)
