"""An export-friendly attention implementation for Hugging Face models.

Under ``torch.export`` the stock ``sdpa`` implementation materialises every attention mask from index arithmetic
(packed-sequence detection on ``position_ids``, vmapped mask functions, advanced indexing) because it may not read
the inputs' values. The zoo's models never pad a causal LM and hand encoders a ready 4-D mask, so they register
``EXPORT_ATTENTION``: the same ``sdpa`` kernel call, but registered under a name that has no mask factory, which
makes ``transformers`` skip mask construction. Causal models then run ``sdpa(..., is_causal=True)`` and encoders
use the 4-D boolean mask they were given (or none).
"""

from __future__ import annotations

import functools

EXPORT_ATTENTION = "tataa_sdpa"
"""The name the export-friendly attention implementation is registered under."""


@functools.cache
def register_export_attention() -> str:
    """Register ``EXPORT_ATTENTION`` with ``transformers`` (idempotent); returns its name."""
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    AttentionInterface.register(EXPORT_ATTENTION, sdpa_attention_forward)
    return EXPORT_ATTENTION


__all__ = ["EXPORT_ATTENTION", "register_export_attention"]
