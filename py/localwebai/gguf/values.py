"""Metadata values: a decoder of scalars, strings and arrays over a buffer, and :class:`GGUFArray`,
which keeps a big array encoded and decodes its elements on demand."""

from __future__ import annotations

import codecs
import struct
from array import array
from collections.abc import Iterator
from typing import Any, Final, overload

from .errors import InvalidStringError, LimitExceededError, UnknownValueTypeError
from .format import ValueType
from .limits import DEFAULT_LIMITS, Limits

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

_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_HIGH_BITS: Final = 0x8080808080808080
_ASCII_MAX: Final = 0x7F  # a length up to this has only ASCII bytes


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
        parser = _ValueParser(memoryview(self._raw), DEFAULT_LIMITS, lenient_limits=True)
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
        parser = _ValueParser(memoryview(raw), DEFAULT_LIMITS, lenient_limits=True)
        value, end = parser.read_array(pos, depth=1, base=self.offset)
        return value, end


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


class _ValueParser:
    """Cursor-free reader of values over a buffer; every method takes and returns positions."""

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
        # The hot loop of a header (a vocabulary is 100k+ strings): one unpack, one add and one
        # compare per element. A short buffer shows as struct.error; a length past the end,
        # as the next element's prefix being short (or, for the last, after the loop). Lengths
        # over 127 (rare) take the slow path: the limit, and a non-ASCII prefix byte for
        # _check_utf8 (a length under 128 has none).
        buf = self.buf
        unpack = _U64.unpack_from
        max_length = self.limits.max_string_length
        slow = _ASCII_MAX if self.lenient else min(_ASCII_MAX, max_length)
        odd_prefixes = array("Q")
        pos = start
        i = 0
        try:
            for i in range(count):
                (n,) = unpack(buf, pos)
                if n > slow:
                    if n > max_length and not self.lenient:
                        raise LimitExceededError(
                            f"The model file is corrupt or not supported: element {i} of {what} "
                            f"claims a length of {n:,} bytes (the limit is {max_length:,}).",
                            offset=base + pos,
                        )
                    if n & _HIGH_BITS:
                        odd_prefixes.append(pos)
                pos += 8 + n
        except struct.error:
            raise _Short(pos + 8 + (count - i - 1) * _MIN_STRING_SIZE, what) from None
        if pos > self.end:
            raise _Short(pos, what)
        if not self.lenient:
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
