"""Bounded, incremental GGUF header parser in pure Python (``struct`` only, no numpy).

A GGUF file starts with a header: the magic ``GGUF``, a version, the tensor and metadata
counts, the metadata key/value pairs, and one info record per tensor; the tensor data follows at
the next multiple of the alignment. This package reads that header from the first bytes of a
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
Over a network, fetch ``max(needed, 2 * len(data))`` instead: a few rounds from a 1 MiB first
read. :class:`HeaderReader` owns that policy without doing I/O (it says which range to read next
and parses what it is fed); :func:`read_header` and :func:`read_header_file` drive it.

Every problem with the bytes raises a subclass of :class:`localwebai.errors.GGUFError` with a
message for the user; limits (:class:`Limits`) bound every count and length, and nothing is
allocated for a length before the bytes behind it are present. Big arrays (a 150k-token vocab)
are kept as :class:`GGUFArray`, which holds the encoded bytes and decodes on demand.

Modules: ``format`` (constants, value and tensor types), ``limits``, ``errors``, ``values``
(decoding values, :class:`GGUFArray`), ``records`` (what parsing yields), ``parser``
(:func:`parse_header`), ``reader`` (:class:`HeaderReader` and its drivers).
"""

from localwebai.errors import GGUFError

from .errors import (
    AlignmentError,
    BadMagicError,
    BigEndianError,
    DuplicateKeyError,
    DuplicateTensorError,
    GGUFFormatError,
    InvalidStringError,
    LimitExceededError,
    MalformedError,
    TensorLayoutError,
    TruncatedError,
    UnknownTensorTypeError,
    UnknownValueTypeError,
    UnsupportedVersionError,
)
from .format import (
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
    QK_K,
    GGMLType,
    ValueType,
    align_up,
    ggml_type_name,
    tensor_nbytes,
)
from .limits import (
    DEFAULT_LIMITS,
    MAX_ARRAY_DEPTH,
    MAX_ARRAY_LENGTH,
    MAX_HEADER_SIZE,
    MAX_KEY_LENGTH,
    MAX_KV_COUNT,
    MAX_STRING_LENGTH,
    MAX_TENSOR_COUNT,
    Limits,
)
from .parser import parse_header
from .reader import (
    FIRST_READ_SIZE,
    LOCAL_FIRST_READ_SIZE,
    HeaderReader,
    read_header,
    read_header_file,
)
from .records import GGUFHeader, MetadataField, NeedMoreBytes, ParseProgress, TensorInfo
from .values import GGUFArray

__all__ = [
    "ALIGNMENT_KEY",
    "DEFAULT_ALIGNMENT",
    "DEFAULT_LIMITS",
    "FIRST_READ_SIZE",
    "FIXED_HEADER_SIZE",
    "GGML_MAX_DIMS",
    "GGML_MAX_NAME",
    "GGML_TYPE_SIZES",
    "GGUF_MAGIC",
    "INT64_MAX",
    "LOCAL_FIRST_READ_SIZE",
    "MAX_ARRAY_DEPTH",
    "MAX_ARRAY_LENGTH",
    "MAX_HEADER_SIZE",
    "MAX_KEY_LENGTH",
    "MAX_KV_COUNT",
    "MAX_STRING_LENGTH",
    "MAX_TENSOR_COUNT",
    "MAX_VERSION",
    "MIN_VERSION",
    "QK_K",
    "AlignmentError",
    "BadMagicError",
    "BigEndianError",
    "DuplicateKeyError",
    "DuplicateTensorError",
    "GGMLType",
    "GGUFArray",
    "GGUFError",
    "GGUFFormatError",
    "GGUFHeader",
    "HeaderReader",
    "InvalidStringError",
    "LimitExceededError",
    "Limits",
    "MalformedError",
    "MetadataField",
    "NeedMoreBytes",
    "ParseProgress",
    "TensorInfo",
    "TensorLayoutError",
    "TruncatedError",
    "UnknownTensorTypeError",
    "UnknownValueTypeError",
    "UnsupportedVersionError",
    "ValueType",
    "align_up",
    "ggml_type_name",
    "parse_header",
    "read_header",
    "read_header_file",
    "tensor_nbytes",
]
