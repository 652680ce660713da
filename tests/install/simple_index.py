"""A PEP 503 "simple" package index of one directory of wheels, served on 127.0.0.1.

What PyPI is to a Home Assistant user installing the integration, minus the network: pip
and uv read `/simple/<project>/` pages of links (with `#sha256=` fragments) and download
the files. Projects it does not hold answer 404, so an installer with a second index (PyPI)
looks there. Every request ("GET /simple/x/") is recorded, so a test can show who fetched
what.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType


def normalize(name: str) -> str:
    """PEP 503 project name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(filename: str) -> str:
    """The project a wheel belongs to (its name part, before the first '-')."""
    return normalize(filename.split("-", 1)[0])


class SimpleIndex:
    """`with SimpleIndex(directory) as index:` serves `index.url` until the block ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/simple/"

    def projects(self) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {}
        for wheel in sorted(self.directory.glob("*.whl")):
            found.setdefault(project_of(wheel.name), []).append(wheel)
        return found

    def __enter__(self) -> SimpleIndex:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _page(self, path: str) -> bytes | None:
        """The body for a GET of `path`, or None for 404."""
        projects = self.projects()
        if path == "/simple/":
            links = [f'<a href="/simple/{name}/">{name}</a>' for name in projects]
        elif path.startswith("/simple/") and path.endswith("/"):
            files = projects.get(normalize(path.split("/")[2]))
            if files is None:
                return None
            links = [
                f'<a href="/files/{html.escape(f.name)}#sha256='
                f'{hashlib.sha256(f.read_bytes()).hexdigest()}">{html.escape(f.name)}</a>'
                for f in files
            ]
        elif path.startswith("/files/") and "/" not in path[len("/files/") :]:
            target = self.directory / path[len("/files/") :]
            return target.read_bytes() if target.is_file() else None
        else:
            return None
        body = "<!DOCTYPE html><html><body>\n" + "<br>\n".join(links) + "\n</body></html>\n"
        return body.encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "garagecam-test-index"

            def do_GET(self) -> None:
                self._answer(with_body=True)

            def do_HEAD(self) -> None:  # uv asks before downloading a wheel
                self._answer(with_body=False)

            def _answer(self, *, with_body: bool) -> None:
                path = self.path.split("?", 1)[0]
                index.requests.append(f"{self.command} {path}")
                body = index._page(path)
                if body is None:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                self.send_response(HTTPStatus.OK)
                kind = "application/octet-stream" if path.startswith("/files/") else "text/html"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the recorded paths are what the tests read."""

        return Handler
