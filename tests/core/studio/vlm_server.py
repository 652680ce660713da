"""A local server speaking the OpenAI `/v1/chat/completions` protocol, as llama.cpp's
server, Ollama and vLLM do, for the teacher tests (no vision model can run here).

It records every request and answers from `answer(question_text, image_jpeg)`; it checks what a real
server would need: the model name, one text part and one base64 JPEG `image_url` part.
"""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image

from garagecam_core.runner.http import start_site


@dataclass
class FakeVlm:
    answer: Callable[[str, bytes], str]
    api_key: str | None = None
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    images: list[tuple[int, int]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        body = await request.json()
        self.requests.append(body)
        if self.status != 200:
            return web.json_response({"error": {"message": "overloaded"}}, status=self.status)
        (message,) = body["messages"]
        text = next(p["text"] for p in message["content"] if p["type"] == "text")
        url = next(p["image_url"]["url"] for p in message["content"] if p["type"] == "image_url")
        prefix = "data:image/jpeg;base64,"
        assert url.startswith(prefix)
        jpeg = base64.b64decode(url[len(prefix) :])
        with Image.open(io.BytesIO(jpeg)) as image:
            assert image.format == "JPEG"
            self.images.append(image.size)
        reply = self.answer(text, jpeg)
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": reply}}],
        })  # fmt: skip


@asynccontextmanager
async def serve(vlm: FakeVlm) -> AsyncIterator[FakeVlm]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", vlm.handle)
    runner, port = await start_site(app, "127.0.0.1", 0)
    vlm.url = f"http://127.0.0.1:{port}"
    try:
        yield vlm
    finally:
        await runner.cleanup()
