"""What can be wrong with a GGUF header: every class is a :class:`localwebai.errors.GGUFError`."""

from __future__ import annotations

from localwebai.errors import GGUFError


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
