"""tollgate: release automation and FinOps for GitOps repositories."""

from tollgate.errors import DependencyError, InputError, IntegrityError, TollgateError

__version__ = "0.1.0"

__all__ = ["DependencyError", "InputError", "IntegrityError", "TollgateError", "__version__"]
