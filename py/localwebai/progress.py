"""Load progress: the stages a model goes through, with bytes, rate and time left."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

RATE_WINDOW_S = 3.0
"""The rate is averaged over this many recent seconds, so it follows changes but does not jitter."""


class LoadStage(StrEnum):
    CHECKING_CACHE = "checking cache"
    READING_HEADER = "reading header"
    DOWNLOADING = "downloading"
    WAITING_FOR_NETWORK = "waiting for the network (retrying)"
    IMPORTING = "importing"
    VERIFYING = "verifying"
    INITIALIZING = "initializing"
    READY = "ready"


@dataclass(frozen=True)
class LoadProgress:
    """One progress report: ``done`` of ``total`` bytes (``total`` None when unknown)."""

    stage: LoadStage
    done: int = 0
    total: int | None = None
    bytes_per_second: float | None = None
    note: str | None = None
    """Something the user should know that does not stop the load (e.g. a chunk re-fetched)."""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    @property
    def eta_seconds(self) -> float | None:
        if not self.total or not self.bytes_per_second:
            return None
        return max(0.0, (self.total - self.done) / self.bytes_per_second)


DOWNLOAD_STAGES = frozenset(
    {LoadStage.DOWNLOADING, LoadStage.WAITING_FOR_NETWORK, LoadStage.IMPORTING}
)
HEADER_END, BYTES_END, VERIFY_END = 0.02, 0.9, 0.97
"""Where each part of a load ends on the one bar: the header, the bytes (download or import),
the checks; starting the engine takes the rest."""


class OverallProgress:
    """One bar across all of a load's stages, from 0 to 1, never going back.

    The bytes (downloading, retrying, importing) take most of it; verifying a cached model,
    when nothing was downloaded, takes the bytes' share instead.
    """

    def __init__(self) -> None:
        self.value = 0.0
        self._moved_bytes = False

    def update(self, progress: LoadProgress) -> float | None:
        """The bar's value after ``progress``; None while a download's size is unknown."""
        stage, fraction = progress.stage, progress.fraction
        if stage in DOWNLOAD_STAGES:
            self._moved_bytes = True
            if fraction is None:
                return None
            span = (HEADER_END, BYTES_END)
        elif stage is LoadStage.VERIFYING:
            span = (BYTES_END if self._moved_bytes else HEADER_END, VERIFY_END)
        elif stage is LoadStage.INITIALIZING:
            span = (VERIFY_END, 1.0)
        elif stage is LoadStage.READY:
            span = (1.0, 1.0)
        else:  # checking the cache, reading the header
            span = (0.0, HEADER_END)
        start, end = span
        self.value = max(self.value, start + (end - start) * (fraction or 0.0))
        return self.value


OnProgress = Callable[[LoadProgress], None]
"""Called with each progress report of a load."""


class RateMeter:
    """Bytes per second over a sliding window of (time, bytes done) samples."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: list[tuple[float, int]] = []

    def add(self, now_s: float, done: int) -> float | None:
        """Record ``done`` bytes at ``now_s``; the current rate, or None until two samples."""
        self._samples.append((now_s, done))
        while len(self._samples) > 2 and now_s - self._samples[1][0] >= self.window_s:
            self._samples.pop(0)
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 <= t0:
            return None
        return (d1 - d0) / (t1 - t0)
