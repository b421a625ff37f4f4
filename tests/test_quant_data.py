"""Calibration data: reader helpers, onnxruntime adapter, feed checks."""

from __future__ import annotations

import numpy as np
import pytest
from onnxruntime.quantization import CalibrationDataReader

from tataa.ir import DType, GraphBuilder, TensorType
from tataa.quant.data import CalibrationReader, DataReader, OrtReader, check_feed, collect_feeds
from tataa.quant.recipe import QuantError


def lm_graph():
    gb = GraphBuilder("lm")
    ids = gb.input("ids", TensorType(DType.I64, (1, "seq")))
    mask = gb.input("mask", TensorType(DType.I64, (1, "seq")))
    flag = gb.input("flag", TensorType(DType.BOOL, (1, "seq")))
    noise = gb.input("noise", TensorType(DType.F32, ("seq", 4)))
    emb = gb.add("gather", [gb.constant(np.zeros((37, 4), np.float32), "table"), ids], name="emb")
    gb.output(emb, mask, flag, noise)
    return gb.build()


def test_reader_is_reiterable_and_sliceable():
    feeds = [{"x": np.full(2, i)} for i in range(5)]
    r = CalibrationReader(f for f in feeds)  # a generator is read once, then kept
    assert isinstance(r, DataReader)
    assert [int(f["x"][0]) for f in r] == [0, 1, 2, 3, 4] == [int(f["x"][0]) for f in r]
    assert len(r.take(2)) == 2 and r[3]["x"][0] == 3


def test_from_batches():
    r = CalibrationReader.from_batches({"a": np.arange(10), "b": np.arange(20).reshape(10, 2)}, batch_size=4)
    assert [len(f["a"]) for f in r] == [4, 4, 2]
    assert np.array_equal(r[1]["b"], np.arange(8, 16).reshape(4, 2))
    with pytest.raises(QuantError, match="common length"):
        CalibrationReader.from_batches({"a": np.arange(3), "b": np.arange(4)})
    with pytest.raises(QuantError, match="batch_size 0"):
        CalibrationReader.from_batches({"a": np.arange(3)}, batch_size=0)


def test_random_feeds_fit_the_graph():
    g = lm_graph()
    r = CalibrationReader.random(g, 3, dims={"seq": 9}, seed=5)
    for f in r:
        check_feed(f, 0, g)
        assert f["ids"].shape == (1, 9) and f["ids"].dtype == np.int64
        assert f["ids"].min() >= 0 and f["ids"].max() < 37  # the gather table's size
        assert np.all(f["mask"] == 1) and np.all(f["flag"]) and f["noise"].dtype == np.float32
    again = CalibrationReader.random(g, 3, dims={"seq": 9}, seed=5)
    assert all(np.array_equal(a["noise"], b["noise"]) for a, b in zip(r, again, strict=True))
    other = CalibrationReader.random(g, 1, int_ranges={"mask": (0, 2)}, seed=1)[0]
    assert other["ids"].shape == (1, 16) and set(np.unique(other["mask"])) <= {0, 1}


def test_onnxruntime_adapter_both_ways():
    feeds = [{"x": np.full(3, i, np.float32)} for i in range(3)]
    ort = CalibrationReader(feeds).to_ort()
    assert isinstance(ort, CalibrationDataReader) and isinstance(ort, OrtReader) and len(ort) == 3
    got = [ort.get_next()["x"][0] for _ in range(3)]
    assert got == [0, 1, 2] and ort.get_next() is None
    ort.rewind()
    assert ort.get_next()["x"][0] == 0

    class OnlyGetNext:  # what a hand-written onnxruntime reader often is
        def __init__(self):
            self.items = list(feeds)

        def get_next(self):
            return self.items.pop(0) if self.items else None

    back = CalibrationReader.from_ort(OnlyGetNext())
    assert [f["x"][0] for f in back] == [0, 1, 2]
    assert len(collect_feeds(OnlyGetNext(), 2)) == 2


def test_collect_feeds_limits_and_checks():
    g = lm_graph()
    good = CalibrationReader.random(g, 4, seed=0)
    pulled = []

    def gen():
        for f in good:
            pulled.append(f)
            yield f

    assert len(collect_feeds(gen(), 2, g)) == 2 and len(pulled) == 2  # no feed is pulled beyond the limit
    with pytest.raises(QuantError, match="no calibration data"):
        collect_feeds([], 4, g)
    with pytest.raises(QuantError, match="single feed"):
        collect_feeds(good[0], 4, g)
    with pytest.raises(QuantError, match="must be an iterable"):
        collect_feeds(42, 4, g)
    with pytest.raises(QuantError, match=r"feed #1: expected a mapping"):
        collect_feeds([good[0], [1, 2]], 4, g)
    bad = dict(good[0])
    del bad["mask"]
    bad["extra"] = np.zeros(1)
    with pytest.raises(QuantError, match=r"feed #0: missing mask; unknown extra \(graph lm takes"):
        collect_feeds([bad], 4, g)
    wrong_rank = dict(good[0], noise=np.zeros(4, np.float32))
    with pytest.raises(QuantError, match=r"feed #0: input noise has shape \[4\]"):
        collect_feeds([wrong_rank], 4, g)
    with pytest.raises(QuantError, match="limit 0"):
        collect_feeds(good, 0, g)
