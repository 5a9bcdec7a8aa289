"""The one exception tree of tollgate.

Every error a caller can meet derives from :class:`TollgateError`. Each branch says what the caller
should do next, and the CLI and HTTP layers map the branches to exit codes and statuses in one place
(``tollgate.cli.main`` and ``tollgate.api``):

* :class:`InputError` -- the input is wrong (a file, a ref, a flag, a policy). Fix the input and retry.
  CLI exit code 2, HTTP 400/422.
* :class:`DependencyError` -- something outside tollgate did not answer (a Git remote, Prometheus,
  a database, a missing program such as kustomize). Retry later or install it. CLI exit code 3, HTTP 503.
* :class:`IntegrityError` -- stored state is not what it should be (a broken ledger hash chain).
  Give up and investigate; never retry blindly. CLI exit code 2, HTTP 500.
"""

from __future__ import annotations


class TollgateError(Exception):
    """Base of every error tollgate raises on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class InputError(TollgateError):
    """The caller gave something tollgate cannot use. Fix the input."""

    exit_code = 2


class ParseError(InputError):
    """A file could not be parsed. Names the file and, where known, the line."""

    def __init__(self, file: str, message: str, *, line: int | None = None, hint: str | None = None) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}", hint=hint)
        self.file = file
        self.line = line


class RefError(InputError):
    """A Git ref or repository path that does not exist."""


class RenderError(InputError):
    """Kustomize, Helm or another renderer failed on a directory of the repo."""

    def __init__(self, directory: str, tool: str, output: str) -> None:
        super().__init__(f"{tool} failed to render {directory}:\n{output.strip()}")
        self.directory = directory
        self.tool = tool
        self.output = output


class ConfigError(InputError):
    """A configuration file (tollgate.yaml, a price book, a rule pack) is invalid."""


class PolicyError(InputError):
    """A policy (Rego or rule pack) cannot be parsed or evaluated."""


class ProposalRefusedError(InputError):
    """A proposal cannot be written to Git as asked (dirty working tree, diverged branch). Fix the repo."""


class RevertConflictError(ProposalRefusedError):
    """Reverting a commit conflicts with what came after it; names the files. Nothing was written."""

    def __init__(self, commit: str, files: tuple[str, ...]) -> None:
        listed = ", ".join(files) or "(unknown files)"
        super().__init__(f"reverting {commit[:12]} conflicts with later changes in: {listed}",
                         hint="revert it by hand, or propose a fix-forward")
        self.commit = commit
        self.files = files


class DependencyError(TollgateError):
    """A program or service tollgate needs is missing or unreachable. Install it or retry later."""

    exit_code = 3


class ToolNotFoundError(DependencyError):
    """A required external program (kustomize, helm, git) is not on PATH."""


class LedgerUnavailableError(DependencyError):
    """The ledger database cannot be reached."""


class IntegrityError(TollgateError):
    """Stored state is inconsistent (e.g. the ledger hash chain is broken). Investigate; do not retry."""

    exit_code = 2


class LedgerIntegrityError(IntegrityError):
    """The ledger hash chain does not verify; names the first bad record."""

    def __init__(self, record_id: str, seq: int, reason: str) -> None:
        super().__init__(f"ledger record #{seq} ({record_id}) fails verification: {reason}")
        self.record_id = record_id
        self.seq = seq
        self.reason = reason


class NotFoundError(InputError):
    """A named object (e.g. a decision id) does not exist."""
