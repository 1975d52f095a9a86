"""What parsing yields: metadata entries, tensor infos, the header, and the state to resume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .format import GGMLType, ValueType
from .limits import Limits
from .values import GGUFArray


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
