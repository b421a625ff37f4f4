"""`tataa eval`: the scorers, the runner's peers and bookkeeping, the four tasks end to end, and the command."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may download; set before transformers / huggingface_hub load

import dataclasses
import json
import math
from collections.abc import Iterable

import numpy as np
import pytest
import torch

from tataa import cli, models
from tataa.errors import TataaError
from tataa.eval import peers as peers_mod
from tataa.eval import runner as runner_mod
from tataa.eval.peers import PEERS, PeerUnavailable
from tataa.eval.report import format_result, format_task_list, result_json
from tataa.eval.runner import evaluate
from tataa.eval.tasks import (
    TASKS,
    Batch,
    ClassifierScorer,
    EvalSettings,
    PerplexityScorer,
    ProbeScorer,
    Task,
    TaskData,
    get_task,
    mean_pool,
    spread,
)
from tataa.quant.recipe import PAPER_RECIPE

QUICK = {"progress": False}
JSON_FIELDS = ("metric", "n", "fp32", "tataa", "ort_int8", "paper_recipe", "deltas", "timings", "recipe")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `tataa argv...` in-process; return (exit status, stdout, stderr)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows_of(feeds: Iterable[dict[str, np.ndarray]], key: str) -> set[bytes]:
    """Every batch row of ``feeds[key]`` (masked-out token positions dropped), as bytes."""
    out = set()
    for f in feeds:
        for i, row in enumerate(f[key]):
            if "attention_mask" in f:
                row = row[f["attention_mask"][i] == 1]
            out.add(np.ascontiguousarray(row).tobytes())
    return out


# ---------------------------------------------------------------------------------------------------- scorers


def test_spread_picks_distinct_sorted_indices_over_the_whole_range() -> None:
    for n, k in [(10, 3), (100, 7), (5, 5), (5, 9), (2113, 16)]:
        idx = spread(n, k)
        assert len(idx) == min(n, k)
        assert len(set(idx.tolist())) == len(idx) and np.all(np.diff(idx) > 0)
        assert idx[0] == 0 and idx[-1] < n
        if k < n:
            assert idx[-1] >= n - n // k - 1  # reaches the end, not just the first k


def test_perplexity_of_uniform_logits_is_the_vocabulary_size() -> None:
    vocab, seq = 37, 9
    ids = np.random.default_rng(0).integers(0, vocab, (2, seq))
    batch = Batch({"input_ids": ids}, 2, ids)
    s = PerplexityScorer()
    summary = s.summarize(batch, np.full((2, seq, vocab), 3.25, np.float32))
    assert summary["nll"].shape == (2 * (seq - 1),)
    assert s.score([batch], [summary]) == pytest.approx(vocab, rel=1e-9)


def test_perplexity_matches_torch_cross_entropy_and_ignores_padded_rows() -> None:
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 50, (3, 12))
    logits = rng.normal(0, 3, (3, 12, 50)).astype(np.float32)
    batch = Batch({"input_ids": ids}, 2, ids)  # row 2 pads the static batch
    s = PerplexityScorer()
    got = s.score([batch], [s.summarize(batch, logits)])
    t = torch.from_numpy(logits[:2, :-1].astype(np.float64)).reshape(-1, 50)
    want = math.exp(float(torch.nn.functional.cross_entropy(t, torch.from_numpy(ids[:2, 1:]).reshape(-1))))
    assert got == pytest.approx(want, rel=1e-9)
    other = logits.copy()
    other[2] = 0.0
    assert s.score([batch], [s.summarize(batch, other)]) == got


def test_mean_pool_ignores_padding_and_normalises() -> None:
    rng = np.random.default_rng(2)
    hidden = rng.normal(size=(2, 5, 8))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    emb = mean_pool(hidden, mask)
    hidden2 = hidden.copy()
    hidden2[0, 3:] = 1e6  # padding positions change: the embedding must not
    assert np.allclose(mean_pool(hidden2, mask), emb)
    want = hidden[0, :3].mean(axis=0)
    assert np.allclose(emb[0], want / np.linalg.norm(want))
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0)


def test_probe_scorer_accuracy_cosine_and_agreement() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    direction = rng.normal(size=8)
    x = rng.normal(size=(200, 8))
    y = np.where(x @ direction > 0, 1, -1)
    probe = LogisticRegression().fit(x / np.linalg.norm(x, axis=1, keepdims=True), y)
    hidden = x[:, None, :].repeat(3, axis=1)  # every position equal: the pooled embedding is x normalised
    mask = np.ones((200, 3), np.int64)
    batch = Batch({"attention_mask": mask}, 200, y)
    s = ProbeScorer(probe)
    ref = s.summarize(batch, hidden)
    assert s.score([batch], [ref]) > 95.0
    flipped = s.summarize(batch, -hidden)  # opposite embeddings: cosine -1, every prediction flips
    cmp = s.compare([flipped], [ref])
    assert cmp["mean_cosine"] == pytest.approx(-1.0)
    assert cmp["agreement"] < 5.0
    assert s.score([batch], [flipped]) < 5.0
    nan = hidden.copy()
    nan[:100] = np.nan
    assert s.score([batch], [s.summarize(batch, nan)]) <= 50.0 + 1e-9  # NaN rows count as wrong


def test_classifier_scorer_counts_nonfinite_rows_as_wrong() -> None:
    logits = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]]
    batch = Batch({}, 4, np.array([0, 1, 2, 0]))
    s = ClassifierScorer()
    assert s.score([batch], [s.summarize(batch, logits)]) == 75.0
    logits[0, 1] = np.nan
    bad = s.summarize(batch, logits)
    assert s.score([batch], [bad]) == 50.0
    cmp = s.compare([bad], [s.summarize(batch, np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]])])
    assert cmp["agreement"] == 75.0
    # per-item correctness differences (-1, 0, 0, 0): s.d. 0.5 (n - 1 = 3 degrees of freedom), over sqrt(4)
    assert cmp["delta_se"] == pytest.approx(100.0 * 0.5 / 2.0)


# ---------------------------------------------------------------------------------------------------- the runner


def _toy_task(n_images: int = 4) -> Task:
    """A cheap task on the zoo's random-weight ViT: random images, labels = fp32's own predictions on half."""

    def load(settings: EvalSettings) -> models.ZooModel:
        return models.vit("tiny")

    def prepare(zoo: models.ZooModel, settings: EvalSettings) -> TaskData:
        rng = np.random.default_rng(settings.seed)
        x = rng.normal(size=(n_images + settings.calib, 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, n_images)
        batches = tuple(Batch({"pixel_values": x[i:i + 1]}, 1, y[i:i + 1]) for i in range(n_images))
        calib = tuple({"pixel_values": x[n_images + i:n_images + i + 1]} for i in range(settings.calib))
        return TaskData(calib, batches, ClassifierScorer(), n_images, settings.calib, {"scored": "toy"})

    return Task("toy-vit", "top-1", "%", True, "random ViT on noise", "numpy noise", load, prepare,
                default_limit=None, default_seq=None)


def test_runner_scores_every_peer_on_the_same_batches() -> None:
    res = evaluate(_toy_task(), EvalSettings(calib=2, **QUICK), strict=True)
    assert [p.name for p in res.peers] == list(PEERS)
    assert all(p.status == "ok" for p in res.peers), [(p.name, p.reason) for p in res.peers]
    fp32 = res.peer("fp32").value
    assert res.ir_max_rel_err is not None and res.ir_ok
    assert res.peer("ir_float").value == fp32
    assert res.peer("ir_float").extras["agreement"] == 100.0
    for p in res.peers[1:]:
        assert p.delta == pytest.approx(p.value - fp32)
        assert 0.0 <= p.extras["agreement"] <= 100.0
    assert res.peer("tataa").info["int8_linear"] > 0
    assert res.peer("tataa").info["recipe"]["name"] == "tataa"
    assert res.peer("paper_recipe").info["recipe"]["approximations"] == "paper"
    doc = result_json(res)
    json.dumps(doc, allow_nan=False)
    for key in JSON_FIELDS:
        assert key in doc
    assert doc["n"] == 4 and doc["fp32"] == fp32 and doc["unavailable"] == {}
    text = format_result(res)
    for title in ("fp32 (torch)", "IR interpreter", "tataa int8", "onnxruntime int8", "paper recipe"):
        assert title in text


def test_missing_quantizer_makes_the_tataa_columns_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise PeerUnavailable("tataa.quant.quantize is not in this checkout yet")

    monkeypatch.setattr(peers_mod, "quant_api", missing)
    res = evaluate(_toy_task(2), EvalSettings(calib=1, **QUICK), peers=("fp32", "tataa", "paper_recipe"))
    assert res.peer("fp32").status == "ok"
    for name in ("tataa", "paper_recipe"):
        assert res.peer(name).status == "unavailable" and res.peer(name).value is None
    doc = result_json(res)
    assert doc["tataa"] is None and doc["paper_recipe"] is None and doc["ort_int8"] is None
    assert "not in this checkout" in doc["unavailable"]["tataa"]
    assert "unavailable: tataa.quant.quantize" in format_result(res)


def test_a_failing_peer_is_reported_and_the_others_still_score(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("onnxruntime exploded")

    monkeypatch.setattr(runner_mod, "ort_int8_peer", broken)
    res = evaluate(_toy_task(2), EvalSettings(calib=1, **QUICK), peers=("fp32", "ir_float", "ort_int8"))
    assert res.peer("ort_int8").status == "failed"
    assert "RuntimeError: onnxruntime exploded" in (res.peer("ort_int8").reason or "")
    assert res.peer("ir_float").status == "ok"
    with pytest.raises(RuntimeError, match="exploded"):
        evaluate(_toy_task(2), EvalSettings(calib=1, **QUICK), peers=("fp32", "ort_int8"), strict=True)


def test_paper_recipe_in_the_tataa_column_is_built_once() -> None:
    res = evaluate(_toy_task(2), EvalSettings(calib=1, **QUICK), recipe="paper",
                   peers=("fp32", "tataa", "paper_recipe"))
    assert res.recipe == PAPER_RECIPE
    assert res.peer("tataa").value == res.peer("paper_recipe").value
    assert res.peer("tataa").info["recipe"]["approximations"] == "paper"


def test_bad_settings_and_names_are_tataa_errors() -> None:
    with pytest.raises(TataaError, match="known: minilm-sentiment, smollm2-wikitext, gpt2-text, vit-digits"):
        get_task("imagenet")
    with pytest.raises(TataaError, match="--limit must be a positive integer, got 0"):
        evaluate("vit-digits", EvalSettings(limit=0))
    with pytest.raises(TataaError, match="--calib must be a positive integer, got -3"):
        evaluate("vit-digits", EvalSettings(calib=-3))
    with pytest.raises(TataaError, match="unknown recipe 'fast'; known: tataa, paper"):
        evaluate("vit-digits", recipe="fast")
    with pytest.raises(TataaError, match="unknown peer"):
        evaluate("vit-digits", peers=("fp32", "tensorrt"))


# ---------------------------------------------------------------------------------------------------- the four tasks


def _check_end_to_end(res: runner_mod.EvalResult, n: int) -> dict[str, object]:
    """What holds for every task: every peer ran, IR = fp32, deltas and JSON consistent."""
    assert res.n == n
    assert all(p.status == "ok" for p in res.peers), [(p.name, p.reason) for p in res.peers]
    assert res.ir_ok, res.ir_max_rel_err
    fp32 = res.peer("fp32").value
    assert fp32 is not None and math.isfinite(fp32)
    assert res.peer("ir_float").value == pytest.approx(fp32, rel=peers_mod.IR_TOLERANCE)
    doc = result_json(res)
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text) == doc
    for key in JSON_FIELDS:
        assert key in doc
    for name in ("ir_float", "tataa", "ort_int8", "paper_recipe"):
        assert isinstance(doc[name], float | str)
        assert name in doc["deltas"]
    return doc


def test_minilm_sentiment_end_to_end() -> None:
    res = evaluate("minilm-sentiment", EvalSettings(limit=48, calib=16, seq=32, probe_train=256, **QUICK),
                   strict=True)
    _check_end_to_end(res, 48)
    assert res.metric == "accuracy" and res.unit == "%"
    # the probe beats chance clearly on held-out snippets (about 50 % if its labels were misaligned)
    assert res.peer("fp32").value >= 65.0
    for name in ("tataa", "ort_int8"):
        assert res.peer(name).extras["mean_cosine"] > 0.8
    assert res.peer("ir_float").extras["mean_cosine"] == pytest.approx(1.0, abs=1e-6)


def test_minilm_sentiment_calibration_is_disjoint_from_the_scored_split() -> None:
    task = get_task("minilm-sentiment")
    settings = EvalSettings(limit=64, calib=64, seq=32, probe_train=16, **QUICK)
    data = task.prepare(task.load_model(settings), settings)
    assert data.n == 64 and sum(b.rows for b in data.batches) == 64
    assert data.n_calibration == 64
    scored = rows_of([b.feed for b in data.batches], "input_ids")
    assert len(scored) >= 60
    assert not scored & rows_of(data.calibration, "input_ids")


@pytest.mark.slow
def test_smollm2_wikitext_end_to_end() -> None:
    res = evaluate("smollm2-wikitext", EvalSettings(limit=1, calib=1, seq=16, **QUICK), strict=True)
    _check_end_to_end(res, 1)
    assert res.metric == "perplexity" and not res.higher_is_better
    assert 1.0 < res.peer("fp32").value < 1e4
    assert res.details["window"] == 16


@pytest.mark.slow
def test_wikitext_windows_come_from_disjoint_articles() -> None:
    task = get_task("smollm2-wikitext")
    settings = EvalSettings(limit=8, calib=8, seq=32, **QUICK)
    data = task.prepare(task.load_model(settings), settings)
    assert data.n == 8 and all(b.feed["input_ids"].shape == (1, 32) for b in data.batches)
    assert not rows_of([b.feed for b in data.batches], "input_ids") & rows_of(data.calibration, "input_ids")
    assert "74 scored" in data.details["split"]


def test_gpt2_text_end_to_end() -> None:
    res = evaluate("gpt2-text", EvalSettings(limit=3, calib=2, seq=32, **QUICK), strict=True)
    _check_end_to_end(res, 3)
    assert 1.0 < res.peer("fp32").value < 2048  # below the vocabulary size: the model learned something
    assert res.peer("tataa").extras["agreement"] > 50.0


def test_vit_digits_end_to_end() -> None:
    res = evaluate("vit-digits", EvalSettings(limit=40, calib=40, **QUICK), strict=True)
    _check_end_to_end(res, 40)
    assert res.peer("fp32").value >= 85.0
    assert res.peer("tataa").extras["agreement"] >= 80.0


def test_digits_calibration_images_are_training_images() -> None:
    task = get_task("vit-digits")
    settings = EvalSettings(limit=360, calib=40, **QUICK)
    data = task.prepare(task.load_model(settings), settings)
    assert data.n == 360 and sum(b.rows for b in data.batches) == 360
    scored = rows_of([{"x": b.feed["pixel_values"][: b.rows]} for b in data.batches], "x")
    assert not scored & rows_of([{"x": f["pixel_values"]} for f in data.calibration], "x")
    labels = np.concatenate([b.target for b in data.batches])
    assert set(labels.tolist()) == set(range(10))


# ---------------------------------------------------------------------------------------------------- the command


def test_cli_lists_the_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "eval", "--list")
    assert code == 0 and out == format_task_list()
    for name in TASKS:
        assert name in out


def test_cli_errors_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "eval", "imagenet")
    assert code == 2 and out == ""
    assert err.startswith("tataa: error: unknown eval task 'imagenet'")
    for name in TASKS:
        assert name in err
    assert "Traceback" not in err
    code, _, err = run_cli(capsys, "eval")
    assert code == 2 and "give --list" in err
    code, _, err = run_cli(capsys, "eval", "vit-digits", "--limit", "0")
    assert code == 2 and "--limit must be a positive integer" in err
    code, _, err = run_cli(capsys, "eval", "vit-digits", "--recipe", "fast")
    assert code == 2 and "invalid choice" in err


def test_cli_json_is_one_object_with_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "eval", "vit-digits", "--limit", "40", "--calib", "40", "--json",
                             "--recipe", "paper")
    assert code == 0, err
    doc = json.loads(out)
    for key in JSON_FIELDS:
        assert key in doc
    assert doc["metric"] == "top-1" and doc["n"] == 40 and doc["calibration_samples"] == 40
    assert doc["recipe"]["name"] == "paper" and doc["tataa"] == doc["paper_recipe"]
    assert doc["deltas"]["tataa"] == pytest.approx(doc["tataa"] - doc["fp32"])
    assert doc["ir_ok"] is True


def test_cli_table_and_progress_bars(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TASKS, "toy-vit", _toy_task(2))
    code, out, err = run_cli(capsys, "eval", "toy-vit", "--calib", "1")
    assert code == 0, err
    assert out.startswith("toy-vit: random ViT on noise")
    for title in ("fp32 (torch)", "IR interpreter", "tataa int8", "onnxruntime int8 (QDQ)", "paper recipe"):
        assert title in out
    assert "max relative error" in out and ": ok" in out
    assert "toy-vit: evaluating" in err  # tqdm bars go to stderr


def test_settings_are_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    res = evaluate(_toy_task(1), EvalSettings(calib=1, **QUICK), peers=("fp32",))
    doc = result_json(res)
    assert doc["settings"] == dataclasses.asdict(res.settings)
    assert [p.name for p in res.peers] == ["fp32"]
