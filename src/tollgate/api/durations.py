"""Durations as Prometheus writes them (``90s``, ``10m``, ``1h30m``) or plain seconds."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object, *, field: str) -> float:
    """Seconds of ``value`` (a number of seconds, a numeric string, or ``1h30m``-style text).

    Raises ValueError naming ``field`` when the value is not a positive duration.
    """
    if isinstance(value, bool):
        raise ValueError(f"{field}: expected a duration such as '10m' or seconds, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"{field}: {value!r} is not a duration such as '90s', '10m' or '1h30m'") from None
            seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    else:
        raise ValueError(f"{field}: expected a duration such as '10m' or seconds, got {type(value).__name__}")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{field}: must be a positive duration, got {value!r}")
    return seconds
