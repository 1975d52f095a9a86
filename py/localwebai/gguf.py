"""Bounded, incremental GGUF header parser in pure Python (``struct`` only, no numpy).

A GGUF file starts with a header: the magic ``GGUF``, a version, the tensor and metadata
counts, the metadata key/value pairs, and one info record per tensor; the tensor data follows at
the next multiple of the alignment. This module reads that header from the first bytes of a
file, so a browser can learn what a model is (architecture, size, quantization, context
length...) from a few HTTP Range requests before downloading gigabytes.

Entry point: :func:`parse_header`. Give it the bytes you have from the start of the file; it
returns a :class:`GGUFHeader` or a :class:`NeedMoreBytes` telling how many bytes (in total, from
the start of the file) it needs at least. The contract, for bytes that are a prefix of a valid
GGUF file whose header (magic through last tensor info) is ``H`` bytes long:

* ``NeedMoreBytes.needed > len(data)`` always, so a caller that fetches ``needed`` bytes
  always makes progress, and ``needed <= H``, so it never asks past the header;
* ``needed`` never decreases as ``data`` grows (it is the exact end of the item being read plus
  the minimum size of everything that must still follow), and calling again with at least
  ``needed`` bytes either returns the header or a strictly larger ``needed``;
* passing ``NeedMoreBytes.resume`` back (``parse_header(longer, resume=...)``) continues after the
  last complete metadata entry / tensor info instead of starting over;
* with ``file_size`` given (the file's real size, e.g. from ``Content-Range``), a header that
  cannot fit raises :class:`TruncatedError` instead; pass ``file_size=len(data)`` to say that
  ``data`` is the whole file.

``needed`` is a lower bound: inside a 150k-string vocabulary it counts 8 bytes per string still
to come, so fetching exactly ``needed`` each time takes 20 to 70 rounds for a big vocabulary.
Over a network, fetch ``max(needed, 2 * len(data))`` instead (as :func:`read_header` does):
a few rounds from a 1 MiB first read.

Every problem with the bytes raises a subclass of :class:`localwebai.errors.GGUFError` with a
message for the user; limits (:class:`Limits`) bound every count and length, and nothing is
allocated for a length before the bytes behind it are present. Big arrays (a 150k-token vocab)
are kept as :class:`GGUFArray`, which holds the encoded bytes and decodes on demand.
"""

from __future__ import annotations

import codecs
import struct
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Final, overload

from localwebai.errors import GGUFError

# --- format constants ---------------------------------------------------------------------------

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

# --- limits -------------------------------------------------------------------------------------

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

# --- value and tensor types ---------------------------------------------------------------------


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


_SCALAR_FORMATS: Final[dict[ValueType, str]] = {
    ValueType.UINT8: "B",
    ValueType.INT8: "b",
    ValueType.UINT16: "H",
    ValueType.INT16: "h",
    ValueType.UINT32: "I",
    ValueType.INT32: "i",
    ValueType.FLOAT32: "f",
    ValueType.BOOL: "?",
    ValueType.UINT64: "Q",
    ValueType.INT64: "q",
    ValueType.FLOAT64: "d",
}
_SCALAR_STRUCTS: Final[dict[ValueType, struct.Struct]] = {
    vt: struct.Struct("<" + fmt) for vt, fmt in _SCALAR_FORMATS.items()
}
_SCALAR_SIZES: Final[dict[ValueType, int]] = {vt: s.size for vt, s in _SCALAR_STRUCTS.items()}
_VALUE_TYPES: Final[dict[int, ValueType]] = {int(vt): vt for vt in ValueType}

_MIN_STRING_SIZE: Final = 8  # the length prefix
_MIN_ARRAY_SIZE: Final = 12  # element type + count
_MIN_VALUE_SIZE: Final = 1  # uint8 / int8 / bool
_MIN_KV_SIZE: Final = _MIN_STRING_SIZE + 4 + _MIN_VALUE_SIZE  # key, type, smallest value
_MIN_TENSOR_INFO_SIZE: Final = _MIN_STRING_SIZE + 4 + 4 + 8  # name, n_dims, type, offset


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


# --- errors -------------------------------------------------------------------------------------


class GGUFFormatError(GGUFError):
    """A GGUF header problem, with the file offset where it was found (when known)."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class BadMagicError(GGUFFormatError):
    """The file does not start with ``GGUF``."""


class UnsupportedVersionError(GGUFFormatError):
    """The GGUF version is outside ``MIN_VERSION..MAX_VERSION``."""


class BigEndianError(GGUFFormatError):
    """The file is a big-endian GGUF; only little-endian files can run in the browser."""


class TruncatedError(GGUFFormatError):
    """The file ends before its header (or its tensor data) does."""


class LimitExceededError(GGUFFormatError):
    """A count, length or size is beyond the parser's :class:`Limits`."""


class MalformedError(GGUFFormatError):
    """The header's structure is invalid."""


class UnknownValueTypeError(MalformedError):
    """A metadata value has a type tag that GGUF does not define."""


class UnknownTensorTypeError(MalformedError):
    """A tensor has a ggml type id that is unknown (or was removed from ggml)."""


class InvalidStringError(MalformedError):
    """A string is not valid UTF-8."""


class DuplicateKeyError(MalformedError):
    """Two metadata entries have the same key."""


class DuplicateTensorError(MalformedError):
    """Two tensors have the same name."""


class AlignmentError(MalformedError):
    """``general.alignment`` is invalid, or a tensor offset is not a multiple of it."""


class TensorLayoutError(MalformedError):
    """A tensor's shape or placement is invalid (bad dimensions, overlapping/unordered data)."""


# --- records ------------------------------------------------------------------------------------

_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_HIGH_BITS: Final = 0x8080808080808080


class GGUFArray:
    """A metadata array kept in its encoded form; elements are decoded on demand.

    Supports ``len()``, indexing (``int`` and ``slice``), iteration and :meth:`to_list`. Elements
    of an array of arrays are :class:`GGUFArray` themselves (``to_list`` converts them too).
    Arrays compare equal when element type, count and encoded bytes are equal.
    """

    __slots__ = ("_offsets", "_raw", "count", "element_type", "offset")

    def __init__(self, element_type: ValueType, count: int, offset: int, raw: bytes) -> None:
        self.element_type = element_type
        self.count = count
        self.offset = offset
        """File offset of the first element."""
        self._raw = raw
        self._offsets: array[int] | None = None

    @property
    def nbytes(self) -> int:
        """Encoded size of the elements."""
        return len(self._raw)

    def __len__(self) -> int:
        return self.count

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GGUFArray):
            return NotImplemented
        return (
            self.element_type == other.element_type
            and self.count == other.count
            and self._raw == other._raw
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(repr(v) for v in self.head(3))
        more = ", ..." if self.count > 3 else ""
        return f"GGUFArray({self.element_type.name}, {self.count} items: [{shown}{more}])"

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.count)
            if step == 1:
                return self._decode_range(start, max(start, stop))
            return [self[i] for i in range(start, stop, step)]
        i = index.__index__()
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError("GGUFArray index out of range")
        return self._decode_range(i, i + 1)[0]

    def __iter__(self) -> Iterator[Any]:
        fmt = _SCALAR_FORMATS.get(self.element_type)
        if fmt is not None:
            yield from self._decode_range(0, self.count)
            return
        pos = 0
        for _ in range(self.count):
            value, pos = self._element_at(pos)
            yield value

    def head(self, n: int = 5) -> list[Any]:
        """The first ``n`` elements (for display)."""
        return self[: max(0, n)]

    def to_list(self) -> list[Any]:
        """All elements as a Python list; nested arrays become nested lists."""
        if self.element_type is ValueType.ARRAY:
            return [element.to_list() for element in self]
        return list(self)

    def _decode_range(self, start: int, stop: int) -> list[Any]:
        fmt = _SCALAR_FORMATS.get(self.element_type)
        if fmt is not None:
            size = _SCALAR_SIZES[self.element_type]
            return list(struct.unpack_from(f"<{stop - start}{fmt}", self._raw, start * size))
        pos = 0 if start == 0 else self._element_offsets()[start]
        out = []
        for _ in range(stop - start):
            value, pos = self._element_at(pos)
            out.append(value)
        return out

    def _element_offsets(self) -> array[int]:
        if self._offsets is None:
            offsets = array("Q")
            pos = 0
            for _ in range(self.count):
                offsets.append(pos)
                pos = self._element_end(pos)
            self._offsets = offsets
        return self._offsets

    def _element_end(self, pos: int) -> int:
        if self.element_type is ValueType.STRING:
            return pos + 8 + _U64.unpack_from(self._raw, pos)[0]
        # Nested array: validated when parsed, so skipping it cannot fail.
        parser = _Parser(memoryview(self._raw), DEFAULT_LIMITS, lenient_limits=True)
        return parser.skip_array(pos, self.offset)

    def _element_at(self, pos: int) -> tuple[Any, int]:
        raw = self._raw
        if self.element_type is ValueType.STRING:
            (n,) = _U64.unpack_from(raw, pos)
            start = pos + 8
            end = start + n
            try:
                return str(raw[start:end], "utf-8"), end
            except UnicodeDecodeError:  # pragma: no cover - validated when parsed
                raise InvalidStringError(
                    "A string in the model's metadata is not valid UTF-8.",
                    offset=self.offset + pos,
                ) from None
        parser = _Parser(memoryview(raw), DEFAULT_LIMITS, lenient_limits=True)
        value, end = parser.read_array(pos, depth=1, base=self.offset)
        return value, end


@dataclass(frozen=True)
class MetadataField:
    """One metadata key/value pair; arrays are :class:`GGUFArray`."""

    key: str
    type: ValueType
    value: bool | int | float | str | GGUFArray
    offset: int
    """File offset where this entry (its key) starts."""

    def to_python(self) -> Any:
        """The value with arrays converted to (nested) lists."""
        return self.value.to_list() if isinstance(self.value, GGUFArray) else self.value


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's header record."""

    name: str
    shape: tuple[int, ...]
    """Dimensions in ggml order: ``shape[0]`` (``ne[0]``) varies fastest."""
    ggml_type: GGMLType
    offset: int
    """Offset of the data relative to :attr:`GGUFHeader.data_offset`."""
    n_elements: int
    n_bytes: int
    info_offset: int
    """File offset where this tensor info record starts."""

    @property
    def type_name(self) -> str:
        """The ggml type's name, e.g. ``"Q4_K"``."""
        return self.ggml_type.name

    @property
    def n_dims(self) -> int:
        """Number of dimensions."""
        return len(self.shape)


@dataclass(frozen=True)
class GGUFHeader:
    """A parsed GGUF header."""

    version: int
    tensor_count: int
    kv_count: int
    metadata: dict[str, MetadataField]
    """Entries in file order, by key."""
    tensors: tuple[TensorInfo, ...]
    alignment: int
    header_size: int
    """Bytes from the start of the file through the last tensor info (what parsing needs)."""
    data_offset: int
    """File offset where tensor data starts (``header_size`` rounded up to the alignment)."""
    tensor_data_size: int
    """Bytes of tensor data: end of the last tensor's data, relative to ``data_offset``."""

    def __contains__(self, key: object) -> bool:
        return key in self.metadata

    def get(self, key: str, default: Any = None) -> Any:
        """The value of metadata ``key`` (a :class:`GGUFArray` for arrays), or ``default``."""
        entry = self.metadata.get(key)
        return default if entry is None else entry.value

    def tensor(self, name: str) -> TensorInfo | None:
        """The tensor called ``name``, if any."""
        for t in self.tensors:
            if t.name == name:
                return t
        return None

    @property
    def architecture(self) -> str | None:
        """``general.architecture`` when it is a string."""
        value = self.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def expected_file_size(self) -> int:
        """Smallest size a complete file with this header has."""
        if not self.tensors:
            return self.header_size
        return self.data_offset + self.tensor_data_size


@dataclass(frozen=True)
class ParseProgress:
    """Opaque state to resume parsing after the last complete item (see :func:`parse_header`)."""

    position: int
    fingerprint: bytes
    limits: Limits
    version: int
    tensor_count: int
    kv_count: int
    fields: tuple[MetadataField, ...]
    tensors: tuple[TensorInfo, ...]
    alignment: int | None
    data_end: int


@dataclass(frozen=True)
class NeedMoreBytes:
    """The header goes past the bytes given: fetch at least ``needed`` bytes from the start.

    ``needed`` is a total size from the start of the file, ``> have``, and never more than the
    header's size for a valid file; ``what`` names the item being read. Pass ``resume`` back to
    :func:`parse_header` with the longer data to skip the work already done.
    """

    needed: int
    have: int
    what: str
    resume: ParseProgress | None = field(default=None, repr=False, compare=False)


# --- parser -------------------------------------------------------------------------------------


class _Short(Exception):
    """The bytes end before an item does; ``needed`` is a lower bound of the total size."""

    def __init__(self, needed: int, what: str) -> None:
        super().__init__(needed)
        self.needed = needed
        self.what = what


_UTF8_CHUNK: Final = 1 << 16


def _decode_utf8(view: memoryview) -> None:
    """Raise UnicodeDecodeError unless ``view`` is UTF-8; temporary memory stays O(64 KiB)."""
    if len(view) <= _UTF8_CHUNK:
        codecs.utf_8_decode(view, "strict", True)
        return
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    for i in range(0, len(view), _UTF8_CHUNK):
        decoder.decode(bytes(view[i : i + _UTF8_CHUNK]), False)
    decoder.decode(b"", True)


class _Parser:
    """Cursor-free reader over a buffer; every method takes and returns positions."""

    def __init__(self, buf: memoryview, limits: Limits, *, lenient_limits: bool = False) -> None:
        self.buf = buf
        self.end = len(buf)
        self.limits = limits
        self.lenient = lenient_limits  # re-decoding already validated bytes

    # scalars -----------------------------------------------------------------------------------

    def u32(self, pos: int, what: str) -> int:
        if pos + 4 > self.end:
            raise _Short(pos + 4, what)
        return _U32.unpack_from(self.buf, pos)[0]

    def u64(self, pos: int, what: str) -> int:
        if pos + 8 > self.end:
            raise _Short(pos + 8, what)
        return _U64.unpack_from(self.buf, pos)[0]

    def string(self, pos: int, what: str, max_length: int, base: int = 0) -> tuple[str, int]:
        n = self.u64(pos, what)
        if n > max_length and not self.lenient:
            raise LimitExceededError(
                f"The model file is corrupt or not supported: {what} claims a length of "
                f"{n:,} bytes (the limit is {max_length:,}).",
                offset=base + pos,
            )
        start = pos + 8
        end = start + n
        if end > self.end:
            raise _Short(end, what)
        try:
            return str(self.buf[start:end], "utf-8"), end
        except UnicodeDecodeError:
            raise InvalidStringError(
                f"The model file is corrupt: {what} is not valid UTF-8 text.", offset=base + start
            ) from None

    def value_type(self, pos: int, what: str, base: int = 0) -> ValueType:
        raw = self.u32(pos, what)
        vtype = _VALUE_TYPES.get(raw)
        if vtype is None:
            raise UnknownValueTypeError(
                f"The model file is corrupt or too new: {what} has an unknown value type ({raw}).",
                offset=base + pos,
            )
        return vtype

    # values ------------------------------------------------------------------------------------

    def value(self, pos: int, vtype: ValueType, what: str, base: int = 0) -> tuple[Any, int]:
        st = _SCALAR_STRUCTS.get(vtype)
        if st is not None:
            end = pos + st.size
            if end > self.end:
                raise _Short(end, what)
            return st.unpack_from(self.buf, pos)[0], end
        if vtype is ValueType.STRING:
            return self.string(pos, what, self.limits.max_string_length, base)
        return self.read_array(pos, depth=1, base=base, what=what)

    def read_array(
        self, pos: int, depth: int, base: int = 0, what: str = "an array"
    ) -> tuple[GGUFArray, int]:
        """Read an array value (element type, count, elements) that starts at ``pos``."""
        start, etype, count = self._array_head(pos, depth, base, what)
        end = self._array_elements(start, etype, count, depth, base, what)
        return GGUFArray(etype, count, base + start, bytes(self.buf[start:end])), end

    def skip_array(self, pos: int, base: int = 0) -> int:
        """End position of the array value starting at ``pos`` (already validated bytes)."""
        start, etype, count = self._array_head(pos, 1, base, "an array")
        return self._array_elements(start, etype, count, 1, base, "an array")

    def _array_head(self, pos: int, depth: int, base: int, what: str) -> tuple[int, ValueType, int]:
        limits = self.limits
        if depth > limits.max_array_depth and not self.lenient:
            raise LimitExceededError(
                f"The model file is corrupt or not supported: {what} nests arrays more than "
                f"{limits.max_array_depth} levels deep.",
                offset=base + pos,
            )
        if pos + 4 > self.end:
            raise _Short(pos + _MIN_ARRAY_SIZE, what)
        etype = self.value_type(pos, what, base)
        count = self.u64(pos + 4, what)
        if count > limits.max_array_length and not self.lenient:
            raise LimitExceededError(
                f"The model file is corrupt or not supported: {what} claims {count:,} elements "
                f"(the limit is {limits.max_array_length:,}).",
                offset=base + pos + 4,
            )
        return pos + 12, etype, count

    def _array_elements(
        self, start: int, etype: ValueType, count: int, depth: int, base: int, what: str
    ) -> int:
        size = _SCALAR_SIZES.get(etype)
        if size is not None:
            end = start + count * size
            if end > self.end:
                raise _Short(end, what)
            return end
        if etype is ValueType.STRING:
            return self._string_elements(start, count, base, what)
        pos = start
        for i in range(count):
            try:
                start_i, inner_type, inner_count = self._array_head(pos, depth + 1, base, what)
                pos = self._array_elements(start_i, inner_type, inner_count, depth + 1, base, what)
            except _Short as short:
                short.needed += (count - i - 1) * _MIN_ARRAY_SIZE
                raise
        return pos

    def _string_elements(self, start: int, count: int, base: int, what: str) -> int:
        buf = self.buf
        end = self.end
        unpack = _U64.unpack_from
        lenient = self.lenient
        max_length = self.limits.max_string_length
        # Elements whose length prefix has a non-ASCII byte (length >= 128, rare): see _check_utf8.
        odd_prefixes = array("Q")
        pos = start
        for i in range(count):
            if pos + 8 > end:
                raise _Short(pos + 8 + (count - i - 1) * _MIN_STRING_SIZE, what)
            (n,) = unpack(buf, pos)
            if n > max_length and not lenient:
                raise LimitExceededError(
                    f"The model file is corrupt or not supported: element {i} of {what} claims "
                    f"a length of {n:,} bytes (the limit is {max_length:,}).",
                    offset=base + pos,
                )
            if n & _HIGH_BITS:
                odd_prefixes.append(pos)
            pos += 8 + n
            if pos > end:
                raise _Short(pos + (count - i - 1) * _MIN_STRING_SIZE, what)
        if not lenient:
            self._check_utf8(start, pos, odd_prefixes, base, what)
        return pos

    def _check_utf8(
        self, start: int, stop: int, odd_prefixes: array[int], base: int, what: str
    ) -> None:
        """Check that every string of a string array's elements in ``start:stop`` is UTF-8.

        A run of elements whose length prefixes are all ASCII bytes is valid UTF-8 as a whole
        exactly when each of its strings is (an ASCII byte can neither continue nor start a
        multi-byte sequence), so each run is checked with one C-speed decode; the rare strings
        with a non-ASCII length byte are checked one by one. On failure, find the culprit.
        """
        buf = self.buf
        pos = start
        try:
            for prefix in odd_prefixes:
                _decode_utf8(buf[pos:prefix])
                (n,) = _U64.unpack_from(buf, prefix)
                pos = prefix + 8 + n
                _decode_utf8(buf[prefix + 8 : pos])
            _decode_utf8(buf[pos:stop])
            return
        except UnicodeDecodeError:
            pass
        pos = start
        i = 0
        while pos < stop:
            (n,) = _U64.unpack_from(buf, pos)
            pos += 8
            try:
                _decode_utf8(buf[pos : pos + n])
            except UnicodeDecodeError:
                raise InvalidStringError(
                    f"The model file is corrupt: element {i} of {what} is not valid UTF-8 text.",
                    offset=base + pos,
                ) from None
            pos += n
            i += 1
        raise InvalidStringError(  # pragma: no cover - a failing run has a failing string
            f"The model file is corrupt: {what} holds text that is not valid UTF-8.",
            offset=base + start,
        )

    # tensor infos ------------------------------------------------------------------------------

    def tensor_info(self, pos: int, what: str) -> tuple[TensorInfo, int]:
        info_offset = pos
        try:
            name, pos = self.string(pos, what, GGML_MAX_NAME - 1)
        except _Short as short:
            short.needed += 4 + 4 + 8  # n_dims, type, offset
            raise
        what = f"tensor '{name}'"
        if pos + 4 > self.end:
            raise _Short(pos + 4 + 4 + 8, what)
        n_dims = self.u32(pos, what)
        if n_dims > GGML_MAX_DIMS:
            raise TensorLayoutError(
                f"The model file is corrupt: {what} has {n_dims} dimensions "
                f"(ggml supports at most {GGML_MAX_DIMS}).",
                offset=pos,
            )
        pos += 4
        dims_end = pos + 8 * n_dims
        if dims_end > self.end:
            raise _Short(dims_end + 4 + 8, what)
        shape = struct.unpack_from(f"<{n_dims}Q", self.buf, pos)
        pos = dims_end
        n_elements = 1
        for d in shape:
            n_elements *= d
        if any(d > INT64_MAX for d in shape) or n_elements > INT64_MAX:
            raise TensorLayoutError(
                f"The model file is corrupt: {what} has an impossible shape {list(shape)}.",
                offset=info_offset,
            )
        if pos + 4 > self.end:
            raise _Short(pos + 4 + 8, what)
        raw_type = self.u32(pos, what)
        ggml_type = _GGML_TYPES.get(raw_type)
        if ggml_type is None:
            raise UnknownTensorTypeError(
                f"The model uses a tensor type this app does not know ({raw_type}, in {what}): "
                f"it is corrupt, or made for a newer or older llama.cpp.",
                offset=pos,
            )
        pos += 4
        offset = self.u64(pos, what)
        pos += 8
        block_size, _ = GGML_TYPE_SIZES[ggml_type]
        if shape and shape[0] % block_size:
            raise TensorLayoutError(
                f"The model file is corrupt: {what} of type {ggml_type.name} has a first "
                f"dimension of {shape[0]}, not a multiple of the block size {block_size}.",
                offset=info_offset,
            )
        info = TensorInfo(
            name=name,
            shape=tuple(shape),
            ggml_type=ggml_type,
            offset=offset,
            n_elements=n_elements,
            n_bytes=tensor_nbytes(ggml_type, shape),
            info_offset=info_offset,
        )
        return info, pos


def _describe_bad_magic(start: bytes) -> str:
    head = start[:4]
    lowered = start.lstrip()[:64].lower()
    if start.startswith(b"version https://git-lfs"):
        hint = "it is a Git LFS pointer, not the model itself (use the download/resolve URL)"
    elif lowered.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        hint = "it looks like a web page, not a model file (check the URL)"
    elif lowered.startswith((b"{", b"[")):
        hint = "it looks like JSON, not a model file (check the URL)"
    elif head.startswith(b"PK"):
        hint = "it is a ZIP archive; extract the .gguf file from it first"
    elif head in (b"lmgg", b"tjgg", b"fmgg", b"algg"):
        hint = "it is an old GGML/GGJT model; convert it to GGUF with a current llama.cpp"
    elif head.startswith(b"\x1f\x8b"):
        hint = "it is gzip-compressed; decompress it first"
    else:
        hint = "it is not a GGUF model"
    return f"This file does not start with 'GGUF' (it starts with {head!r}): {hint}."


class _Run:
    """One call of :func:`parse_header`: state that a :class:`ParseProgress` captures."""

    def __init__(self, buf: memoryview, limits: Limits) -> None:
        self.p = _Parser(buf, limits)
        self.limits = limits
        self.pos = 0
        self.version = 0
        self.tensor_count = 0
        self.kv_count = 0
        self.fields: dict[str, MetadataField] = {}
        self.tensors: list[TensorInfo] = []
        self.tensor_names: set[str] = set()
        self.alignment: int | None = None
        self.data_end = 0

    def restore(self, progress: ParseProgress) -> None:
        self.pos = progress.position
        self.version = progress.version
        self.tensor_count = progress.tensor_count
        self.kv_count = progress.kv_count
        self.fields = {f.key: f for f in progress.fields}
        self.tensors = list(progress.tensors)
        self.tensor_names = {t.name for t in progress.tensors}
        self.alignment = progress.alignment
        self.data_end = progress.data_end

    def progress(self) -> ParseProgress:
        return ParseProgress(
            position=self.pos,
            fingerprint=_fingerprint(self.p.buf, self.pos),
            limits=self.limits,
            version=self.version,
            tensor_count=self.tensor_count,
            kv_count=self.kv_count,
            fields=tuple(self.fields.values()),
            tensors=tuple(self.tensors),
            alignment=self.alignment,
            data_end=self.data_end,
        )

    def fixed_header(self) -> None:
        try:
            self._fixed_header()
        except _Short as short:
            # Below 24 bytes, ask for the whole fixed header at least, so ``needed`` only grows.
            short.needed = max(short.needed, FIXED_HEADER_SIZE)
            raise

    def _fixed_header(self) -> None:
        p = self.p
        buf = p.buf
        have = bytes(buf[:4])
        if not GGUF_MAGIC.startswith(have):
            raise BadMagicError(_describe_bad_magic(bytes(buf[:64])), offset=0)
        if p.end < 4:
            raise _Short(FIXED_HEADER_SIZE, "the file signature")
        version = p.u32(4, "the GGUF version")
        if version & 0xFFFF == 0 and 1 <= _bswap32(version) <= 0xFFFF:
            raise BigEndianError(
                "This GGUF file is big-endian (made for IBM mainframes); the browser engine "
                "reads only little-endian GGUF files. Use the little-endian version of the model.",
                offset=4,
            )
        if not MIN_VERSION <= version <= MAX_VERSION:
            extra = (
                " GGUF v1 is an obsolete 2023 format: convert the model again with a current "
                "llama.cpp."
                if version == 1
                else ""
            )
            raise UnsupportedVersionError(
                f"This GGUF file has version {version}; this app reads versions "
                f"{MIN_VERSION} to {MAX_VERSION}.{extra}",
                offset=4,
            )
        tensor_count = p.u64(8, "the tensor count")
        if tensor_count > self.limits.max_tensor_count:
            raise LimitExceededError(
                f"The model file is corrupt or not supported: it claims {tensor_count:,} tensors "
                f"(the limit is {self.limits.max_tensor_count:,}).",
                offset=8,
            )
        if p.end < FIXED_HEADER_SIZE:
            raise _Short(FIXED_HEADER_SIZE + tensor_count * _MIN_TENSOR_INFO_SIZE, "the header")
        kv_count = p.u64(16, "the metadata count")
        if kv_count > self.limits.max_kv_count:
            raise LimitExceededError(
                f"The model file is corrupt or not supported: it claims {kv_count:,} metadata "
                f"entries (the limit is {self.limits.max_kv_count:,}).",
                offset=16,
            )
        self.version = version
        self.tensor_count = tensor_count
        self.kv_count = kv_count
        self.pos = FIXED_HEADER_SIZE

    def metadata(self) -> None:
        p = self.p
        kv_count = self.kv_count
        for i in range(len(self.fields), kv_count):
            pos = self.pos
            what = f"metadata entry {i + 1} of {kv_count}"
            try:
                try:
                    key, vpos = p.string(pos, f"the key of {what}", self.limits.max_key_length)
                except _Short as short:
                    short.needed += 4 + _MIN_VALUE_SIZE  # the type tag and the smallest value
                    raise
                what = f"metadata '{key}'"
                if vpos + 4 > p.end:
                    raise _Short(vpos + 4 + _MIN_VALUE_SIZE, what)
                vtype = p.value_type(vpos, what)
                value, end = p.value(vpos + 4, vtype, what)
            except _Short as short:
                short.needed += (kv_count - i - 1) * _MIN_KV_SIZE
                short.needed += self.tensor_count * _MIN_TENSOR_INFO_SIZE
                raise
            if key in self.fields:
                raise DuplicateKeyError(
                    f"The model file is corrupt: the metadata key '{key}' appears twice.",
                    offset=pos,
                )
            self.fields[key] = MetadataField(key, vtype, value, pos)
            self.pos = end
        if self.alignment is None:
            self.alignment = self._alignment()

    def _alignment(self) -> int:
        entry = self.fields.get(ALIGNMENT_KEY)
        if entry is None:
            return DEFAULT_ALIGNMENT
        if entry.type is not ValueType.UINT32:
            raise AlignmentError(
                f"The model file is corrupt: {ALIGNMENT_KEY} must be a uint32, "
                f"not {entry.type.name}.",
                offset=entry.offset,
            )
        alignment = entry.value
        assert isinstance(alignment, int)
        if alignment <= 0 or alignment & (alignment - 1):
            raise AlignmentError(
                f"The model file is corrupt: {ALIGNMENT_KEY} is {alignment}, not a power of two.",
                offset=entry.offset,
            )
        return alignment

    def tensor_infos(self) -> None:
        p = self.p
        alignment = self.alignment
        assert alignment is not None
        count = self.tensor_count
        for j in range(len(self.tensors), count):
            try:
                info, end = p.tensor_info(self.pos, f"tensor info {j + 1} of {count}")
            except _Short as short:
                short.needed += (count - j - 1) * _MIN_TENSOR_INFO_SIZE
                raise
            if info.name in self.tensor_names:
                raise DuplicateTensorError(
                    f"The model file is corrupt: the tensor '{info.name}' appears twice.",
                    offset=info.info_offset,
                )
            if info.offset % alignment:
                raise AlignmentError(
                    f"The model file is corrupt: tensor '{info.name}' starts at data offset "
                    f"{info.offset:,}, not a multiple of the alignment {alignment}.",
                    offset=info.info_offset,
                )
            if info.offset < self.data_end:
                previous = self.tensors[-1]
                problem = "before" if info.offset < previous.offset else "inside"
                raise TensorLayoutError(
                    f"The model file is corrupt: tensor '{info.name}' starts {problem} the data "
                    f"of the previous tensor '{previous.name}'.",
                    offset=info.info_offset,
                )
            if info.offset + info.n_bytes > INT64_MAX:
                raise TensorLayoutError(
                    f"The model file is corrupt: tensor '{info.name}' ends past any file size.",
                    offset=info.info_offset,
                )
            self.tensors.append(info)
            self.tensor_names.add(info.name)
            self.data_end = info.offset + info.n_bytes
            self.pos = end

    def header(self) -> GGUFHeader:
        alignment = self.alignment
        assert alignment is not None
        return GGUFHeader(
            version=self.version,
            tensor_count=self.tensor_count,
            kv_count=self.kv_count,
            metadata=self.fields,
            tensors=tuple(self.tensors),
            alignment=alignment,
            header_size=self.pos,
            data_offset=align_up(self.pos, alignment),
            tensor_data_size=self.data_end,
        )


def _bswap32(x: int) -> int:
    return int.from_bytes(x.to_bytes(4, "little"), "big")


_FINGERPRINT_SPAN: Final = 32


def _fingerprint(buf: memoryview, pos: int) -> bytes:
    return bytes(buf[:FIXED_HEADER_SIZE]) + bytes(buf[max(0, pos - _FINGERPRINT_SPAN) : pos])


def _as_bytes_view(data: bytes | bytearray | memoryview) -> memoryview:
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def parse_header(
    data: bytes | bytearray | memoryview,
    *,
    file_size: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    resume: ParseProgress | None = None,
) -> GGUFHeader | NeedMoreBytes:
    """Parse the GGUF header at the start of ``data``.

    ``data`` holds the first bytes of the file (any number, the whole file included).
    ``file_size`` is the file's full size when known (pass ``len(data)`` when ``data`` is the
    whole file): then a header that cannot fit in it raises :class:`TruncatedError` instead of
    returning :class:`NeedMoreBytes`, and so does tensor data that would run past its end.
    ``resume`` is ``NeedMoreBytes.resume`` from an earlier call on a shorter prefix of the same
    file; it is ignored when it does not match ``data``. See the module docstring for the
    contract of :class:`NeedMoreBytes`. Raises a :class:`GGUFFormatError` subclass (a
    ``localwebai.errors.GGUFError``) for anything wrong with the bytes.
    """
    buf = _as_bytes_view(data)
    if file_size is not None and file_size < len(buf):
        file_size = len(buf)  # the caller's figure cannot be right; the bytes are here
    run = _Run(buf, limits)
    if (
        resume is not None
        and resume.limits == limits
        and resume.position <= len(buf)
        and _fingerprint(buf, resume.position) == resume.fingerprint
    ):
        run.restore(resume)
    try:
        if run.pos == 0:
            run.fixed_header()
        run.metadata()
        run.tensor_infos()
    except _Short as short:
        needed = max(short.needed, len(buf) + 1)
        if file_size is not None and needed > file_size:
            if file_size == 0:
                raise TruncatedError("The file is empty.", offset=0) from None
            raise TruncatedError(
                f"The file is cut short: it has {file_size:,} bytes, but its header needs at "
                f"least {needed:,} (it ends inside {short.what}). The download may be incomplete.",
                offset=file_size,
            ) from None
        if needed > limits.max_header_size:
            raise LimitExceededError(
                f"The model file is corrupt or not supported: its header would be at least "
                f"{needed:,} bytes (stuck at {short.what}; the limit is "
                f"{limits.max_header_size:,}).",
                offset=run.pos,
            ) from None
        progress = run.progress() if run.pos > 0 else None
        return NeedMoreBytes(needed=needed, have=len(buf), what=short.what, resume=progress)
    header = run.header()
    if file_size is not None and header.tensors and header.expected_file_size > file_size:
        raise TruncatedError(
            f"The file is cut short: it has {file_size:,} bytes, but its tensors need "
            f"{header.expected_file_size:,}. The download may be incomplete.",
            offset=file_size,
        )
    return header


# --- conveniences -------------------------------------------------------------------------------

FIRST_READ_SIZE: Final = 1 << 20
"""Bytes :func:`read_header` asks for first (most headers without a big vocab fit in 1 MiB)."""


def read_header(
    read: Callable[[int, int], bytes],
    *,
    file_size: int | None = None,
    first_read: int = FIRST_READ_SIZE,
    limits: Limits = DEFAULT_LIMITS,
) -> GGUFHeader:
    """Parse a header with a synchronous ``read(offset, size)`` that returns up to ``size`` bytes.

    Reads grow at least geometrically (each one at least doubles what is held), so a header of
    ``H`` bytes takes ``O(log H)`` reads. A short read is taken as the end of the file.
    """
    chunks = bytearray(read(0, max(1, first_read)))
    resume: ParseProgress | None = None
    eof = len(chunks) < first_read
    while True:
        size = len(chunks) if eof else file_size
        result = parse_header(chunks, file_size=size, limits=limits, resume=resume)
        if isinstance(result, GGUFHeader):
            return result
        resume = result.resume
        want = max(result.needed - len(chunks), len(chunks))
        if file_size is not None:
            want = min(want, file_size - len(chunks))
        more = read(len(chunks), want) if want > 0 else b""
        chunks += more
        if len(more) < want or want <= 0:
            eof = True


def read_header_file(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> GGUFHeader:
    """Parse the header of a local GGUF file."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)

        def read(offset: int, n: int) -> bytes:
            fh.seek(offset)
            return fh.read(n)

        return read_header(read, file_size=size, limits=limits)
