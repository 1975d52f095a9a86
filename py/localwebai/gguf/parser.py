"""The header parser: :func:`parse_header` (see the package docstring for its contract)."""

from __future__ import annotations

import struct
from typing import Final

from .errors import (
    AlignmentError,
    BadMagicError,
    BigEndianError,
    DuplicateKeyError,
    DuplicateTensorError,
    LimitExceededError,
    TensorLayoutError,
    TruncatedError,
    UnknownTensorTypeError,
    UnsupportedVersionError,
)
from .format import (
    _GGML_TYPES,
    ALIGNMENT_KEY,
    DEFAULT_ALIGNMENT,
    FIXED_HEADER_SIZE,
    GGML_MAX_DIMS,
    GGML_MAX_NAME,
    GGML_TYPE_SIZES,
    GGUF_MAGIC,
    INT64_MAX,
    MAX_VERSION,
    MIN_VERSION,
    ValueType,
    align_up,
    tensor_nbytes,
)
from .limits import DEFAULT_LIMITS, Limits
from .records import GGUFHeader, MetadataField, NeedMoreBytes, ParseProgress, TensorInfo
from .values import _MIN_STRING_SIZE, _Short, _ValueParser

_MIN_VALUE_SIZE: Final = 1  # uint8 / int8 / bool
_MIN_KV_SIZE: Final = _MIN_STRING_SIZE + 4 + _MIN_VALUE_SIZE  # key, type, smallest value
_MIN_TENSOR_INFO_SIZE: Final = _MIN_STRING_SIZE + 4 + 4 + 8  # name, n_dims, type, offset


class _HeaderParser(_ValueParser):
    """The value decoder, plus the tensor info records."""

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
        self.p = _HeaderParser(buf, limits)
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
