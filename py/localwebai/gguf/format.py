"""What the GGUF format defines: its constants, metadata value types and ggml tensor types."""

from __future__ import annotations

from enum import IntEnum
from typing import Final

GGUF_MAGIC: Final = b"GGUF"
MIN_VERSION: Final = 2
"""Oldest GGUF version read (v1, from 2023, used 32-bit counts and is long obsolete)."""
MAX_VERSION: Final = 3
"""Newest GGUF version known (v3 added big-endian files; little-endian v2 and v3 are identical)."""
DEFAULT_ALIGNMENT: Final = 32
"""Tensor data alignment when ``general.alignment`` is absent."""
ALIGNMENT_KEY: Final = "general.alignment"
GGML_MAX_DIMS: Final = 4
"""ggml tensors have at most 4 dimensions."""
GGML_MAX_NAME: Final = 64
"""ggml's tensor name buffer, terminating NUL included: names are at most 63 bytes."""
FIXED_HEADER_SIZE: Final = 24
"""magic (4) + version (4) + tensor count (8) + metadata count (8)."""
INT64_MAX: Final = (1 << 63) - 1


class ValueType(IntEnum):
    """Type tag of a metadata value (``gguf_type`` in ggml)."""

    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


class GGMLType(IntEnum):
    """Tensor element type (``ggml_type``); ids of removed types are left out."""

    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q4_1 = 3
    Q5_0 = 6
    Q5_1 = 7
    Q8_0 = 8
    Q8_1 = 9
    Q2_K = 10
    Q3_K = 11
    Q4_K = 12
    Q5_K = 13
    Q6_K = 14
    Q8_K = 15
    IQ2_XXS = 16
    IQ2_XS = 17
    IQ3_XXS = 18
    IQ1_S = 19
    IQ4_NL = 20
    IQ3_S = 21
    IQ2_S = 22
    IQ4_XS = 23
    I8 = 24
    I16 = 25
    I32 = 26
    I64 = 27
    F64 = 28
    IQ1_M = 29
    BF16 = 30
    TQ1_0 = 34
    TQ2_0 = 35
    MXFP4 = 39
    NVFP4 = 40
    Q1_0 = 41


QK_K: Final = 256
"""Super-block size of the k-quants and i-quants."""

GGML_TYPE_SIZES: Final[dict[GGMLType, tuple[int, int]]] = {
    # type: (elements per block, bytes per block), as ggml's type traits
    GGMLType.F32: (1, 4),
    GGMLType.F16: (1, 2),
    GGMLType.Q4_0: (32, 2 + 16),
    GGMLType.Q4_1: (32, 2 + 2 + 16),
    GGMLType.Q5_0: (32, 2 + 4 + 16),
    GGMLType.Q5_1: (32, 2 + 2 + 4 + 16),
    GGMLType.Q8_0: (32, 2 + 32),
    GGMLType.Q8_1: (32, 4 + 4 + 32),
    GGMLType.Q2_K: (QK_K, 2 + 2 + QK_K // 16 + QK_K // 4),
    GGMLType.Q3_K: (QK_K, 2 + QK_K // 4 + QK_K // 8 + 12),
    GGMLType.Q4_K: (QK_K, 2 + 2 + QK_K // 2 + 12),
    GGMLType.Q5_K: (QK_K, 2 + 2 + QK_K // 2 + QK_K // 8 + 12),
    GGMLType.Q6_K: (QK_K, 2 + QK_K // 2 + QK_K // 4 + QK_K // 16),
    GGMLType.Q8_K: (QK_K, 4 + QK_K + QK_K // 8),
    GGMLType.IQ2_XXS: (QK_K, 2 + QK_K // 4),
    GGMLType.IQ2_XS: (QK_K, 2 + QK_K // 4 + QK_K // 32),
    GGMLType.IQ3_XXS: (QK_K, 2 + QK_K // 4 + QK_K // 8),
    GGMLType.IQ1_S: (QK_K, 2 + QK_K // 8 + QK_K // 16),
    GGMLType.IQ4_NL: (32, 2 + 16),
    GGMLType.IQ3_S: (QK_K, 2 + QK_K // 4 + QK_K // 8 + QK_K // 32 + 4),
    GGMLType.IQ2_S: (QK_K, 2 + QK_K // 4 + QK_K // 16),
    GGMLType.IQ4_XS: (QK_K, 2 + 2 + QK_K // 2 + QK_K // 64),
    GGMLType.I8: (1, 1),
    GGMLType.I16: (1, 2),
    GGMLType.I32: (1, 4),
    GGMLType.I64: (1, 8),
    GGMLType.F64: (1, 8),
    GGMLType.IQ1_M: (QK_K, QK_K // 8 + QK_K // 16 + QK_K // 32),
    GGMLType.BF16: (1, 2),
    GGMLType.TQ1_0: (QK_K, 2 + 4 * 13),
    GGMLType.TQ2_0: (QK_K, 2 + 64),
    GGMLType.MXFP4: (32, 1 + 16),
    GGMLType.NVFP4: (64, 4 + 32),
    GGMLType.Q1_0: (128, 2 + 16),
}
_GGML_TYPES: Final[dict[int, GGMLType]] = {int(t): t for t in GGMLType}


def ggml_type_name(type_id: int) -> str:
    """Name of a ggml type id (``"Q4_K"``), or ``"type 99"`` for an unknown one."""
    t = _GGML_TYPES.get(type_id)
    return t.name if t is not None else f"type {type_id}"


def tensor_nbytes(ggml_type: GGMLType, shape: tuple[int, ...]) -> int:
    """Bytes of a tensor's data: whole blocks along the first dimension, times the other dims."""
    block_size, type_size = GGML_TYPE_SIZES[ggml_type]
    n = 1
    for d in shape:
        n *= d
    return n // block_size * type_size


def align_up(offset: int, alignment: int) -> int:
    """``offset`` rounded up to a multiple of ``alignment``."""
    return (offset + alignment - 1) // alignment * alignment
