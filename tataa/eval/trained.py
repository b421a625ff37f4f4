"""The two models the project trains itself, their loaders and the metrics they are scored by.

* ``gpt2-text``: a small ``GPT2LMHeadModel`` with its own byte-level BPE tokenizer, trained on the training split
  of Jane Austen's novels (``scripts/train_gpt2_text.py``); scored by perplexity on the held-out split.
* ``vit-digits``: a small ``ViTForImageClassification`` on scikit-learn's 8x8 digits
  (``scripts/train_vit_digits.py``); scored by top-1 accuracy on the held-out split.

The weights, configs, tokenizer and ``metrics.json`` (what the training script measured) live in
``tataa/eval/weights/<name>/``; ``MANIFEST.md`` there says how they were made.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tataa.errors import TataaError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
GPT2_TEXT_DIR = WEIGHTS_DIR / "gpt2-text"
VIT_DIGITS_DIR = WEIGHTS_DIR / "vit-digits"
EOS_TOKEN = "<|endoftext|>"
"""gpt2-text's only special token: separates documents (novels) in a token stream."""


def load_gpt2_text(attention: str = "sdpa") -> tuple[Any, Any]:
    """The trained gpt2-text model (``GPT2LMHeadModel``, eval mode, fp32) and its tokenizer
    (``PreTrainedTokenizerFast``)."""
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    _require(GPT2_TEXT_DIR, ("config.json", "model.safetensors", "tokenizer.json"), "scripts/train_gpt2_text.py")
    model = _load(GPT2LMHeadModel, GPT2_TEXT_DIR, attention)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(GPT2_TEXT_DIR / "tokenizer.json"), eos_token=EOS_TOKEN,
                                        bos_token=EOS_TOKEN, unk_token=EOS_TOKEN,
                                        model_max_length=model.config.n_positions)
    return model, tokenizer


def load_vit_digits(attention: str = "sdpa") -> Any:
    """The trained vit-digits model (``ViTForImageClassification``, eval mode, fp32); it takes ``digits_split``'s
    images as they are."""
    from transformers import ViTForImageClassification

    _require(VIT_DIGITS_DIR, ("config.json", "model.safetensors"), "scripts/train_vit_digits.py")
    return _load(ViTForImageClassification, VIT_DIGITS_DIR, attention)


def start_training(seed: int, threads: int) -> None:
    """Make a training run reproducible: seed Python, numpy and torch, fix torch's thread count, quiet
    transformers' logging."""
    import random

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def recorded_metrics(folder: Path) -> dict[str, Any]:
    """The ``metrics.json`` a training script wrote into ``folder``."""
    path = Path(folder) / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise TataaError(f"cannot read {path}: {e}") from None


def token_stream(tokenizer: Any, texts: Iterable[str]) -> np.ndarray:
    """The texts tokenized one by one and concatenated, each followed by ``EOS_TOKEN`` (int64 ids)."""
    eos = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    ids: list[int] = []
    for text in texts:
        ids += tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        ids.append(eos)
    return np.asarray(ids, dtype=np.int64)


def token_windows(ids: np.ndarray, context: int) -> np.ndarray:
    """``ids`` cut into consecutive non-overlapping windows ``[n, context]`` (a short tail is dropped)."""
    if context < 2:
        raise TataaError(f"token_windows: context {context} must be at least 2")
    n = len(ids) // context
    return np.asarray(ids[: n * context], dtype=np.int64).reshape(n, context)


def heldout_windows(tokenizer: Any, held_out: Mapping[str, str], context: int) -> np.ndarray:
    """The windows gpt2-text is scored on: ``token_windows(token_stream(held-out texts), context)``."""
    return token_windows(token_stream(tokenizer, held_out.values()), context)


def perplexity(model: Any, windows: np.ndarray, batch: int = 32) -> float:
    """exp of the mean next-token negative log-likelihood over every window position but the first (each window is
    scored on its own, without context from the previous one)."""
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(windows), batch):
            ids = torch.from_numpy(np.ascontiguousarray(windows[start:start + batch]))
            logits = model(input_ids=ids).logits.float()
            nll = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                    ids[:, 1:].reshape(-1), reduction="sum")
            total += float(nll)
            count += ids[:, 1:].numel()
    if count == 0:
        raise TataaError("perplexity: no windows to score")
    return math.exp(total / count)


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch: int = 256) -> float:
    """Top-1 accuracy of an image classifier on images ``x`` with labels ``y``."""
    if len(x) == 0 or len(x) != len(y):
        raise TataaError(f"accuracy: {len(x)} images and {len(y)} labels")
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch):
            logits = model(pixel_values=torch.from_numpy(x[start:start + batch])).logits
            correct += int((logits.argmax(-1).numpy() == y[start:start + batch]).sum())
    return correct / len(x)


def _require(folder: Path, files: Iterable[str], script: str) -> None:
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise TataaError(f"{folder} lacks {', '.join(missing)}; run `python {script}` to train it")


def _load(cls: Any, folder: Path, attention: str) -> Any:
    from tataa.models.attention import EXPORT_ATTENTION, register_export_attention

    if attention == EXPORT_ATTENTION:
        register_export_attention()
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model = cls.from_pretrained(str(folder), dtype=torch.float32)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    try:
        model.set_attn_implementation(attention)
    except (ValueError, ImportError) as e:
        raise TataaError(f"attention implementation {attention!r} is not available: {e}") from None
    return model.eval()


__all__ = ["EOS_TOKEN", "GPT2_TEXT_DIR", "VIT_DIGITS_DIR", "WEIGHTS_DIR", "accuracy", "heldout_windows",
           "load_gpt2_text", "load_vit_digits", "perplexity", "recorded_metrics", "token_stream", "token_windows"]
