"""How Python started in the page.

Pyodide's own start (about 1.5 s of a first visit on the development box) is replaced by a
memory snapshot of a fresh Pyodide that ships with the site (about 0.3 s to fetch, unpack and
restore; ``tooling/boot_snapshot.py``). ``web/js/pyodide-boot.js`` restores it and records how
the start went; a snapshot that is missing or does not restore means a normal, slower start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SNAPSHOT = "snapshot"
NORMAL = "normal"


@dataclass(frozen=True)
class BootRecord:
    """Pyodide's start in this page, as ``pyodide-boot.js`` recorded it."""

    source: str
    """``"snapshot"`` (restored from the shipped snapshot) or ``"normal"``."""
    snapshot_error: str | None = None
    """Why the snapshot was not used (not found, or did not restore), if it was not."""

    @classmethod
    def from_js(cls, record: dict[str, Any]) -> BootRecord:
        source = record.get("source")
        return cls(
            source=SNAPSHOT if source == SNAPSHOT else NORMAL,
            snapshot_error=record.get("snapshotError"),
        )

    def ready_message(self, seconds: float) -> str:
        start = "from its snapshot" if self.source == SNAPSHOT else "full start"
        return f"Python ready in {seconds:.1f} s ({start}). Pick a model to load."
