"""Read and check a GGUF file's header without loading its weights.

Why our own reader instead of ``gguf.GGUFReader``: the reference reader
materialises every array (4.5 s for SmolLM2's 49k-token vocabulary here, far
more for 150k-token models) and trusts the counts in the header. Hearth reads
headers of files it did not make (downloads, other apps' folders, drag and
drop) and must reject a hostile or truncated one with a clear message before
llama.cpp sees it. This reader bounds every count and length by the bytes
actually left in the file, skips arrays it does not need, and checks that the
tensor data the header describes is really there. The ``gguf`` package still
supplies the format's constants (type sizes, file-type names).
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import HearthError

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
# Far above any real model (the largest have ~2-3k tensors, ~60 keys) yet
# small enough that a lying header cannot make us loop for minutes.
MAX_TENSORS = 1_000_000
MAX_KEYS = 100_000
MAX_DIMS = 8
# Arrays up to this many items are kept as values; longer ones (vocabularies,
# merges) are skipped and only their length is kept.
KEEP_ARRAY_ITEMS = 64

# GGUF value types (the spec's numbering).
_SCALARS = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4),
    5: ("<i", 4), 6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8),
    12: ("<d", 8),
}
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")


class GGUFError(HearthError):
    """The file is not a usable GGUF model; the message says why in one line."""


@dataclass
class GGUFInfo:
    path: Path
    version: int
    file_size: int
    metadata: dict = field(repr=False)
    array_lengths: dict = field(repr=False)
    tensor_count: int = 0
    parameter_count: int = 0
    tensor_types: dict = field(default_factory=dict, repr=False)
    # What generating one token reads: every tensor once, except the routed
    # experts (only expert_used_count of expert_count per layer) and the token
    # embedding table when a separate output matrix exists (one row per token).
    tensor_bytes: int = 0
    expert_bytes: int = 0
    expert_params: int = 0
    embedding_bytes: int = 0
    embedding_params: int = 0
    has_output_tensor: bool = False

    def get(self, key: str, default=None):
        return self.metadata.get(key, default)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)

    def arch_value(self, suffix: str, default=None):
        return self.metadata.get(f"{self.architecture}.{suffix}", default)

    @property
    def context_length(self) -> int | None:
        value = self.arch_value("context_length")
        return int(value) if value is not None else None

    @property
    def block_count(self) -> int | None:
        value = self.arch_value("block_count")
        return int(value) if value is not None else None

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def quantization(self) -> str:
        return quantization_name(self)

    @property
    def size_label(self) -> str:
        label = self.metadata.get("general.size_label")
        if isinstance(label, str) and label:
            return label
        return human_count(self.parameter_count)

    @property
    def expert_count(self) -> int:
        value = self.arch_value("expert_count")
        return int(value) if isinstance(value, int) and value > 0 else 0

    @property
    def expert_used_count(self) -> int:
        value = self.arch_value("expert_used_count")
        if not isinstance(value, int) or value <= 0:
            return 0
        return min(int(value), self.expert_count)

    @property
    def is_moe(self) -> bool:
        return self.expert_count > 1 and self.expert_used_count > 0 and self.expert_bytes > 0

    @property
    def is_embedding_model(self) -> bool:
        return self.architecture in {"bert", "nomic-bert", "jina-bert-v2", "t5encoder"} or bool(
            self.metadata.get(f"{self.architecture}.pooling_type")
        )


def human_count(n: int) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return str(n)


def quantization_name(info: GGUFInfo) -> str:
    from app.gguf.constants import GGMLQuantizationType, LlamaFileType

    file_type = info.metadata.get("general.file_type")
    if isinstance(file_type, int):
        try:
            name = LlamaFileType(file_type).name
            return name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            pass
    # No file type recorded: name it after the type holding most weights.
    if info.tensor_types:
        dominant = max(info.tensor_types, key=info.tensor_types.get)
        try:
            return GGMLQuantizationType(dominant).name
        except ValueError:
            return f"type {dominant}"
    return "unknown"


class _Cursor:
    """Bounds-checked reads from the mapped file."""

    def __init__(self, buf, size: int, name: str):
        self.buf, self.size, self.pos, self.name = buf, size, 0, name

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise GGUFError(f"{self.name}: file is truncated or corrupt ({what} runs past the end of the file)")

    def unpack(self, fmt: str, n: int, what: str):
        self.need(n, what)
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += n
        return value

    def u32(self, what: str) -> int:
        return self.unpack("<I", 4, what)

    def u64(self, what: str) -> int:
        return self.unpack("<Q", 8, what)

    def string(self, what: str, keep: bool = True) -> str | None:
        length = self.u64(f"length of {what}")
        self.need(length, what)
        start = self.pos
        self.pos += length
        if not keep:
            return None
        return bytes(self.buf[start:self.pos]).decode("utf-8", errors="replace")

    def _skip_strings(self, count: int, key: str) -> None:
        # Vocabularies hold 50k-250k strings: a tight loop, checked once per item.
        buf, pos, size, unpack = self.buf, self.pos, self.size, _U64.unpack_from
        for _ in range(count):
            if pos + 8 > size:
                raise GGUFError(f"{self.name}: file is truncated or corrupt (strings of {key!r} run past the end)")
            pos += 8 + unpack(buf, pos)[0]
        if pos > size:
            raise GGUFError(f"{self.name}: file is truncated or corrupt (strings of {key!r} run past the end)")
        self.pos = pos

    def value(self, vtype: int, key: str):
        if vtype in _SCALARS:
            fmt, n = _SCALARS[vtype]
            return self.unpack(fmt, n, f"value of {key!r}")
        if vtype == _STRING:
            return self.string(f"value of {key!r}")
        raise GGUFError(f"{self.name}: header is corrupt (unknown value type {vtype} for {key!r})")

    def array(self, key: str):
        item_type = self.u32(f"array type of {key!r}")
        count = self.u64(f"array length of {key!r}")
        left = self.size - self.pos
        if item_type in _SCALARS:
            fmt, n = _SCALARS[item_type]
            if count * n > left:
                raise GGUFError(f"{self.name}: file is truncated or corrupt (an array of {count} items for {key!r} runs past the end)")
            if count <= KEEP_ARRAY_ITEMS:
                return [self.unpack(fmt, n, key) for _ in range(count)], count
            self.pos += count * n
            return None, count
        if item_type == _STRING:
            if count * 8 > left:
                raise GGUFError(f"{self.name}: file is truncated or corrupt (an array of {count} strings for {key!r} runs past the end)")
            if count <= KEEP_ARRAY_ITEMS:
                return [self.string(f"item of {key!r}") for _ in range(count)], count
            self._skip_strings(count, key)
            return None, count
        raise GGUFError(f"{self.name}: header is corrupt (array of type {item_type} for {key!r})")


def read_gguf(path: str | os.PathLike) -> GGUFInfo:
    """Parse and check the header of ``path``; raise GGUFError with one readable line."""
    path = Path(path)
    shown = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise GGUFError(f"{path}: no such file") from None
    except OSError as exc:
        raise GGUFError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise GGUFError(f"{path}: is a folder, not a GGUF file")
    if size < 24:
        raise GGUFError(f"{shown}: not a GGUF model file (too small: {size} bytes)")
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(buf, size, path)
    except OSError as exc:
        raise GGUFError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _parse(buf, size: int, path: Path) -> GGUFInfo:
    from app.gguf.constants import GGML_QUANT_SIZES

    shown = path.name
    cur = _Cursor(buf, size, shown)
    if bytes(buf[:4]) != MAGIC:
        raise GGUFError(f"{shown}: not a GGUF model file (wrong magic bytes)")
    cur.pos = 4
    version = cur.u32("version")
    if version not in SUPPORTED_VERSIONS:
        raise GGUFError(f"{shown}: unsupported GGUF version {version} (Hearth reads versions 2 and 3)")
    tensor_count = cur.u64("tensor count")
    kv_count = cur.u64("metadata count")
    # Each key/value needs at least 8 (key length) + 4 (type) + 1 bytes and each
    # tensor description at least 8 + 4 + 8 + 4 + 8: a header claiming more
    # than the file can hold is lying.
    if tensor_count > MAX_TENSORS or tensor_count * 32 > size:
        raise GGUFError(f"{shown}: header is corrupt (claims {tensor_count} tensors)")
    if kv_count > MAX_KEYS or kv_count * 13 > size:
        raise GGUFError(f"{shown}: header is corrupt (claims {kv_count} metadata entries)")

    metadata: dict = {}
    array_lengths: dict = {}
    for _ in range(kv_count):
        key = cur.string("metadata key")
        vtype = cur.u32(f"type of {key!r}")
        if vtype == _ARRAY:
            value, count = cur.array(key)
            array_lengths[key] = count
            if value is not None:
                metadata[key] = value
        else:
            metadata[key] = cur.value(vtype, key)

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise GGUFError(f"{shown}: header is corrupt (alignment {alignment!r})")

    parameters = 0
    data_end = 0
    tensor_types: dict[int, int] = {}
    totals = {"tensor_bytes": 0, "expert_bytes": 0, "expert_params": 0, "embedding_bytes": 0,
              "embedding_params": 0}
    has_output = False
    for index in range(tensor_count):
        name = cur.string(f"name of tensor {index}")
        n_dims = cur.u32(f"dimensions of {name!r}")
        if n_dims > MAX_DIMS:
            raise GGUFError(f"{shown}: header is corrupt (tensor {name!r} has {n_dims} dimensions)")
        elements = 1
        for _ in range(n_dims):
            elements *= cur.u64(f"shape of {name!r}")
        ggml_type = cur.u32(f"type of {name!r}")
        offset = cur.u64(f"offset of {name!r}")
        sizes = GGML_QUANT_SIZES.get(ggml_type)  # type: ignore[call-overload]
        if sizes is None:
            raise GGUFError(f"{shown}: tensor {name!r} has unknown data type {ggml_type}")
        block, type_size = sizes
        nbytes = elements // block * type_size
        if elements > size * 64 or nbytes > size:
            raise GGUFError(f"{shown}: header is corrupt (tensor {name!r} claims {elements} elements)")
        parameters += elements
        tensor_types[ggml_type] = tensor_types.get(ggml_type, 0) + nbytes
        totals["tensor_bytes"] += nbytes
        if "_exps." in name:  # routed experts (ffn_{gate,up,down}_exps); shared experts are "_shexp"
            totals["expert_bytes"] += nbytes
            totals["expert_params"] += elements
        elif name == "token_embd.weight":
            totals["embedding_bytes"] += nbytes
            totals["embedding_params"] += elements
        elif name == "output.weight":
            has_output = True
        data_end = max(data_end, offset + nbytes)

    data_start = -(-cur.pos // alignment) * alignment
    if data_start + data_end > size:
        missing = data_start + data_end - size
        raise GGUFError(
            f"{shown}: file is truncated ({human_bytes(missing)} of tensor data missing; "
            "was the download interrupted?)"
        )
    return GGUFInfo(
        path=path, version=version, file_size=size, metadata=metadata,
        array_lengths=array_lengths, tensor_count=tensor_count,
        parameter_count=parameters, tensor_types=tensor_types, has_output_tensor=has_output, **totals,
    )


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def kv_cache_bytes(info: GGUFInfo, n_ctx: int, bytes_per_value: int = 2) -> int:
    """K and V for every layer at ``n_ctx`` tokens (f16 by default)."""
    layers = info.block_count or 0
    heads = info.arch_value("attention.head_count") or 0
    if isinstance(heads, list):  # per-layer head counts in some architectures
        heads = max(heads) if heads else 0
    kv_heads = info.arch_value("attention.head_count_kv", heads) or heads
    if isinstance(kv_heads, list):
        kv_heads = max(kv_heads) if kv_heads else 0
    embedding = info.arch_value("embedding_length") or 0
    head_dim_k = info.arch_value("attention.key_length") or (embedding // heads if heads else 0)
    head_dim_v = info.arch_value("attention.value_length") or head_dim_k
    return layers * n_ctx * kv_heads * (head_dim_k + head_dim_v) * bytes_per_value
