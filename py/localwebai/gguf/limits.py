"""Bounds on every count, length and size the parser accepts, so a hostile header stays cheap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MAX_TENSOR_COUNT: Final = 1 << 16
"""Real models have hundreds to a few thousand tensors (a 61-layer MoE has ~1,100)."""
MAX_KV_COUNT: Final = 1 << 16
"""Real models have 20 to 60 metadata entries."""
MAX_KEY_LENGTH: Final = 1 << 16
"""Keys are dotted names such as ``llama.rope.freq_base``."""
MAX_STRING_LENGTH: Final = 1 << 24
"""16 MiB for one string; the longest real ones are chat templates of a few tens of KiB."""
MAX_ARRAY_LENGTH: Final = 1 << 24
"""16 Mi elements; the longest real arrays are vocabularies (262,144 tokens in Gemma 3)."""
MAX_ARRAY_DEPTH: Final = 8
"""Arrays of arrays nest at most this deep (real files use at most 2 levels)."""
MAX_HEADER_SIZE: Final = 1 << 26
"""64 MiB for the whole header; the largest real ones (big vocabularies) are about 16 MiB."""


@dataclass(frozen=True)
class Limits:
    """Bounds the parser enforces; the defaults are the module's ``MAX_*`` constants."""

    max_tensor_count: int = MAX_TENSOR_COUNT
    max_kv_count: int = MAX_KV_COUNT
    max_key_length: int = MAX_KEY_LENGTH
    max_string_length: int = MAX_STRING_LENGTH
    max_array_length: int = MAX_ARRAY_LENGTH
    max_array_depth: int = MAX_ARRAY_DEPTH
    max_header_size: int = MAX_HEADER_SIZE


DEFAULT_LIMITS: Final = Limits()
