"""Fetch the executorch wheel's C++ runtime (lib/ and include/) for building the binding.

Usage: python fetch_executorch.py VERSION DEST  ->  DEST/executorch/{lib,include}

`pip download --no-deps` of the manylinux_2_28 wheel for this machine's architecture, then
only the parts a build needs are unpacked. The libraries do not depend on Python, so the
cp311 wheel serves every interpreter (3.14 included, for which no executorch wheel exists).
"""

from __future__ import annotations

import platform
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WANTED = ("executorch/lib/", "executorch/include/")


def main() -> int:
    version, dest = sys.argv[1], Path(sys.argv[2])
    arch = platform.machine()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", f"executorch=={version}", "--no-deps",
             "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
             "--platform", f"manylinux_2_28_{arch}", "--dest", tmp],
            check=True,
        )  # fmt: skip
        (wheel,) = Path(tmp).glob("executorch-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if info.filename.startswith(WANTED):
                    archive.extract(info, dest)
                    if info.filename.endswith(".so"):
                        (dest / info.filename).chmod(0o755)
    print(f"executorch {version} ({arch}) unpacked into {dest / 'executorch'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
