"""The fuzz suite's session summary: printed at the end and written as JSON (see tally.py)."""

from __future__ import annotations

from typing import Any

from tests.core.fuzz import tally


def pytest_terminal_summary(terminalreporter: Any) -> None:
    data = tally.summary()
    if not data["total_cases"]:
        return
    terminalreporter.section("GarageCam fuzz summary")
    terminalreporter.write_line(
        f"bad inputs tried: {data['bad_inputs_tried']}, accepted as good: "
        f"{data['accepted_as_good']}, tracebacks: {data['tracebacks']}, mutations tolerated "
        f"without error: {data['mutations_tolerated']} ({tally.SUMMARY_PATH})"
    )
    for name, counts in data["categories"].items():
        terminalreporter.write_line(f"  {name}: {counts}")
    for failure in data["failures"]:
        terminalreporter.write_line(f"  case {failure}")
