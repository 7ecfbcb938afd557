"""ONNX Runtime backends for the text encoder: ``onnx`` (fp32) and ``onnx-int8`` (dynamic int8).

The transformer of a sentence-transformers model is exported with ``torch.onnx.export`` and, for
``onnx-int8``, quantised with ``onnxruntime.quantization.quantize_dynamic`` using the settings
Optimum's ``AutoQuantizationConfig`` gives the CPU's instruction set (``quantization_target``);
both files are cached by the model's identity. Tokenisation, pooling and normalisation stay
sentence-transformers' own: only the transformer's forward pass runs in ONNX Runtime. (Optimum,
which sentence-transformers' own ONNX backend needs, does not install beside transformers 5.)
"""
from __future__ import annotations

import contextlib
import functools
import logging
import platform
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from rageval.errors import RagevalError
from rageval.store.cache import cache_dir, key
from rageval.store.files import atomic_folder

log = logging.getLogger("rageval")

BACKENDS = ("torch", "onnx", "onnx-int8")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_QUANTISE = "quant2"  # the quantisation settings' version: MatMul, Add and the fused Attention
_EXPORT = "export2"  # torch.onnx.export (eager attention, opset 17) + ORT's transformer fusions: a new way, a new name
_OUTPUT = "last_hidden_state"


@functools.cache
def quantization_target() -> str:
    """The instruction set int8 kernels run on here: ``avx512_vnni``, ``avx512``, ``avx2`` or ``arm64``."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        flags = set()
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    return "avx512" if "avx512f" in flags else "avx2"


def _quantization_settings(target: str) -> dict[str, Any]:
    """Optimum's dynamic ``AutoQuantizationConfig.<target>(is_static=False)``: unsigned activations,
    per-channel weights, every MatMul quantised (in the fused graph the query/key/value projections
    sit inside the Attention op, so it is quantised too); signed weights where VNNI or ARM dot
    products take them, 7-bit weights on AVX512 without VNNI (saturation), unsigned weights on AVX2."""
    import onnx
    from onnxruntime.quantization import QuantType

    weights = QuantType.QUInt8 if target == "avx2" else QuantType.QInt8
    return {"weight_type": weights, "per_channel": True, "reduce_range": target == "avx512",
            "op_types_to_quantize": ["MatMul", "Add", "Attention"],
            "extra_options": {"DefaultTensorType": onnx.TensorProto.FLOAT}}  # fused ops carry no inferred type


def backend_identity(backend: str) -> str:
    """What besides the model fixes the vectors: the backend, how it was exported, and for int8 the
    quantisation target (``onnx-int8:export2:avx512_vnni:quant2``)."""
    if backend not in BACKENDS:
        raise RagevalError(f"unknown encoder backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    if backend != "torch":
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError:
            raise RagevalError(f"encoder backend {backend} needs onnxruntime and onnx: "
                               "pip install 'rageval[onnx]'") from None
    if backend == "torch":
        return backend
    return f"{backend}:{_EXPORT}" + (f":{quantization_target()}:{_QUANTISE}" if backend == "onnx-int8" else "")


def onnx_model(model: Any, model_path: Path, identity: str, backend: str) -> Path:
    """The cached ONNX file of ``model``'s transformer for ``backend`` (exported, and quantised for
    ``onnx-int8``, on first use); a failed export is a RagevalError naming the model."""
    exported = cache_dir("onnx") / key("onnx", identity, _EXPORT) / "model.onnx"
    if not exported.exists():
        _export(model, model_path, exported)
    if backend == "onnx":
        return exported
    target = quantization_target()
    quantised = cache_dir("onnx") / key("onnx-int8", identity, _EXPORT, target, _QUANTISE) / "model.onnx"
    if not quantised.exists():
        from onnxruntime.quantization import quantize_dynamic

        log.info("quantising %s for %s", model_path, target)
        try:
            with atomic_folder(quantised.parent, keep_existing=True) as tmp, _quiet():
                quantize_dynamic(exported, tmp / quantised.name, **_quantization_settings(target))
        except Exception as e:  # noqa: BLE001 - any failure is the model's
            raise RagevalError(f"model {model_path}: int8 quantisation failed ({type(e).__name__}: "
                               f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    return quantised


def _export(model: Any, model_path: Path, target: Path) -> None:
    import torch

    transformer = model[0]
    tokenize = getattr(model, "preprocess", None) or model.tokenize  # preprocess: sentence-transformers 6
    sample = {k: v for k, v in tokenize(["an example sentence"]).items() if k in _INPUTS}
    names = [n for n in _INPUTS if n in sample]

    class Forward(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args)), return_dict=True)[_OUTPUT]

    if hasattr(transformer.model, "set_attn_implementation"):
        # eager attention exports the subgraph ONNX Runtime fuses into its Attention kernel; sdpa's does not fuse
        transformer.model.set_attn_implementation("eager")
    log.info("exporting %s to ONNX", model_path)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    try:
        with atomic_folder(target.parent, keep_existing=True) as tmp, torch.no_grad(), _quiet():
            torch.onnx.export(Forward(transformer.model).eval(), tuple(sample[n] for n in names),
                              str(tmp / target.name),
                              input_names=names, output_names=[_OUTPUT],
                              dynamic_axes={**axes, _OUTPUT: {0: "batch", 1: "sequence"}},
                              opset_version=17, dynamo=False)
            _fuse(tmp / target.name, transformer.model.config)
    except Exception as e:  # noqa: BLE001 - any failure is the model's
        raise RagevalError(f"model {model_path}: ONNX export failed ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None


def _fuse(onnx_file: Path, config: Any) -> None:
    """Rewrite the export with ONNX Runtime's transformer fusions (attention, embedding and skip
    layer norms, bias GELU) where its optimizer knows the architecture; otherwise leave it."""
    from onnxruntime.transformers.optimizer import MODEL_TYPES, optimize_model

    kind = getattr(config, "model_type", "")
    heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
    if kind not in MODEL_TYPES or not heads or not hidden:
        return
    optimize_model(str(onnx_file), model_type=kind, num_heads=heads, hidden_size=hidden).save_model_to_file(
        str(onnx_file))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Without the exporter's tracer warnings and the quantiser's advice on the root logger."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def run_transformer_in_onnx(model: Any, onnx_file: Path, threads: int) -> None:
    """Make ``model`` (a SentenceTransformer) run its first module's forward pass in ONNX Runtime."""
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # idle threads sleep instead of spinning: between runs this process tokenizes and pools with torch
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    transformer = model[0]
    output_name = getattr(transformer, "module_output_name", "token_embeddings")

    def forward(features: dict[str, Any], **_: Any) -> dict[str, Any]:
        inputs = {n: features[n].numpy().astype(np.int64, copy=False) for n in names}
        features[output_name] = torch.from_numpy(session.run([_OUTPUT], inputs)[0])
        return features

    transformer.forward = forward
