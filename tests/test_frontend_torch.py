"""The torch frontend: torch.export and FX graphs into the IR, checked against torch with the IR interpreter."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tataa.errors import FrontendError, UnsupportedOpsError
from tataa.frontend.torch_import import import_fx, import_torch
from tataa.ir.interp import run_graph
from tataa.ir.types import DType

TOL = 1e-5


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def check(module: nn.Module, inputs: dict[str, torch.Tensor], *, via: Callable = import_torch, optimize: bool = False,
          more: list[dict[str, torch.Tensor]] | None = None, **kw: object):
    """Import ``module`` and compare every output with torch on ``inputs`` (and on each of ``more``)."""
    module.eval()
    result = via(module, inputs, optimize=optimize, **kw)
    g = result.graph
    for feed in [inputs, *(more or [])]:
        with torch.no_grad():
            ref = module(**feed)
        refs = list(ref.values()) if isinstance(ref, dict) else list(ref) if isinstance(ref, tuple) else [ref]
        got = run_graph(g, {k: _np(v) for k, v in feed.items()})
        assert len(g.outputs) == len(refs)
        for name, r in zip(g.outputs, refs, strict=True):
            out = got[name]
            assert out.shape == tuple(r.shape), (name, out.shape, r.shape)
            if r.dtype in (torch.bool, torch.int64, torch.int32):
                np.testing.assert_array_equal(out, _np(r))
            else:
                np.testing.assert_allclose(out, _np(r), rtol=TOL, atol=TOL)
    return result


class Fn(nn.Module):
    """``forward(x) = fn(x)``."""

    def __init__(self, fn: Callable[[torch.Tensor], object]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> object:
        return self.fn(x)


class Fn2(nn.Module):
    """``forward(x, y) = fn(x, y)``."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], object]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> object:
        return self.fn(x, y)


def _r(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


X = _r(2, 5, 8)
B = torch.tensor([[True, False, True, True, False, False, True, False]] * 5).expand(2, 5, 8).contiguous()
IDX = torch.tensor([[0, 3, 1], [2, 2, 4]])

UNARY: dict[str, Callable[[torch.Tensor], object]] = {
    "add_alpha_scalar": lambda x: torch.add(x, x * 2, alpha=0.5) + 3,
    "sub_rsub": lambda x: (x - 1.5, 2.0 - x, torch.rsub(x, 1.0, alpha=2)),
    "mul_div_pow": lambda x: (x * x / (x.abs() + 1), x**2, 2.0**x, x.pow(3)),
    "int_true_division": lambda x: (x > 0).long().sum(-1) / 4,
    "unary_math": lambda x: (-x, x.exp(), x.abs().sqrt(), (x.abs() + 1).rsqrt(), x.tanh(), torch.erf(x),
                             x.sigmoid(), x.relu(), (x.abs() + 0.5).log(), (x + 9).reciprocal()),
    "activations": lambda x: (F.gelu(x), F.gelu(x, approximate="tanh"), F.silu(x), F.leaky_relu(x, 0.1),
                              F.hardtanh(x), F.relu6(x * 4)),
    "clamp": lambda x: (x.clamp(-0.5, 0.5), x.clamp(min=0.1), x.clamp_max(0.2)),
    "compare_scalar": lambda x: (x > 0, x >= 0.5, x < -0.1, x <= 0, x == 0, x != 0),
    "bool_logic": lambda x: ((x > 0) & (x < 1), (x > 0) | (x < -1), ~(x > 0), (x > 0) ^ (x > 1)),
    "where": lambda x: (torch.where(x > 0, x, 0.0), torch.where(x > 0, 1.0, x * 2)),
    "masked_fill": lambda x: x.masked_fill(x < 0, float("-inf")).softmax(-1),
    "reductions": lambda x: (x.mean(-1), x.sum((0, 2), keepdim=True), x.amax(1), x.amin(-1, keepdim=True),
                             x.max(-1).values, x.sum(), x.max()),
    "var_std": lambda x: (x.var(-1), x.std(1, keepdim=True), x.var(-1, unbiased=False)),
    "softmax": lambda x: (x.softmax(-1), F.log_softmax(x, dim=1), torch.softmax(x, 0)),
    "layer_norm": lambda x: (F.layer_norm(x, (8,)), F.layer_norm(x, (5, 8), eps=1e-3)),
    "rms_norm": lambda x: F.rms_norm(x, (8,), eps=1e-6),
    "views": lambda x: (x.view(10, 8), x.reshape(2, -1), x.flatten(1), x.unflatten(2, (2, 4)), x.permute(2, 0, 1),
                        x.transpose(0, 2), x[0].t(), x.unsqueeze(1).squeeze(1), x[:, :1].squeeze()),
    "expand_repeat": lambda x: (x[:, :1].expand(2, 5, 8), x[:1].expand(3, -1, -1), x.repeat(1, 2, 1),
                                x[0, :, :1].expand_as(x[0])),
    "slice_select": lambda x: (x[:, 1:4], x[..., ::2], x[:, -2:], x[1], x[:, -1], x[:, 2:100], x.narrow(2, 1, 3)),
    "cat_stack": lambda x: (torch.cat([x, x * 2], dim=-1), torch.stack([x, -x], dim=1)),
    "split_chunk_unbind": lambda x: (*x.split(3, dim=-1), *x.split([2, 6], dim=2), *x.chunk(2, dim=1),
                                     *x.unbind(0)),
    "casts": lambda x: (x.to(torch.float64), (x > 0).float(), (x * 4).long(), x.type_as(x), x.to(torch.bool)),
    "factories": lambda x: (x + torch.ones(8), x.new_zeros(3, 2), torch.zeros_like(x), torch.full_like(x, 2.5),
                            torch.full((2, 3), 7, dtype=torch.int64), x.new_ones(4, dtype=torch.bool)),
    "arange": lambda x: (torch.arange(5) * x.shape[-1], torch.arange(2, 9, 3), torch.arange(4, dtype=torch.float32)),
    "cumsum_diff": lambda x: (x.cumsum(-1), (x > 0).cumsum(1), torch.diff(x, dim=-1),
                              torch.diff(x, dim=1, prepend=x[:, :1] * 0), torch.diff(x > 0, dim=-1)),
    "tril_triu": lambda x: (x.tril(), x.triu(1), torch.tril(x, -1), (x > 0).triu()),
    "matmul_1d": lambda x: (x @ x[0, 0], x[0, 0] @ x[0].t(), torch.matmul(x, x.transpose(1, 2))),
    "index_tensor": lambda x: (x[:, IDX], x[0, IDX, 2], x[:, :, torch.tensor([7, -1, 0])], x[IDX % 2, IDX]),
    "gather_index_select": lambda x: (torch.gather(x, 2, IDX.view(1, 2, 3).expand(2, 2, 3)),
                                      torch.index_select(x, 1, torch.tensor([4, 0]))),
}


FX_UNTRACEABLE = {"split_chunk_unbind"}  # unpacks a Proxy: symbolic tracing cannot, torch.export can
VIA = pytest.mark.parametrize("via", [import_torch, import_fx], ids=["export", "fx"])


@VIA
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_modules_match_torch(name: str, via: Callable) -> None:
    if via is import_fx and name in FX_UNTRACEABLE:
        with pytest.raises(FrontendError, match="use import_torch"):
            import_fx(Fn(UNARY[name]), {"x": X})
        return
    check(Fn(UNARY[name]), {"x": X}, via=via)


BINARY: dict[str, tuple[Callable[[torch.Tensor, torch.Tensor], object], torch.Tensor, torch.Tensor]] = {
    "broadcast_arith": (lambda x, y: (x + y, x * y, x - y, x / (y.abs() + 1), torch.maximum(x, y),
                                      torch.minimum(x, y)), X, _r(5, 1, seed=1)),
    "compare_tensors": (lambda x, y: (x == y, x < y, x >= y), X, _r(8, seed=2).round()),
    "mixed_dtype": (lambda x, y: (x + y, x * y, x > y), X, torch.arange(8)),
    "bmm_mm": (lambda x, y: (torch.bmm(x, y), x[0] @ y[1], torch.mm(x[1], y[0])), X, _r(2, 8, 3, seed=3)),
    "embedding": (lambda x, y: F.embedding(y, x[0]), X, torch.tensor([[4, 0, 1], [2, 2, 3]])),
    "bool_mask_where": (lambda x, y: torch.where(y, x, -x).masked_fill(~y, 0.25), X, B),
}


@VIA
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_modules_match_torch(name: str, via: Callable) -> None:
    fn, x, y = BINARY[name]
    check(Fn2(fn), {"x": x, "y": y}, via=via)


class Attention(nn.Module):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if self.mode == "causal":
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        if self.mode == "bool":
            keep = q.new_ones((q.shape[-2], k.shape[-2]), dtype=torch.bool).tril(1)
            return F.scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=0.3)
        if self.mode == "float":
            bias = torch.arange(k.shape[-2], dtype=torch.float32)[None, :] * -0.1
            return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)


@VIA
@pytest.mark.parametrize("mode", ["causal", "bool", "float", "gqa"])
def test_sdpa_maps_to_attention(mode: str, via: Callable) -> None:
    hk = 2 if mode == "gqa" else 4
    q, k, v = _r(1, 4, 6, 8, seed=1), _r(1, hk, 6, 8, seed=2), _r(1, hk, 6, 8, seed=3)
    result = check(Attention(mode), {"q": q, "k": k, "v": v}, via=via)
    att = [n for n in result.graph.nodes if n.op == "attention"]
    assert len(att) == 1 and att[0].attr("causal") == (mode in ("causal", "gqa"))
    expected_scale = 0.3 if mode == "bool" else 8**-0.5
    assert att[0].attr("scale") == pytest.approx(expected_scale)


class Layers(nn.Module):
    """Parameterised layers: Linear (weight [out, in] -> IR [in, out]), Conv1D-style addmm, LayerNorm, patches."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(8, 6)
        self.nobias = nn.Linear(6, 4, bias=False)
        self.c_w = nn.Parameter(torch.randn(4, 5))
        self.c_b = nn.Parameter(torch.randn(5))
        self.ln = nn.LayerNorm(5)
        self.conv = nn.Conv2d(3, 5, kernel_size=4, stride=4)

    def forward(self, x: torch.Tensor, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.nobias(F.gelu(self.fc(x)))
        h = torch.addmm(self.c_b, h.view(-1, 4), self.c_w).view(2, 5, 5)
        patches = self.conv(img).flatten(2).transpose(1, 2)
        return self.ln(h), patches


@VIA
def test_parameters_become_fqn_constants_and_layers_match(via: Callable) -> None:
    result = check(Layers(), {"x": X, "img": _r(2, 3, 9, 8, seed=4)}, via=via)
    g = result.graph
    consts = g.constant_map
    assert consts["fc.weight"].shape == (8, 6)  # transposed to [in, out]
    np.testing.assert_array_equal(consts["fc.weight"], _np(Layers().fc.weight).T)
    assert {"fc.bias", "nobias.weight", "c_w", "c_b", "ln.weight", "ln.bias", "conv.weight", "conv.bias"} <= set(consts)
    hist = g.op_histogram()
    assert hist["linear"] == 4 and hist["layer_norm"] == 1  # fc, nobias, addmm, the patch convolution
    assert [v.name for v in g.inputs] == ["x", "img"]


def test_unsupported_convolution_is_reported_with_the_reason() -> None:
    conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
    with pytest.raises(UnsupportedOpsError, match=r"padding \(1, 1\)"):
        import_torch(Fn(conv), {"x": _r(1, 3, 6, 6)})


# ---------------------------------------------------------------------------------------------------- dynamic sizes


class SymArith(nn.Module):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        b, s, d = x.shape
        y = x.reshape(b * s, d)[: s * 2 - 1]
        pos = torch.arange(s)[None, :].expand(b, -1)
        return {"flat": y, "pos": pos, "last": x[:, s - 1], "tri": x[..., :1].expand(b, s, s).tril()}


def test_symbolic_sizes_become_dim_expressions() -> None:
    result = check(SymArith(), {"x": _r(2, 5, 3)}, dynamic={"x": {1: "seq"}}, more=[{"x": _r(2, 9, 3, seed=5)}])
    g = result.graph
    assert g.inputs[0].type.shape == (2, "seq", 3)
    assert list(g.outputs) == ["flat", "pos", "last", "tri"]  # dict keys name the outputs
    assert g.type_of("flat").shape == ("2*seq-1", 3)
    assert g.type_of("tri").shape == (2, "seq", "seq")
    assert g.type_of("pos").dtype is DType.I64


class Rope(nn.Module):
    """Rotary tables computed from positions at run time (as HF Llama does): only torch can evaluate cos/sin."""

    def __init__(self, scaled: bool = False) -> None:
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / 10000 ** (torch.arange(0, 8, 2).float() / 8), persistent=False)
        self.scaled = scaled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(x.shape[1]).float()
        if self.scaled:
            pos = pos / x.shape[1]  # depends on the length itself: no single table has every length as a prefix
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        x1, x2 = x[..., :4], x[..., 4:]
        return x * emb.cos() + torch.cat([-x2, x1], dim=-1) * emb.sin()


def test_input_independent_cos_sin_become_sliced_tables() -> None:
    result = check(Rope(), {"x": _r(1, 6, 8)}, dynamic={"x": {1: "seq"}}, max_sizes={"seq": 32}, optimize=True,
                   more=[{"x": _r(1, 11, 8, seed=6)}, {"x": _r(1, 32, 8, seed=7)}])
    assert result.folded["aten.cos.default"] == 1 and result.folded["aten.sin.default"] == 1
    assert result.graph.op_histogram()["rotary"] == 1  # the optimizer recognises rotate_half on the tables


def test_length_dependent_tables_and_missing_bounds_are_refused() -> None:
    with pytest.raises(UnsupportedOpsError, match="not a prefix"):
        import_torch(Rope(scaled=True), {"x": _r(1, 6, 8)}, dynamic={"x": {1: "seq"}}, max_sizes={"seq": 32})
    with pytest.raises(UnsupportedOpsError, match="upper bound for seq"):
        import_torch(Rope(), {"x": _r(1, 6, 8)}, dynamic={"x": {1: "seq"}})


class StaticTable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("phase", torch.linspace(0, 3, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.cos(self.phase) + torch.sort(self.phase, descending=True).values


def test_size_independent_tables_need_no_bound() -> None:
    result = check(StaticTable(), {"x": _r(1, 4, 8)}, dynamic={"x": {1: "seq"}}, more=[{"x": _r(1, 9, 8, seed=8)}])
    assert result.folded["aten.cos.default"] == 1 and result.folded["aten.sort.default"] == 1


def test_dims_specialise_symbols() -> None:
    result = import_torch(SymArith(), {"x": _r(2, 5, 3)}, dynamic={"x": {1: "seq"}}, dims={"seq": 7})
    assert result.graph.inputs[0].type.shape == (2, 7, 3)
    assert result.report is not None


# ---------------------------------------------------------------------------------------------------- whole models


def _wrap(model: nn.Module) -> nn.Module:
    class Hidden(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, use_cache=False).last_hidden_state

    return Hidden().eval()


def _ids(seq: int, seed: int) -> dict[str, torch.Tensor]:
    return {"input_ids": torch.randint(0, 96, (1, seq), generator=torch.Generator().manual_seed(seed))}


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_two_layer_decoders_with_dynamic_seq(family: str) -> None:
    import transformers
    torch.manual_seed(0)
    if family == "gpt2":
        cfg = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=96, n_positions=32,
                                      bos_token_id=0, eos_token_id=0)
        model = transformers.GPT2Model(cfg)
    else:
        cfg = transformers.LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                                       num_key_value_heads=2, intermediate_size=64, vocab_size=96,
                                       max_position_embeddings=32)
        model = transformers.LlamaModel(cfg)
    module = _wrap(model)
    result = check(module, _ids(7, 0), dynamic={"input_ids": {1: "seq"}}, optimize=True, more=[_ids(12, 1)])
    g = result.graph
    assert g.inputs[0].type.shape == (1, "seq")
    hist = g.op_histogram()
    assert hist["attention"] == 2
    assert hist["linear"] == (8 if family == "gpt2" else 14)
    if family == "llama":
        assert hist["rms_norm"] == 5 and hist["rotary"] == 4 and hist["silu"] == 2
        assert result.folded["aten.cos.default"] == 1  # the rotary table
    else:
        assert hist["layer_norm"] == 5
    assert sum(result.source_ops.values()) > sum(hist.values())


# ---------------------------------------------------------------------------------------------------- FX


class Block(nn.Module):
    """A hand-written pre-norm transformer block, traceable by torch.fx."""

    def __init__(self, d: int = 16, heads: int = 2) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d),
                                 nn.Dropout(0.1))
        self.emb = nn.Embedding(10, d)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.emb(ids)
        b, t, c = x.size()
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-2, -1)) * (k.size(-1) ** -0.5)
        keep = att.new_ones((t, t), dtype=torch.bool).tril()
        att = self.softmax(att.masked_fill(~keep, float("-inf")))
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + F.dropout(self.proj(y), 0.1, self.training)
        return x + self.mlp(self.ln2(x))


def test_fx_block_matches_torch_and_shares_the_mapping() -> None:
    ids = torch.tensor([[1, 5, 2, 9, 0, 3]])
    result = check(Block(), {"ids": ids}, via=import_fx)
    hist = result.graph.op_histogram()
    assert hist["linear"] == 4 and hist["layer_norm"] == 2 and hist["gelu"] == 1 and hist["gather"] == 1
    assert result.source_ops["nn.Linear"] == 4 and result.source_ops["Tensor.view"] == 4
    exported = check(Block(), {"ids": ids})
    assert exported.graph.op_histogram() == hist  # both paths lower to the same IR


class Indexing(nn.Module):
    """Direct parameter use (get_attr), torch functions and Python indexing under FX."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(_r(8, 3, seed=9))
        self.register_buffer("table", torch.arange(12.0).view(4, 3))

    def forward(self, x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.tanh(x @ self.w)[..., None, :]
        picked = self.table[idx] + x[:, 0, :3]
        return h[:, -1, 0], picked, x.mean(dim=-1, keepdim=True).expand(2, 5, 8)[:, None, 1:3]


def test_fx_indexing_and_direct_parameters() -> None:
    result = check(Indexing(), {"x": X, "idx": torch.tensor([3, 1])}, via=import_fx)
    assert result.graph.op_histogram()["linear"] == 1  # x @ parameter is a linear layer
    assert {"w", "table"} <= set(result.graph.constant_map)


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return x


def test_fx_trace_failure_suggests_import_torch() -> None:
    with pytest.raises(FrontendError, match="import_torch"):
        import_fx(DataDependent(), (X,))


# ---------------------------------------------------------------------------------------------------- errors


class Unmappable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.fft(x).real
        ordered = torch.sort(self.fc(x), dim=-1).values
        return spectrum + ordered + torch.cumprod(x, -1)


@pytest.mark.parametrize("via", [import_torch, import_fx], ids=["export", "fx"])
def test_every_unsupported_node_is_reported_at_once(via: Callable) -> None:
    with pytest.raises(UnsupportedOpsError) as info:
        via(Unmappable(), {"x": X})
    diags = info.value.diagnostics
    ops = " ".join(op for _, op, _ in diags)
    assert "fft" in ops and "sort" in ops and "cumprod" in ops
    assert all(why for _, _, why in diags)
    assert "fc" not in {name for name, _, _ in diags}  # mapped nodes are not reported


def test_bad_dynamic_specs_are_frontend_errors() -> None:
    with pytest.raises(FrontendError, match="unknown input"):
        import_torch(Fn(torch.tanh), {"x": X}, dynamic={"y": {0: "n"}})
    with pytest.raises(FrontendError, match="out of range"):
        import_torch(Fn(torch.tanh), {"x": X}, dynamic={"x": {3: "n"}})
    with pytest.raises(FrontendError, match="output_names"):
        import_torch(Fn(torch.tanh), {"x": X}, output_names=["a", "b"])


def test_a_lowering_that_disagrees_with_torch_names_the_node(monkeypatch: pytest.MonkeyPatch) -> None:
    from tataa.frontend import torch_aten

    def wrong(lo, a, out):  # a broken mapping: drops the last axis
        x = lo.tensor(a["self"])
        return lo.emit("reduce_sum", [x], axes=(x.rank - 1,), keepdims=False)

    monkeypatch.setitem(torch_aten.ATEN, "tanh", wrong)
    with pytest.raises(FrontendError, match=r"node tanh \(aten\.tanh\.default\): .*torch computed f32\[2, 5, 8\]"):
        import_torch(Fn(torch.tanh), {"x": X})


def test_training_mode_dropout_is_refused() -> None:
    with pytest.raises(UnsupportedOpsError, match="training"):
        import_torch(Fn(lambda x: F.dropout(x, 0.5, training=True)), {"x": X})


def test_exported_programs_import_and_training_mode_is_restored() -> None:
    from tataa.frontend.torch_import import export_module

    block = Block().train()
    ids = {"ids": torch.tensor([[1, 2, 3]])}
    ep = export_module(block, ids)
    assert block.training
    result = import_torch(ep)
    assert result.source == "ExportedProgram"
    assert result.graph.op_histogram()["linear"] == 4


def test_tuple_outputs_are_numbered_and_names_can_be_given() -> None:
    result = import_torch(Fn(lambda x: (x + 1, x * 2)), {"x": X}, optimize=False)
    assert result.graph.outputs == ("output_0", "output_1")
    named = import_torch(Fn(lambda x: (x + 1, x * 2)), {"x": X}, output_names=["a", "b"])
    assert named.graph.outputs == ("a", "b")
    assert result.seconds > 0 and result.source == "Fn"
