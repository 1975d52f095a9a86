"""How Python started in the page, and whether to save a quicker start for the next visit.

Pyodide's own start (about 1.9 s of the page's 3 s on the development box) can be replaced by a
memory snapshot of a fresh Pyodide (about 0.3 s). ``web/js/pyodide-boot.js`` restores one where
this browser has saved it; after a normal start the app saves one (``browser/boot.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SNAPSHOT = "snapshot"
NORMAL = "normal"
IDLE_STATES = frozenset({"ready", "model-ready", "inspected"})
"""Page states in which nothing runs (no download, load, reply or benchmark)."""
SNAPSHOT_AFTER_IDLE_S = 2.0
"""The snapshot (about a core-second and 100 MB while it is made) waits for the page to be idle
this long, so it never competes with a model's first download and load."""


@dataclass(frozen=True)
class BootRecord:
    """Pyodide's start in this page, as ``pyodide-boot.js`` recorded it."""

    source: str
    """``"snapshot"`` (restored from this browser's saved start) or ``"normal"``."""
    snapshot_error: str | None = None
    """Why a saved start did not restore (it was then deleted), if one failed."""

    @classmethod
    def from_js(cls, record: dict[str, Any]) -> BootRecord:
        source = record.get("source")
        return cls(
            source=SNAPSHOT if source == SNAPSHOT else NORMAL,
            snapshot_error=record.get("snapshotError"),
        )

    @property
    def should_save_snapshot(self) -> bool:
        """A normal start leaves a snapshot behind, so the next visit starts from it."""
        return self.source != SNAPSHOT

    def ready_message(self, seconds: float) -> str:
        start = "from its saved start" if self.source == SNAPSHOT else "first start"
        return f"Python ready in {seconds:.1f} s ({start}). Pick a model to load."


@dataclass
class IdleWait:
    """Whether the page has been idle for ``SNAPSHOT_AFTER_IDLE_S``, from its states polled."""

    idle_since: float | None = None

    def long_enough(self, state: str, now_s: float) -> bool:
        if state not in IDLE_STATES:
            self.idle_since = None
            return False
        if self.idle_since is None:
            self.idle_since = now_s
        return now_s - self.idle_since >= SNAPSHOT_AFTER_IDLE_S
