"""Train gpt2-text: a byte-level BPE tokenizer and a small GPT2LMHeadModel on the training split of Jane Austen.

Seeded and CPU-only. Data: ``tataa.eval.datasets.austen_split()`` (the last 10 % of each novel held out).
Writes ``config.json``, ``model.safetensors``, ``generation_config.json``, ``tokenizer.json`` and ``metrics.json``
into ``tataa/eval/weights/gpt2-text`` (or ``--out``). Run ``python -m tataa.eval.datasets fetch`` first.

    .venv/bin/python scripts/train_gpt2_text.py [--seed 0] [--steps 600]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import torch


def train_tokenizer(texts: list[str], vocab: int):  # type: ignore[no-untyped-def]
    """A byte-level BPE tokenizer (GPT-2 style, one special token) trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from tataa.eval.trained import EOS_TOKEN

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, special_tokens=[EOS_TOKEN],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    # paragraphs as the training iterator: the trainer counts words, so splitting changes nothing but memory
    tok.train_from_iterator((p for t in texts for p in t.split("\n\n")), trainer=trainer)
    return tok


def main() -> None:
    """Train, evaluate on the held-out split, save."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--embd", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--subset", type=int, default=16, help="held-out windows recorded separately for quick checks")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tataa/eval/weights/gpt2-text")
    args = ap.parse_args()

    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from tataa.eval.datasets import austen_split
    from tataa.eval.trained import EOS_TOKEN, perplexity, start_training, token_stream, token_windows

    start_training(args.seed, args.threads)
    t0 = time.time()

    train_texts, held_texts = austen_split()
    raw_tok = train_tokenizer(list(train_texts.values()), args.vocab)
    args.out.mkdir(parents=True, exist_ok=True)
    raw_tok.save(str(args.out / "tokenizer.json"))
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(args.out / "tokenizer.json"), eos_token=EOS_TOKEN,
                                        bos_token=EOS_TOKEN, unk_token=EOS_TOKEN)
    train_ids = torch.from_numpy(token_stream(tokenizer, train_texts.values()))
    held_stream = token_stream(tokenizer, held_texts.values())
    held = token_windows(held_stream, args.context)
    held_chars = sum(len(t) for t in held_texts.values())
    print(f"tokenizer: vocab {raw_tok.get_vocab_size()}, {len(train_ids):,} train tokens "
          f"({sum(map(len, train_texts.values())) / len(train_ids):.2f} chars/token), {held.shape[0]} held-out "
          f"windows of {args.context}  [{time.time() - t0:.0f}s]", flush=True)

    eos = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    config = GPT2Config(vocab_size=raw_tok.get_vocab_size(), n_positions=args.context, n_embd=args.embd,
                        n_layer=args.layers, n_head=args.heads, n_inner=4 * args.embd, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    model = GPT2LMHeadModel(config)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        frac = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac)))

    gen = torch.Generator().manual_seed(args.seed)
    span = len(train_ids) - args.context
    model.train()
    t_train = time.time()
    running = 0.0
    for step in range(args.steps):
        starts = torch.randint(0, span, (args.batch,), generator=gen)
        x = torch.stack([train_ids[s:s + args.context] for s in starts.tolist()])
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.detach().item()
        if (step + 1) % 50 == 0:
            print(f"step {step + 1}/{args.steps}: train loss {running / 50:.3f}  "
                  f"[{time.time() - t_train:.0f}s]", flush=True)
            running = 0.0
    train_seconds = time.time() - t_train

    model.eval()
    ppl = perplexity(model, held)
    subset_ppl = perplexity(model, held[: args.subset])
    metrics = {
        "heldout_perplexity": ppl, "heldout_windows": int(held.shape[0]), "context": args.context,
        "heldout_tokens_scored": int(held.shape[0] * (args.context - 1)), "heldout_characters": held_chars,
        "heldout_chars_per_token": held_chars / len(held_stream),
        "bits_per_character": math.log2(ppl) * len(held_stream) / held_chars,
        "subset_windows": args.subset, "subset_perplexity": subset_ppl,
        "parameters": params, "train_tokens": len(train_ids), "steps": args.steps, "batch": args.batch,
        "tokens_seen": args.steps * args.batch * args.context, "seed": args.seed, "lr": args.lr,
        "train_seconds": round(train_seconds, 1), "total_seconds": round(time.time() - t0, 1),
        "threads": args.threads, "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
    }
    model.save_pretrained(str(args.out), safe_serialization=True)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
