"""Where a model comes from: a URL, a local File (a JS Blob the user picked), or the cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelSource:
    """Exactly one of ``url``, ``file`` or ``cached_id`` is set; ``label`` is what the UI shows."""

    label: str
    url: str | None = None
    file: Any = None
    cached_id: str | None = None
    sha256: str | None = None
    """The whole file's expected sha256, when the user gave one: checked once after download."""

    def __post_init__(self) -> None:
        given = [self.url is not None, self.file is not None, self.cached_id is not None]
        if sum(given) != 1:
            raise ValueError("a model source is exactly one of: url, file, cached_id")

    @classmethod
    def from_url(cls, url: str, sha256: str | None = None) -> ModelSource:
        return cls(label=url, url=url, sha256=sha256)

    @classmethod
    def from_file(cls, file: Any, name: str) -> ModelSource:
        return cls(label=name, file=file)

    @classmethod
    def from_cache(cls, model_id: str, label: str) -> ModelSource:
        return cls(label=label, cached_id=model_id)
