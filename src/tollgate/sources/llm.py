"""An OpenAI-compatible chat endpoint (``POST {url}/chat/completions``), for optional model proposals.

Only the transport lives here; what is asked and how the answer is checked is in
:mod:`tollgate.policy.nl.model_proposals`. Nothing is sent unless ``Settings.llm.url`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from tollgate.errors import DependencyError


class ChatEndpoint:
    """Sends chat messages and returns the first choice's text (temperature 0, JSON answers asked for)."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers, transport=transport)

    def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The answer's text; :class:`DependencyError` when the endpoint fails or answers out of shape."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        try:
            response = self._client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise DependencyError(f"{self.url}: the model endpoint did not answer ({exc})",
                                  hint="check llm.url or unset it") from exc
        if response.status_code >= 400:
            raise DependencyError(f"{self.url}: the model endpoint answered HTTP {response.status_code}: "
                                  f"{response.text[:200]}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise DependencyError(f"{self.url}: not a chat/completions answer ({exc})") from exc
        if not isinstance(content, str):
            raise DependencyError(f"{self.url}: the answer's message content is not text")
        return content

    def close(self) -> None:
        self._client.close()
