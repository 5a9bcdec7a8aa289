"""The HTTP service for rollout controllers (``tollgate serve``).

:func:`create_app` builds the FastAPI app: the Argo Rollouts ``web`` metric provider
(``POST /v1/judge/argo``), Flagger webhooks (``POST /v1/flagger/{gate}``), approvals and rollback
requests, Kayenta's RemoteJudge (``POST /v1/kayenta/judge``), ``/healthz`` and ``/metrics``.
"""

from tollgate.api.app import create_app

__all__ = ["create_app"]
