"""Tell Home Assistant where the inference server is, once the runner listens.

The entry point execs the runner, so the discovery message is sent by a detached process
(forked twice: the runner never has a child it does not know about, and the container's init
reaps it). It waits until the runner answers HTTP, then POSTs `/discovery`; if the runner
stops first (a bad option), nothing is sent: Home Assistant is never offered a server that
did not start. Not fatal either way: without discovery the server can still be typed in.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from garagecam_core import __version__

from .supervisor import Supervisor, SupervisorApiError

_LOGGER = logging.getLogger("garagecam.addon")
SERVICE: Final = "garagecam"  # config.yaml `discovery`; the integration's domain
WAIT_SECONDS: Final = 600.0  # loading models on a slow board takes a while
POLL_SECONDS: Final = 0.5


@dataclass(frozen=True)
class Announcement:
    hostname: str  # the add-on's name on the Supervisor's network
    port: int
    token: str
    #: the studio's model and folder: Home Assistant's add-on entries use that model and keep
    #: their frames there by default (/share is the same path in Home Assistant's container)
    model: str | None = None
    dataset: str | None = None

    def config(self) -> dict[str, object]:
        # the integration reads port and token (and the hostname from the Supervisor)
        config: dict[str, object] = {"host": self.hostname, "port": self.port,
                                     "token": self.token, "version": __version__}  # fmt: skip
        if self.model is not None and self.dataset is not None:
            config |= {"model": self.model, "dataset": self.dataset}
        return config


def runner_alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie waiting for its parent has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def listening(port: int) -> bool:
    """The runner's HTTP server answers (any status: /healthz says 503 until MQTT is up)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def announce_when_listening(
    supervisor: Supervisor,
    announcement: Announcement,
    runner_pid: int,
    wait: float = WAIT_SECONDS,
    poll: float = POLL_SECONDS,
) -> bool:
    """Wait for the runner, then send the discovery message; False if it never listened."""
    deadline = time.monotonic() + wait
    while not listening(announcement.port):
        if not runner_alive(runner_pid) or time.monotonic() > deadline:
            return False
        time.sleep(poll)
    try:
        supervisor.discovery(SERVICE, announcement.config())
    except SupervisorApiError as err:
        _LOGGER.warning("Home Assistant was not told about this add-on: %s", err)
        return False
    _LOGGER.info(
        "Discovery sent to Home Assistant: http://%s:%d", announcement.hostname, announcement.port
    )
    return True


def detach(supervisor: Supervisor, announcement: Announcement) -> None:
    """Run `announce_when_listening` in a grandchild and return at once (this process is
    about to become the runner, whose pid the grandchild watches)."""
    runner_pid = os.getpid()
    child = os.fork()
    if child:
        os.waitpid(child, 0)  # it exits at once; its own child belongs to init
        return
    try:
        if os.fork() == 0:
            announce_when_listening(supervisor, announcement, runner_pid)
    finally:
        logging.shutdown()
        os._exit(0)
