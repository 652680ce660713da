"""The add-on's install script and entry point, run in a Debian bookworm tree that stands in
for its base image (scripts/lib/bookworm.sh builds it; setup.sh caches it).

Each command runs in an overlay of the cached tree (its changes go to a directory of the
test's own, the tree stays as built) inside a private mount namespace (`unshare -m`), with
the test's folders bind-mounted at /data, /share and /wheels: nothing stays mounted when it
ends. The network namespace is the host's: the add-on reaches the stand-in Supervisor and
Mosquitto on 127.0.0.1, and the test reaches its HTTP port there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "addon"
INSTALL_DIR = "/usr/local/lib/garagecam-addon"
VENV = "/opt/garagecam"

_ENTER = r"""
set -e
lower=$1 upper=$2 work=$3 merged=$4
shift 4
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$merged"
while [ "$1" != -- ]; do
    mkdir -p "$merged$2"
    mount --bind "$1" "$merged$2"
    shift 2
done
shift
for file in /etc/resolv.conf /etc/ssl/certs/ca-certificates.crt /etc/pip.conf; do
    if [ -e "$file" ]; then
        mkdir -p "$(dirname "$merged$file")"; touch "$merged$file"
        mount --bind "$file" "$merged$file"; mount -o remount,bind,ro "$merged$file"
    fi
done
mount -t proc proc "$merged/proc"
exec chroot "$merged" "$@"
"""


def bookworm_tree() -> Path:
    """The cached tree's path, as setup.sh named it (the same shell function)."""
    cache = os.environ.get("GARAGECAM_CACHE", str(Path.home() / ".cache/garagecam"))
    done = subprocess.run(
        ["bash", "-c", "source scripts/lib/bookworm.sh && bookworm_root"],
        cwd=ROOT,
        env={**os.environ, "cache": cache},
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip())


@dataclass
class Tree:
    """An overlay of the bookworm tree with a life of its own (one test module's)."""

    lower: Path
    directory: Path
    binds: dict[str, Path] = field(default_factory=dict)  # inside path -> host path

    def __post_init__(self) -> None:
        for name in ("upper", "work", "merged"):
            (self.directory / name).mkdir(parents=True, exist_ok=True)

    @property
    def upper(self) -> Path:
        """What the commands wrote into the tree (the installed venv is under it)."""
        return self.directory / "upper"

    def copy_in(self, source: Path, inside: str) -> None:
        """Put a file or folder into the tree, as the Dockerfile's COPY does."""
        target = self.upper / inside.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, target)

    def argv(self, command: list[str], env: dict[str, str]) -> list[str]:
        mounts: list[str] = []
        for inside, host in self.binds.items():
            mounts += [str(host), inside]
        clean = ["/usr/bin/env", "-i", "HOME=/root", "LANG=C.UTF-8",
                 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]  # fmt: skip
        clean += [f"{key}={value}" for key, value in env.items()]
        return [
            "unshare", "-m", "--propagation", "private", "bash", "-c", _ENTER, "enter",
            str(self.lower), str(self.upper), str(self.directory / "work"),
            str(self.directory / "merged"), *mounts, "--", *clean, *command,
        ]  # fmt: skip

    def run(
        self, command: list[str], env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command, env or {}),
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        """A long-running command (the add-on); `unshare` and `chroot` exec it, so the
        process is the command itself and SIGTERM reaches it."""
        with log.open("ab") as out:
            return subprocess.Popen(self.argv(command, env), stdout=out, stderr=subprocess.STDOUT)
