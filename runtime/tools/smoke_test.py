"""Smoke test of an installed garagecam-runtime wheel (cibuildwheel's test step).

Usage: python smoke_test.py [PROGRAM.pte]  (e.g. garagecam_core/models/demo.pte)
"""

from __future__ import annotations

import sys

import garagecam_runtime as gr
import numpy as np


def main() -> int:
    gr.set_thread_count(1)
    try:
        gr.Program.from_bytes(b"x" * 64)
    except gr.InvalidProgramError as err:
        print(f"garbage refused: {err}")
    else:
        raise SystemExit("garbage bytes were accepted as a program")
    if len(sys.argv) > 1:
        program = gr.Program.load(sys.argv[1])
        (spec,) = program.input_specs()
        assert spec is not None
        output = program.run(np.zeros(spec.sizes, np.float32))
        assert np.isfinite(output).all(), output
        print(f"{sys.argv[1]}: {output}")
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "executorch"))
    assert not heavy, heavy
    print(f"garagecam_runtime OK (executorch {gr.EXECUTORCH_VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
