"""`RemoteEngine`: classify through a GarageCam runner's HTTP API (`POST /v1/classify`).

This is how Home Assistant installs that cannot run ExecuTorch (Home Assistant OS, the
Alpine container) get inference: the runner on the same Pi or another box does the work.
The caller owns the aiohttp session (Home Assistant passes its shared one).

The runner may replace a model while it runs (the studio's "Use this model"). Each classify
answer carries the served model's `model_digest`; when it is not the digest of the metadata
kept here, the engine reads `/v1/models` once before it returns the classification, so the
caller sees the new labels and thresholds (`metadata`) with the first frame the new model
classified.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from ..errors import RemoteAuthError, RemoteConfigError, RemoteEngineError
from ..metadata import ModelMetadata
from ..options import OptionError, check_runner_url
from ..redact import redact_url
from ..roi import Roi
from .base import Classification

DEFAULT_TIMEOUT = 30.0


class RemoteEngine:
    """An `AsyncEngine` backed by a runner; build it with `await RemoteEngine.connect(...)`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        token: str | None = None,
        model: str | None = None,
        *,
        metadata: ModelMetadata | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._session = session
        try:  # the one rule every front end checks too; nothing is sent with a bad URL
            self.url = check_runner_url(url)
        except OptionError as err:
            raise RemoteConfigError(f"the runner URL: {err.detail}") from None
        self._token = token
        self.model = model
        self._metadata = metadata
        #: the runner's `model_digest` of the metadata kept (None: not known yet)
        self._digest = metadata.digest() if metadata is not None else None
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    @classmethod
    async def connect(
        cls,
        session: aiohttp.ClientSession,
        url: str,
        token: str | None = None,
        model: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - per-request aiohttp timeout
    ) -> RemoteEngine:
        """Fetch the model list; pick `model` (or the only one) and keep its metadata."""
        engine = cls(session, url, token, model, timeout=timeout)
        models = await engine.list_models()
        if model is None:
            if len(models) != 1:
                raise RemoteEngineError(
                    f"the runner at {engine.where} serves {len(models)} models "
                    f"({', '.join(sorted(models)) or 'none'}); choose one"
                )
            model = next(iter(models))
        if model not in models:
            raise RemoteEngineError(
                f"the runner at {engine.where} has no model {model!r} "
                f"(it serves: {', '.join(sorted(models)) or 'none'})"
            )
        engine.model = model
        engine._metadata = models[model]
        engine._digest = models[model].digest()
        return engine

    @property
    def where(self) -> str:
        return redact_url(self.url)

    @property
    def metadata(self) -> ModelMetadata:
        if self._metadata is None:
            raise RemoteEngineError("RemoteEngine has no metadata yet: use RemoteEngine.connect()")
        return self._metadata

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    async def list_models(self) -> dict[str, ModelMetadata]:
        data = await self._request("GET", "/v1/models")
        if not isinstance(data, dict):
            raise RemoteEngineError(f"the runner at {self.where} sent an unexpected model list")
        return {str(name): ModelMetadata.from_dict(meta) for name, meta in data.items()}

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        params = {}
        if self.model:
            params["model"] = self.model
        if roi is not None:
            params["roi"] = str(roi)
        data = await self._request(
            "POST",
            "/v1/classify",
            params=params,
            data=image,
            headers={"Content-Type": "application/octet-stream"},
        )
        try:
            result = Classification.from_dict(data)
        except (KeyError, TypeError, ValueError) as err:
            raise RemoteEngineError(
                f"the runner at {self.where} sent an unexpected answer: {err}"
            ) from err
        digest = data.get("model_digest")  # absent from older runners: nothing to follow
        if isinstance(digest, str) and self.model and digest != self._digest:
            await self._refresh(digest)
        return result

    async def _refresh(self, digest: str) -> None:
        """The runner serves another model under our name now: read its metadata (one
        request). The digest is remembered as the runner sent it, so a runner that computes
        it differently costs one extra request, not one per frame."""
        assert self.model is not None
        models = await self.list_models()
        if self.model not in models:
            raise RemoteEngineError(
                f"the runner at {self.where} no longer serves model {self.model!r} "
                f"(it serves: {', '.join(sorted(models)) or 'none'})"
            )
        self._metadata, self._digest = models[self.model], digest

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            async with self._session.request(
                method,
                f"{self.url}{path}",
                params=params,
                data=data,
                headers={**self._headers(), **(headers or {})},
                timeout=self._timeout,
            ) as response:
                if response.status in (401, 403):
                    raise RemoteAuthError(
                        f"the runner at {self.where} rejected the token (HTTP {response.status})"
                    )
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = None
                if response.status >= 400:
                    message = payload.get("message") if isinstance(payload, dict) else None
                    raise RemoteEngineError(
                        f"the runner at {self.where} answered HTTP {response.status}"
                        + (f": {message}" if message else "")
                    )
                if payload is None:
                    raise RemoteEngineError(f"the runner at {self.where} did not send JSON")
                return payload
        except TimeoutError as err:
            raise RemoteEngineError(f"the runner at {self.where} did not answer in time") from err
        except aiohttp.ClientError as err:
            raise RemoteEngineError(f"cannot reach the runner at {self.where}: {err}") from err

    async def close(self) -> None:
        """The session belongs to the caller; nothing else to release."""
