"""The four accuracy tasks of ``tataa eval``: which model, which data, which split is scored, how it is scored.

Every task hands the runner the same things (:class:`TaskData`): calibration feeds drawn from a split disjoint
from the scored one, the scored feeds (:class:`Batch`, static batch size, padded rows marked), and a scorer that
reduces one peer's outputs to the task's metric. Each peer (fp32 torch, the IR interpreter, tataa int8,
onnxruntime int8, the paper recipe) sees exactly these feeds.

* ``minilm-sentiment``: all-MiniLM-L6-v2 sentence embeddings (mean over the attention mask, L2-normalised, as
  sentence-transformers does), a logistic-regression probe fitted on fp32 embeddings of training snippets,
  accuracy on held-out movie-review snippets; also the mean cosine between fp32 and each peer's embeddings.
* ``smollm2-wikitext``: SmolLM2-135M perplexity over fixed-length token windows of Wikipedia articles.
* ``gpt2-text``: perplexity of the project's own GPT-2 on held-out Jane Austen text.
* ``vit-digits``: top-1 of the project's own ViT on held-out 8x8 digits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from tataa.errors import TataaError
from tataa.models import ZooModel
from tataa.quant.recipe import TATAA_RECIPE

Feed = dict[str, np.ndarray]
"""One model call's inputs by name (numpy arrays, as the IR interpreter and onnxruntime take them)."""

Summary = dict[str, np.ndarray]
"""What a scorer keeps of one batch's output (small: embeddings, per-token NLL, predictions), not the logits."""


@dataclass(frozen=True, eq=False)
class Batch:
    """One scored model call: its feed, how many leading rows are real (the rest pad a static batch) and targets."""

    feed: Feed
    rows: int
    target: np.ndarray  # labels [rows] (classification), or the token ids [rows, seq] (language modelling)


@dataclass(frozen=True)
class EvalSettings:
    """What the user may vary: how many scored items, calibration samples, sequence length, the split seed."""

    limit: int | None = None  # scored items (snippets, windows, images); None: the task's default
    calib: int = TATAA_RECIPE.calibration_samples  # calibration samples (snippets, windows, images), batched
    seq: int | None = None  # window length (LMs) or max tokens per snippet (minilm); None: the task's default
    seed: int = 0
    probe_train: int | None = None  # minilm-sentiment: training snippets the probe is fitted on (None: default)
    progress: bool = True


class Scorer(Protocol):
    """Reduces a peer's outputs to the task metric."""

    def summarize(self, batch: Batch, output: np.ndarray) -> Summary:
        """The part of one batch's output the metric needs (real rows only)."""
        ...

    def score(self, batches: Sequence[Batch], summaries: Sequence[Summary]) -> float:
        """The task metric over all scored batches."""
        ...

    def compare(self, summaries: Sequence[Summary], reference: Sequence[Summary]) -> dict[str, float]:
        """How close a peer's outputs are to the fp32 reference's (task-specific measures)."""
        ...


@dataclass(frozen=True, eq=False)
class TaskData:
    """Everything a run of a task needs besides the peers."""

    calibration: tuple[Feed, ...]
    batches: tuple[Batch, ...]
    scorer: Scorer
    n: int  # scored items
    n_calibration: int  # calibration samples (before padding into batches)
    details: dict[str, Any] = field(default_factory=dict)  # split sizes, provenance, lengths (for the report)


@dataclass(frozen=True, eq=False)
class Task:
    """A named accuracy task: model loader, data preparation, metric."""

    name: str
    metric: str  # "accuracy", "perplexity", "top-1"
    unit: str  # "%" or ""
    higher_is_better: bool
    description: str
    data_source: str  # provenance of the data, one line
    load_model: Callable[[EvalSettings], ZooModel] = field(repr=False)
    prepare: Callable[[ZooModel, EvalSettings], TaskData] = field(repr=False)
    default_limit: int | None  # None: the whole scored split
    default_seq: int | None  # None: the model's context (LMs) or not applicable
    fixed_dims: bool = False  # the graph may be specialised to the task's sequence length (every feed has it)


# ---------------------------------------------------------------------------------------------------- helpers


def _bar(items: Sequence[Any], desc: str, on: bool) -> Iterator[Any]:
    """``items`` with a tqdm progress bar on stderr (when ``on``)."""
    from tqdm.auto import tqdm

    return iter(tqdm(items, desc=desc, disable=not on, leave=False, unit="batch"))


def _check_positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise TataaError(f"{name} must be a positive integer, got {value}")


def spread(n: int, k: int) -> np.ndarray:
    """``min(k, n)`` indices spread evenly over ``range(n)`` (all of them when ``k >= n``), ascending."""
    if k >= n:
        return np.arange(n)
    return np.unique(np.floor(np.arange(k) * (n / k)).astype(np.int64))


def _pad_rows(arrays: Sequence[np.ndarray], batch: int) -> np.ndarray:
    """Stack ``arrays`` and repeat them cyclically up to ``batch`` rows (a static batch must be full)."""
    rows = [arrays[i % len(arrays)] for i in range(batch)]
    return np.stack(rows)


def _digest(module: torch.nn.Module) -> str:
    """A short hash of a module's weights (names, shapes, values): keys the ONNX export cache of trained models."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _config_json(config: Any, **extra: Any) -> str:
    doc = json.loads(config.to_json_string(use_diff=False))
    doc.pop("transformers_version", None)
    return json.dumps({**doc, **extra}, sort_keys=True)


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` without special tokens (no length warnings: whole documents are split later)."""
    return list(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def _log_softmax_nll(logits: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-position next-token NLL and argmax prediction of ``logits [rows, seq, vocab]`` for ``ids [rows, seq]``.

    Position t predicts token t+1; the last position predicts nothing. Computed in float64.
    """
    x = logits[:, :-1].astype(np.float64)
    top = x.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(x - top).sum(axis=-1)) + top[..., 0]
    picked = np.take_along_axis(x, ids[:, 1:, None], axis=-1)[..., 0]
    return (lse - picked).reshape(-1), logits[:, :-1].argmax(axis=-1).reshape(-1)


def _paired_se(a: Sequence[Summary], b: Sequence[Summary]) -> float:
    """Standard error (percentage points) of the accuracy difference of two peers scored on the same items: the
    standard deviation of the per-item difference in correctness over sqrt(n)."""
    d = np.concatenate([s["correct"] for s in a]).astype(np.float64) - np.concatenate([s["correct"] for s in b])
    return 100.0 * float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan


def _agreement(a: Sequence[Summary], b: Sequence[Summary], key: str) -> float:
    pa = np.concatenate([s[key] for s in a])
    pb = np.concatenate([s[key] for s in b])
    return 100.0 * float(np.mean(pa == pb)) if len(pa) else math.nan


# ---------------------------------------------------------------------------------------------------- scorers


@dataclass(frozen=True, eq=False)
class ProbeScorer:
    """Sentence embeddings (masked mean, L2-normalised) → a fitted logistic-regression probe → accuracy in %."""

    probe: Any  # sklearn LogisticRegression fitted on fp32 embeddings

    def summarize(self, batch: Batch, output: np.ndarray) -> Summary:
        """The real rows' embeddings and the probe's predictions."""
        emb = mean_pool(output[: batch.rows], batch.feed["attention_mask"][: batch.rows])
        finite = np.isfinite(emb).all(axis=1)
        pred = np.zeros(len(emb), np.int64)  # a row with NaN/inf counts as wrong (label 0 is neither -1 nor 1)
        if finite.any():
            pred[finite] = self.probe.predict(emb[finite])
        return {"embedding": emb, "pred": pred, "correct": pred == batch.target[: batch.rows]}

    def score(self, batches: Sequence[Batch], summaries: Sequence[Summary]) -> float:
        """Accuracy (%) of the probe's predictions against the labels."""
        return 100.0 * float(np.mean(np.concatenate([s["correct"] for s in summaries])))

    def compare(self, summaries: Sequence[Summary], reference: Sequence[Summary]) -> dict[str, float]:
        """Mean cosine similarity of the embeddings to fp32's, agreement (%) of the probe's predictions, and the
        standard error of the accuracy difference (points)."""
        a = np.concatenate([s["embedding"] for s in summaries])
        b = np.concatenate([s["embedding"] for s in reference])
        cos = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)
        return {"mean_cosine": float(np.mean(cos)), "agreement": _agreement(summaries, reference, "pred"),
                "delta_se": _paired_se(summaries, reference)}


@dataclass(frozen=True, eq=False)
class PerplexityScorer:
    """Causal-LM logits → per-token next-token NLL → perplexity exp(mean NLL)."""

    def summarize(self, batch: Batch, output: np.ndarray) -> Summary:
        """Per-position NLL and argmax next-token prediction of the real rows."""
        nll, pred = _log_softmax_nll(output[: batch.rows], batch.target[: batch.rows])
        return {"nll": nll, "pred": pred}

    def score(self, batches: Sequence[Batch], summaries: Sequence[Summary]) -> float:
        """exp of the mean NLL over every predicted position of every window."""
        nll = np.concatenate([s["nll"] for s in summaries])
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.exp(np.mean(nll)))

    def compare(self, summaries: Sequence[Summary], reference: Sequence[Summary]) -> dict[str, float]:
        """Agreement (%) of the next-token argmax with fp32's, and the mean |NLL - NLL_fp32| per token."""
        a = np.concatenate([s["nll"] for s in summaries])
        b = np.concatenate([s["nll"] for s in reference])
        return {"agreement": _agreement(summaries, reference, "pred"), "mean_abs_dnll": float(np.mean(np.abs(a - b)))}


@dataclass(frozen=True, eq=False)
class ClassifierScorer:
    """Class logits → argmax → top-1 accuracy in %."""

    def summarize(self, batch: Batch, output: np.ndarray) -> Summary:
        """The real rows' predicted classes (a row with a non-finite logit counts as wrong)."""
        logits = output[: batch.rows]
        pred = np.where(np.isfinite(logits).all(axis=-1), logits.argmax(axis=-1), -1).astype(np.int64)
        return {"pred": pred, "correct": pred == batch.target[: batch.rows]}

    def score(self, batches: Sequence[Batch], summaries: Sequence[Summary]) -> float:
        """Top-1 accuracy (%)."""
        return 100.0 * float(np.mean(np.concatenate([s["correct"] for s in summaries])))

    def compare(self, summaries: Sequence[Summary], reference: Sequence[Summary]) -> dict[str, float]:
        """Agreement (%) of the predicted class with fp32's, and the standard error of the top-1 difference."""
        return {"agreement": _agreement(summaries, reference, "pred"), "delta_se": _paired_se(summaries, reference)}


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sentence embeddings: ``hidden [b, seq, h]`` averaged over the positions where ``mask`` is 1, L2-normalised
    (float64)."""
    m = mask.astype(np.float64)[..., None]
    emb = (hidden.astype(np.float64) * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
    with np.errstate(invalid="ignore", over="ignore"):
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


# ---------------------------------------------------------------------------------------------------- minilm-sentiment

SENTIMENT_BATCH = 16
PROBE_TRAIN = 2000


def _load_minilm(settings: EvalSettings) -> ZooModel:
    from tataa import models

    return dataclasses.replace(models.minilm(), batch=SENTIMENT_BATCH)


def _sentence_batches(zoo: ZooModel, items: Sequence[tuple[str, int]], seq: int) -> list[Batch]:
    """Snippets tokenized (truncated to ``seq`` tokens) in static batches, each padded to its longest snippet.

    Snippets are batched in order of length (little padding); padding never changes a real row's output.
    """
    tok = zoo.tokenizer
    items = sorted(items, key=lambda it: len(it[0]))
    out = []
    for start in range(0, len(items), zoo.batch):
        chunk = list(items[start:start + zoo.batch])
        rows = len(chunk)
        chunk += [chunk[i % rows] for i in range(zoo.batch - rows)]
        enc = tok([t for t, _ in chunk], padding=True, truncation=True, max_length=seq, return_tensors="np")
        feed = {name: enc[name].astype(np.int64) for name in ("input_ids", "attention_mask")}
        out.append(Batch(feed, rows, np.array([y for _, y in chunk[:rows]], np.int64)))
    return out


def _prepare_sentiment(zoo: ZooModel, s: EvalSettings) -> TaskData:
    from sklearn.linear_model import LogisticRegression

    from tataa.eval import datasets

    seq = s.seq or 128
    train, test = datasets.sentiment_split(s.seed)
    order = np.random.default_rng(s.seed).permutation(len(train))
    n_probe = min(s.probe_train or PROBE_TRAIN, len(train))
    probe_items = [train[i] for i in order[:n_probe]]
    calib_items = [train[i] for i in order[len(order) - min(s.calib, len(train)):]]
    scored = [test[i] for i in spread(len(test), s.limit or len(test))]

    embeddings, targets = [], []
    for b in _bar(_sentence_batches(zoo, probe_items, seq), "probe embeddings (fp32)", s.progress):
        out = zoo.run(*(torch.from_numpy(b.feed[n]) for n in zoo.input_names)).numpy()
        embeddings.append(mean_pool(out[: b.rows], b.feed["attention_mask"][: b.rows]))
        targets.append(b.target)  # batches are sorted by length: labels come with their rows
    labels = np.concatenate(targets)
    if len(set(labels.tolist())) < 2:
        raise TataaError(f"minilm-sentiment: the probe needs both labels among its {n_probe} training snippets")
    probe = LogisticRegression(max_iter=2000).fit(np.concatenate(embeddings), labels)
    batches = _sentence_batches(zoo, scored, seq)
    calibration = tuple(b.feed for b in _sentence_batches(zoo, calib_items, seq))
    return TaskData(calibration, tuple(batches), ProbeScorer(probe), len(scored), len(calib_items), {
        "split": f"sentiment_split(seed={s.seed}): {len(train)} train / {len(test)} test snippets",
        "scored": f"{len(scored)} test snippets" + ("" if len(scored) == len(test) else " (spread evenly)"),
        "probe": f"logistic regression on fp32 embeddings of {n_probe} training snippets",
        "calibration": f"{len(calib_items)} training snippets",
        "max_tokens": seq,
        "positive_fraction": float(np.mean(np.concatenate([b.target for b in batches]) > 0)),
    })


# ---------------------------------------------------------------------------------------------------- language models


def _window_batches(windows: np.ndarray, batch: int) -> list[Batch]:
    out = []
    for start in range(0, len(windows), batch):
        chunk = windows[start:start + batch]
        ids = _pad_rows(list(chunk), batch)
        out.append(Batch({"input_ids": ids}, len(chunk), ids))
    return out


def _doc_windows(tokenizer: Any, texts: Sequence[str], seq: int) -> np.ndarray:
    """Non-overlapping ``seq``-token windows inside each text (no window spans two texts; short tails dropped),
    in text order."""
    rows = []
    for text in texts:
        ids = encode(tokenizer, text)
        rows += [ids[i:i + seq] for i in range(0, len(ids) - seq + 1, seq)]
    return np.asarray(rows, np.int64).reshape(len(rows), seq)


def _load_smollm2(settings: EvalSettings) -> ZooModel:
    from tataa import models

    return models.smollm2()


WIKI_CALIBRATION_EVERY = 4
"""Every fourth Wikipedia article (dump order 3, 7, 11, ...) is calibration data; the others are scored."""


def _prepare_wikitext(zoo: ZooModel, s: EvalSettings) -> TaskData:
    from tataa.eval import datasets

    seq = s.seq or 256
    articles = datasets.wikipedia_articles()
    calib_docs = [t for i, (_, t) in enumerate(articles) if i % WIKI_CALIBRATION_EVERY == WIKI_CALIBRATION_EVERY - 1]
    scored_docs = [t for i, (_, t) in enumerate(articles) if i % WIKI_CALIBRATION_EVERY != WIKI_CALIBRATION_EVERY - 1]
    tok = zoo.tokenizer
    windows = _doc_windows(tok, scored_docs, seq)
    picked = windows[spread(len(windows), s.limit or len(windows))]
    calib_windows = _calibration_windows(tok, calib_docs, seq, s.calib)
    return TaskData(tuple(b.feed for b in _window_batches(calib_windows, zoo.batch)),
                    tuple(_window_batches(picked, zoo.batch)), PerplexityScorer(), len(picked), len(calib_windows), {
                        "split": f"{len(articles)} articles: {len(calib_docs)} for calibration (every "
                                 f"{WIKI_CALIBRATION_EVERY}th), {len(scored_docs)} scored",
                        "scored": f"{len(picked)} of {len(windows)} windows of {seq} tokens (spread evenly), "
                                  f"{len(picked) * (seq - 1)} predicted tokens",
                        "calibration": f"{len(calib_windows)} windows of {seq} tokens",
                        "window": seq,
                    })


def _calibration_windows(tokenizer: Any, docs: Sequence[str], seq: int, n: int) -> np.ndarray:
    """``n`` windows spread over ``docs``, tokenizing only as many documents as needed, in order."""
    got: list[np.ndarray] = []
    total = 0
    for doc in docs:
        w = _doc_windows(tokenizer, [doc], seq)
        got.append(w)
        total += len(w)
        if total >= 4 * n:
            break
    windows = np.concatenate(got) if got else np.zeros((0, seq), np.int64)
    if len(windows) == 0:
        raise TataaError(f"no calibration text long enough for a {seq}-token window")
    return windows[spread(len(windows), n)]


def _load_gpt2_text(settings: EvalSettings) -> ZooModel:
    from tataa.eval.trained import load_gpt2_text
    from tataa.models.wrappers import CausalLMWrapper

    model, tokenizer = load_gpt2_text()
    cfg = model.config

    def make(batch: int, seq: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (torch.randint(0, cfg.vocab_size, (batch, seq), generator=gen, dtype=torch.int64),)

    return ZooModel(name="gpt2-text", module=CausalLMWrapper(model).eval(), input_names=("input_ids",),
                    output_names=("logits",), dynamic={"input_ids": {1: "seq"}}, config=_config_json(cfg),
                    origin=f"tataa/eval/weights/gpt2-text ({_digest(model)})", make_inputs=make,
                    max_seq=cfg.n_positions, load_tokenizer=lambda: tokenizer)


def _prepare_gpt2_text(zoo: ZooModel, s: EvalSettings) -> TaskData:
    from tataa.eval import datasets, trained

    seq = s.seq or zoo.max_seq or 128
    if zoo.max_seq is not None and seq > zoo.max_seq:
        raise TataaError(f"gpt2-text: --seq {seq} exceeds the model's context of {zoo.max_seq} tokens")
    train, held = datasets.austen_split()
    tok = zoo.tokenizer
    windows = trained.heldout_windows(tok, held, seq)
    picked = windows[spread(len(windows), s.limit or len(windows))]
    # calibration: the end of each novel's training part (a few windows each), disjoint from the held-out tails
    tail_chars = max(2000, 12 * seq * (s.calib // len(train) + 1))
    calib_all = trained.token_windows(trained.token_stream(tok, [t[-tail_chars:] for t in train.values()]), seq)
    calib = calib_all[spread(len(calib_all), s.calib)]
    return TaskData(tuple(b.feed for b in _window_batches(calib, zoo.batch)), tuple(_window_batches(picked, zoo.batch)),
                    PerplexityScorer(), len(picked), len(calib), {
                        "split": "austen_split(): the last 10 % of each novel held out",
                        "scored": f"{len(picked)} of {len(windows)} held-out windows of {seq} tokens"
                                  + ("" if len(picked) == len(windows) else " (spread evenly)")
                                  + f", {len(picked) * (seq - 1)} predicted tokens",
                        "calibration": f"{len(calib)} windows from the training part's last {tail_chars} characters "
                                       "of each novel",
                        "window": seq,
                    })


# ---------------------------------------------------------------------------------------------------- vit-digits

DIGITS_BATCH = 40


def _load_vit_digits(settings: EvalSettings) -> ZooModel:
    from tataa.eval.trained import load_vit_digits
    from tataa.models.wrappers import ImageClassifierWrapper

    model = load_vit_digits()
    cfg = model.config

    def make(batch: int, seq: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (torch.rand((batch, cfg.num_channels, cfg.image_size, cfg.image_size), generator=gen),)

    return ZooModel(name="vit-digits", module=ImageClassifierWrapper(model).eval(), input_names=("pixel_values",),
                    output_names=("logits",), dynamic={}, config=_config_json(cfg),
                    origin=f"tataa/eval/weights/vit-digits ({_digest(model)})", make_inputs=make, batch=DIGITS_BATCH)


def _image_batches(x: np.ndarray, y: np.ndarray, batch: int) -> list[Batch]:
    out = []
    for start in range(0, len(x), batch):
        chunk = x[start:start + batch]
        out.append(Batch({"pixel_values": _pad_rows(list(chunk), batch).astype(np.float32)}, len(chunk),
                         y[start:start + batch]))
    return out


def _prepare_digits(zoo: ZooModel, s: EvalSettings) -> TaskData:
    from tataa.eval import datasets

    x_tr, y_tr, x_te, y_te = datasets.digits_split(s.seed)
    pick = spread(len(x_te), s.limit or len(x_te))
    calib = spread(len(x_tr), s.calib)
    batches = _image_batches(x_te[pick], y_te[pick], zoo.batch)
    calibration = tuple(b.feed for b in _image_batches(x_tr[calib], y_tr[calib], zoo.batch))
    return TaskData(calibration, tuple(batches), ClassifierScorer(), len(pick), len(calib), {
        "split": f"digits_split(seed={s.seed}): {len(x_tr)} train / {len(x_te)} test images",
        "scored": f"{len(pick)} test images" + ("" if len(pick) == len(x_te) else " (spread evenly)"),
        "calibration": f"{len(calib)} training images",
    })


# ---------------------------------------------------------------------------------------------------- registry

TASKS: dict[str, Task] = {t.name: t for t in (
    Task("minilm-sentiment", "accuracy", "%", True,
         "all-MiniLM-L6-v2 embeddings + logistic-regression probe, accuracy on held-out movie-review snippets",
         "Hutto & Gilbert (ICWSM 2014) rotten-tomatoes snippets, vaderSentiment 3.3.2 sdist",
         _load_minilm, _prepare_sentiment, default_limit=None, default_seq=128),
    Task("smollm2-wikitext", "perplexity", "", False,
         "SmolLM2-135M-Instruct perplexity over 256-token windows of Wikipedia articles",
         "enwiki articles shipped in gensim 4.4.0's test data",
         _load_smollm2, _prepare_wikitext, default_limit=16, default_seq=256, fixed_dims=True),
    Task("gpt2-text", "perplexity", "", False,
         "the project's GPT-2 (trained on Austen) perplexity on held-out Austen text",
         "Jane Austen's novels from Debian's r-cran-janeaustenr",
         _load_gpt2_text, _prepare_gpt2_text, default_limit=None, default_seq=None, fixed_dims=True),
    Task("vit-digits", "top-1", "%", True,
         "the project's ViT (trained on 8x8 digits) top-1 on held-out digits",
         "scikit-learn's bundled handwritten digits (load_digits)",
         _load_vit_digits, _prepare_digits, default_limit=None, default_seq=None),
)}
"""Every task ``tataa eval`` knows, by name."""


def get_task(name: str) -> Task:
    """The task called ``name``; a TataaError listing the known ones otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        raise TataaError(f"unknown eval task {name!r}; known: {', '.join(TASKS)}") from None


def validate(settings: EvalSettings) -> EvalSettings:
    """``settings``, or a TataaError naming the first out-of-range value."""
    _check_positive("--limit", settings.limit)
    _check_positive("--calib", settings.calib)
    _check_positive("probe_train", settings.probe_train)
    if settings.seq is not None and settings.seq < 2:
        raise TataaError(f"--seq must be at least 2, got {settings.seq}")
    return settings


__all__ = ["TASKS", "Batch", "ClassifierScorer", "EvalSettings", "Feed", "PerplexityScorer", "ProbeScorer", "Scorer",
           "Summary", "Task", "TaskData", "encode", "get_task", "mean_pool", "spread", "validate"]
