"""The attack tests' shared figures: what each run checked, printed at the end of the session.

A test adds to FIGURES (a name and a number); `pytest tests/attack` prints them after the summary, for
docs/RELIABILITY.md.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

FIGURES: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("attack figures")
    for name, value in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name}: {value}")
