"""Bearer-token checks. Tokens are compared in constant time and never logged or recorded."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from fastapi import HTTPException, Request
from pydantic import SecretStr

from tollgate.settings import Settings


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _matches(given: str | None, allowed: Iterable[SecretStr | None]) -> bool:
    if given is None:
        return False
    found = False
    for token in allowed:
        if token is not None and secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
            found = True
    return found


def _unconfigured() -> HTTPException:
    return HTTPException(
        status_code=503,
        detail="this endpoint needs a bearer token, but the service has none configured "
        "(set TOLLGATE_API__TOKEN)",
    )


def _refused(what: str) -> HTTPException:
    return HTTPException(status_code=401, detail=f"missing or wrong {what}",
                         headers={"WWW-Authenticate": 'Bearer realm="tollgate"'})


async def require_token(request: Request) -> None:
    """FastAPI dependency: the request carries ``Authorization: Bearer <TOLLGATE_API__TOKEN>``.

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency on its thread pool, a
    thread hop per request for a few microseconds of work.
    """
    settings: Settings = request.app.state.service.settings
    if settings.api.token is None:
        raise _unconfigured()
    if not _matches(_bearer(request), [settings.api.token]):
        raise _refused("bearer token")


def check_webhook_token(request: Request, metadata_token: str | None) -> None:
    """Flagger webhooks: the API or webhook token, as a bearer header or as ``metadata.token``.

    Flagger cannot send headers, so its Canary passes the token in the webhook's metadata.
    """
    api = request.app.state.service.settings.api
    allowed = [api.token, api.webhook_token]
    if all(token is None for token in allowed):
        raise _unconfigured()
    if not (_matches(_bearer(request), allowed) or _matches(metadata_token, allowed)):
        raise _refused("token (bearer header or metadata.token)")
