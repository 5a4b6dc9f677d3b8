"""The demo is loaded by `bids` (its command), but later apps add steps to it: a port, so that apps keep
depending one way. An app registers its step in `AppConfig.ready`; the steps run in registration order."""

from __future__ import annotations

from collections.abc import Callable

DemoStep = Callable[[], dict[str, int]]
_steps: list[DemoStep] = []


def register(step: DemoStep) -> None:
    if step not in _steps:
        _steps.append(step)


def run_registered_steps() -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in _steps:
        counts.update(step())
    return counts
