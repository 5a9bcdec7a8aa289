"""propose: findings -> minimal file patches (pure).

* :mod:`tollgate.propose.locate` -- which file and YAML path really set a container's requests, limits
  and replicas (raw manifests, Kustomize bases and patches, Helm values files), conflicts reported.
* :mod:`tollgate.propose.edit` -- format-preserving edits of those files (only the touched lines change).

Writing the result to Git is :mod:`tollgate.sources.gitwrite`; orchestration is :mod:`tollgate.rightsize`
and :mod:`tollgate.rollback`.
"""

from tollgate.propose.edit import FieldEdit, apply_edits, format_cpu_quantity, format_memory_quantity
from tollgate.propose.locate import FieldSite, Location, locate, plan_edits

__all__ = [
    "FieldEdit",
    "FieldSite",
    "Location",
    "apply_edits",
    "format_cpu_quantity",
    "format_memory_quantity",
    "locate",
    "plan_edits",
]
