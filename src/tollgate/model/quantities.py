"""Kubernetes resource quantities: CPU in cores, memory and storage in bytes."""

from __future__ import annotations

import re

from tollgate.errors import InputError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "P": 1e15, "E": 1e18}
_QUANTITY = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_quantity(value: object, *, field: str = "quantity") -> float:
    """Parse a Kubernetes quantity (``"250m"``, ``"1.5Gi"``, ``2``) to a plain number."""
    if isinstance(value, bool):
        raise InputError(f"{field}: {value!r} is not a quantity")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise InputError(f"{field}: {value!r} is not a quantity")
    match = _QUANTITY.match(value)
    if not match:
        raise InputError(f"{field}: {value!r} is not a quantity")
    number, suffix = float(match.group(1)), match.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    raise InputError(f"{field}: unknown unit {suffix!r} in {value!r}")


def parse_cpu(value: object, *, field: str = "cpu") -> float:
    """CPU quantity in cores (``"250m"`` -> 0.25)."""
    return parse_quantity(value, field=field)


def parse_memory(value: object, *, field: str = "memory") -> float:
    """Memory or storage quantity in bytes (``"1Gi"`` -> 1073741824)."""
    return parse_quantity(value, field=field)


def format_cpu(cores: float) -> str:
    """Format cores the way people write them in manifests (``0.25`` -> ``"250m"``)."""
    millis = round(cores * 1000)
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis}m"


def format_memory(num_bytes: float) -> str:
    """Format bytes with the largest binary unit that keeps an integer (``"128Mi"``)."""
    value = round(num_bytes)
    for suffix in ("Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if value >= unit and value % unit == 0:
            return f"{value // unit}{suffix}"
    if value >= _BINARY["Mi"]:
        return f"{round(value / _BINARY['Mi'])}Mi"
    return str(value)
