"""Export-friendly wrappers: ``forward`` takes plain tensors and returns one plain tensor.

Hugging Face models return dict-like outputs, keep key/value caches and build attention masks from index
arithmetic; the wrappers call them with ``use_cache=False`` and hand back just the logits or hidden states.
"""

from __future__ import annotations

import torch
from torch import nn


class CausalLMWrapper(nn.Module):
    """``input_ids [batch, seq] -> logits [batch, seq, vocab]`` of a causal LM, unpadded, no cache."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The next-token logits for every position."""
        return self.model(input_ids=input_ids, use_cache=False, return_dict=True).logits


class EncoderWrapper(nn.Module):
    """``input_ids, attention_mask [batch, seq] -> last hidden state [batch, seq, hidden]`` of a text encoder.

    ``attention_mask`` is 1 for real tokens and 0 for padding (as tokenizers return it); it is turned into the 4-D
    boolean mask ``[batch, 1, 1, seq]`` that ``transformers`` passes to attention unchanged.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The encoder's last hidden state (padding positions included)."""
        mask = attention_mask[:, None, None, :].to(torch.bool)
        return self.model(input_ids=input_ids, attention_mask=mask, return_dict=True).last_hidden_state


class ImageClassifierWrapper(nn.Module):
    """``pixel_values [batch, channels, height, width] -> logits [batch, labels]``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The class logits."""
        return self.model(pixel_values=pixel_values, return_dict=True).logits


__all__ = ["CausalLMWrapper", "EncoderWrapper", "ImageClassifierWrapper"]
