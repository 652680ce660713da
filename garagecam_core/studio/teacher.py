"""A vision-language "teacher" that pre-labels frames: any OpenAI-compatible
`/v1/chat/completions` endpoint that takes images (llama.cpp's server, Ollama, vLLM, ...).

One request per label and frame: the prompt asks a yes/no question and for a confidence, the
image travels as a base64 `data:` URL content part. The answer is parsed strictly: `yes` or
`no`, optionally followed by a confidence between 0 and 1 (`yes 0.9`, `No, 0.75`,
`yes (confidence: 0.8)`); anything else is no suggestion, logged with the first characters of
the answer. The API key is sent only in the Authorization header and never logged.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from PIL import Image

from ..redact import redact_url

_LOGGER = logging.getLogger(__name__)

#: the teacher sees at most this many pixels on the longer side (VLMs downscale anyway)
MAX_SIDE = 1024

_QUESTIONS = {
    "door_open": "Is the garage door in this camera image open (fully or partly)?",
    "car_present": "Is there a car parked in or in front of the garage in this camera image?",
}
_INSTRUCTION = (
    "Answer with one line only: the word yes or no, then your confidence between 0 and 1. "
    "Example: yes 0.9"
)
_ANSWER = re.compile(
    r"""^\s*\**(?P<word>yes|no)\**\s*[.,;:]?\s*
        (?:\(?\s*(?:confidence\s*[:=]?\s*)?(?P<conf>0(?:\.\d+)?|1(?:\.0+)?|\.\d+)\s*\)?)?
        \s*\.?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class Answer:
    value: int  # 1 = yes, 0 = no
    confidence: float | None

    @property
    def probability(self) -> float | None:
        """The teacher's probability that the label is on (None without a confidence)."""
        if self.confidence is None:
            return None
        return self.confidence if self.value else 1.0 - self.confidence


def parse_answer(text: str) -> Answer | None:
    """`yes`/`no` + optional confidence in [0, 1]; None for anything else."""
    match = _ANSWER.match(text)
    if match is None:
        return None
    conf = match.group("conf")
    return Answer(int(match.group("word").lower() == "yes"), float(conf) if conf else None)


def question(label: str, prompts: Mapping[str, str]) -> str:
    text = prompts.get(label) or _QUESTIONS.get(label)
    if text is None:
        text = f"Does this camera image show: {label.replace('_', ' ')}?"
    return f"{text}\n{_INSTRUCTION}"


def completions_url(url: str) -> str:
    """Accept the server's base URL, its `/v1`, or the full endpoint."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return f"{url}/chat/completions"
    return f"{url}/v1/chat/completions"


def data_url(image: bytes) -> str:
    """The frame as a JPEG data URL, scaled down to MAX_SIDE (blocking: call in a thread)."""
    with Image.open(io.BytesIO(image)) as img:
        img.draft("RGB", (MAX_SIDE, MAX_SIDE))
        rgb = img.convert("RGB")
        rgb.thumbnail((MAX_SIDE, MAX_SIDE))
        out = io.BytesIO()
        rgb.save(out, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


@dataclass(frozen=True)
class TeacherConfig:
    url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    prompts: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 120.0

    @property
    def endpoint(self) -> str:
        return completions_url(self.url)

    def describe(self) -> dict[str, Any]:
        """What the page and logs may show (no key; credentials in the URL masked)."""
        return {"url": redact_url(self.endpoint), "model": self.model, "key": bool(self.api_key)}


@dataclass(frozen=True)
class Suggestion:
    label: str
    answer: Answer | None  # None: the teacher's reply could not be used
    raw: str  # the reply's first characters, for the page

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.answer.value if self.answer else None,
            "confidence": self.answer.confidence if self.answer else None,
            "raw": self.raw,
        }


class TeacherError(Exception):
    """The endpoint could not be asked (network, HTTP status, malformed response)."""


class UnreadableFrameError(Exception):
    """This frame cannot be decoded; the next frames can still be asked about."""


class Teacher:
    """Asks the configured endpoint; one `aiohttp.ClientSession` for its lifetime."""

    def __init__(self, config: TeacherConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            headers = (
                {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
            )
            self._session = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=self.config.timeout)
            )
        return self._session

    async def ask(self, image: bytes, labels: list[str]) -> list[Suggestion]:
        """One question per label about `image`; raises TeacherError if the endpoint fails."""
        try:
            url = await asyncio.to_thread(data_url, image)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            raise UnreadableFrameError(str(err)) from err
        return [await self._ask_one(url, label) for label in labels]

    async def _ask_one(self, image_url: str, label: str) -> Suggestion:
        body = {
            "model": self.config.model,
            "temperature": 0,
            "max_tokens": 16,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": question(label, self.config.prompts)},
                        {"type": "image_url", "image_url": {"url": image_url}},
                    ],
                }
            ],
        }
        where = redact_url(self.config.endpoint)
        try:
            async with self._client().post(self.config.endpoint, json=body) as response:
                if response.status != 200:
                    detail = (await response.text())[:200]
                    raise TeacherError(f"{where} answered HTTP {response.status}: {detail}")
                payload = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise TeacherError(f"{where}: {type(err).__name__}: {err}") from err
        try:
            text = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as err:
            raise TeacherError(f"{where}: not a chat completion response") from err
        if not isinstance(text, str):
            text = ""
        answer = parse_answer(text)
        raw = text.strip()[:80]
        if answer is None:
            _LOGGER.info("teacher: unusable answer for %s: %r", label, raw)
        return Suggestion(label, answer, raw)
