"""Output formatters: a review result as a PR comment, JSON, SARIF or a terminal table.

Formatters are plain functions ``ReviewResult -> str`` kept in an explicit registry, :data:`FORMATTERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from tollgate.model.review import ReviewResult
from tollgate.render.json_report import review_to_dict, review_to_json
from tollgate.render.markdown import review_to_markdown
from tollgate.render.sarif import findings_to_sarif, review_to_sarif
from tollgate.render.table import review_to_table

Formatter = Callable[[ReviewResult], str]

FORMATTERS: dict[str, Formatter] = {
    "markdown": review_to_markdown,
    "json": review_to_json,
    "sarif": review_to_sarif,
    "table": review_to_table,
}

__all__ = [
    "FORMATTERS",
    "Formatter",
    "findings_to_sarif",
    "review_to_dict",
    "review_to_json",
    "review_to_markdown",
    "review_to_sarif",
    "review_to_table",
]
