"""Calibrators: known distributions, numpy / brute-force / loop references, streaming, per-channel weight ranges."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from tataa.quant.calibrate import (
    ENTROPY_LEVELS,
    EntropyCalibrator,
    HistogramCalibrator,
    MinMaxCalibrator,
    MSECalibrator,
    PercentileCalibrator,
    _kl_of_cut,
    make_calibrator,
    weight_amax,
)
from tataa.quant.recipe import CalibMethod, QuantError, QuantRecipe

METHODS = list(CalibMethod)


def _observe(cal, data: np.ndarray, parts: int = 5) -> float:
    for chunk in np.array_split(data, parts):
        cal.observe(chunk)
    return cal.amax()


def _int8_mse(data: np.ndarray, clip: float) -> float:
    """Mean squared error of symmetric int8 quantization with step clip/127 (written out, not the library's)."""
    step = clip / 127.0
    q = np.clip(np.rint(data / step), -128, 127) * step
    return float(np.mean((data - q) ** 2))


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# ---------------------------------------------------------------------------------------------------- distributions


@pytest.mark.parametrize("method", METHODS)
def test_uniform_data_gives_about_the_max(method, rng):
    data = rng.uniform(-1.0, 1.0, 200_000)
    top = np.abs(data).max()
    amax = _observe(make_calibrator(method), data)
    assert 0.98 * top <= amax <= top


def test_gaussian_outlier_is_clipped_except_by_minmax(rng):
    # 2M samples: clipping at c costs the outlier about (1e3 - c)^2 while the rounding error of the others grows as
    # c^2 * n / (12 * 127^2); with n = 2M the optimum is near c = 100, with n = 200k it would keep the outlier.
    data = rng.standard_normal(2_000_000)
    data[12345] = 1e3
    got = {m: _observe(make_calibrator(m), data) for m in METHODS}
    assert got[CalibMethod.MINMAX] == 1e3
    for m in (CalibMethod.PERCENTILE, CalibMethod.MSE, CalibMethod.ENTROPY):
        assert got[m] < 0.1 * 1e3, (m, got[m])
    assert got[CalibMethod.PERCENTILE] < 5
    assert _int8_mse(data, got[CalibMethod.MSE]) < _int8_mse(data, 1e3)


def _distributions(rng):
    g = rng.standard_normal(150_000)
    return {
        "gauss": g,
        "laplace": rng.laplace(size=150_000),
        "relu_cubed": np.maximum(g, 0.0) ** 3,  # half zeros, long tail
        "lognormal": rng.lognormal(0.0, 1.0, 150_000) * rng.choice([-1.0, 1.0], 150_000),
    }


@pytest.mark.parametrize("q", [50.0, 99.0, 99.9, 99.99, 100.0])
def test_percentile_matches_numpy(q, rng):
    for name, data in _distributions(rng).items():
        mags = np.abs(data)
        cal = PercentileCalibrator(percentile=q, bins=2048)
        order = np.argsort(mags)  # ascending magnitudes: the range has to grow several times
        for chunk in np.array_split(data[order], 6):
            cal.observe(chunk)
        _, width = cal.histogram()
        # numpy interpolates between the order statistics around (n-1)q/100; the histogram finds the bin holding
        # order statistic ceil(nq/100): the two agree up to one bin width and the gap between neighbours
        ordered = np.sort(mags)
        pos = (len(ordered) - 1) * q / 100.0
        lo = ordered[max(math.floor(pos) - 1, 0)] - 1.01 * width
        hi = ordered[min(math.ceil(pos) + 1, len(ordered) - 1)] + 1.01 * width
        assert lo <= cal.amax() <= hi, (name, q, cal.amax(), np.percentile(mags, q), width)
        assert abs(cal.amax() - np.percentile(mags, q)) <= 0.02 * np.percentile(mags, q) + 1.01 * width


def test_mse_matches_brute_force(rng):
    for name, full in _distributions(rng).items():
        data = full[:50_000]
        amax = _observe(MSECalibrator(bins=2048), data)
        grid = np.linspace(np.abs(data).max() / 300, np.abs(data).max(), 800)
        best = min(_int8_mse(data, c) for c in grid)
        assert _int8_mse(data, amax) <= 1.01 * best, name


def _entropy_reference(hist: np.ndarray, levels: int = 128, eps: float = 1e-6) -> int:
    """TensorRT's KL calibration written as plain loops: the number of bins of the best cut."""
    bins = len(hist)
    best, best_i = math.inf, bins
    for i in range(levels, bins + 1):
        p = [float(h) for h in hist[:i]]
        p[-1] += float(sum(hist[i:]))
        group_sum = [0.0] * levels
        group_nonzero = [0] * levels
        for j in range(i):
            lv = j * levels // i
            group_sum[lv] += float(hist[j])
            group_nonzero[lv] += hist[j] > 0
        q = [group_sum[j * levels // i] / group_nonzero[j * levels // i] if hist[j] > 0 else 0.0 for j in range(i)]
        sp, sq = sum(p), sum(q)
        kl = 0.0
        for pj, qj in zip(p, q, strict=True):
            if pj > 0:
                qn = qj / sq if qj > 0 else eps
                kl += pj / sp * math.log((pj / sp) / qn)
        if kl < best:
            best, best_i = kl, i
    return best_i


def test_entropy_matches_loop_reference(rng):
    for name, data in _distributions(rng).items():
        cal = EntropyCalibrator(bins=256, stride=1)
        cal.observe(data)
        hist, width = cal.histogram()
        want = min(_entropy_reference(hist) * width, float(np.abs(data).max()))
        assert cal.amax() == pytest.approx(want, rel=1e-12), name


@pytest.mark.parametrize("seed", range(8))
def test_entropy_default_stride_is_nearly_as_good_as_exhaustive(seed):
    # the KL curve is flat near its minimum, so the chosen cuts may differ; their divergences may not
    data = np.random.default_rng(seed).laplace(size=100_000)
    fine, coarse = EntropyCalibrator(stride=1), EntropyCalibrator()
    fine.observe(data)
    coarse.observe(data)
    hist, width = fine.histogram()
    h = hist[None, :]
    tail = np.concatenate([np.cumsum(hist[::-1])[::-1], [0.0]])

    def kl(amax: float) -> float:
        i = round(amax / width)
        return float(_kl_of_cut(h[:, :i], np.array([tail[i]]), ENTROPY_LEVELS)[0])

    best = kl(fine.amax())
    assert best <= kl(coarse.amax()) <= best * 1.02 + 1e-6


# ---------------------------------------------------------------------------------------------------- streaming


def test_histogram_growth_merges_bins_exactly(rng):
    data = rng.standard_normal(100_000) * np.repeat([0.01, 0.3, 5.0, 200.0], 25_000)
    cal = PercentileCalibrator(bins=1024)
    for chunk in np.array_split(data, 4):
        cal.observe(chunk)
    hist, width = cal.histogram()
    ref, _ = np.histogram(np.abs(data), bins=1024, range=(0.0, width * 1024))
    assert hist.sum() == data.size
    assert np.abs(hist - ref).sum() <= 4  # only values sitting exactly on an edge may differ


def test_chunking_does_not_change_minmax_and_barely_changes_percentile(rng):
    data = rng.standard_normal(60_000)
    one = _observe(make_calibrator(CalibMethod.PERCENTILE), data, parts=1)
    many = _observe(make_calibrator(CalibMethod.PERCENTILE), data, parts=30)
    assert abs(one - many) < 0.01
    assert _observe(MinMaxCalibrator(), data, parts=30) == np.abs(data).max()


@pytest.mark.parametrize("method", METHODS)
def test_nonfinite_values_are_ignored(method):
    cal = make_calibrator(method)
    cal.observe(np.array([np.nan, np.inf, -np.inf, 1.0, -2.0], dtype=np.float32))
    assert 0 < cal.amax() <= 2.0
    if method is CalibMethod.MINMAX:
        assert cal.amax() == 2.0


@pytest.mark.parametrize("method", METHODS)
def test_no_data_is_an_error_and_zeros_give_zero(method):
    cal = make_calibrator(method)
    with pytest.raises(QuantError, match="no finite values"):
        cal.amax()
    cal.observe(np.array([np.nan]))
    with pytest.raises(QuantError):
        cal.amax()
    cal.observe(np.zeros((3, 4)))
    assert cal.amax() == 0.0
    cal.observe(np.array([0.5, -0.25]))
    assert 0.25 <= cal.amax() <= 0.5


def test_bf16_and_integer_arrays_are_read(rng):
    x = rng.standard_normal(1000).astype(np.float32)
    cal = MinMaxCalibrator()
    cal.observe(x.astype(ml_dtypes.bfloat16))
    assert cal.amax() == float(np.abs(x.astype(ml_dtypes.bfloat16).astype(np.float64)).max())
    cal2 = make_calibrator("percentile", percentile=100.0)
    cal2.observe(np.array([-7, 3], dtype=np.int8))
    assert cal2.amax() == 7.0


# ---------------------------------------------------------------------------------------------------- factory


def test_make_calibrator_follows_the_recipe():
    recipe = QuantRecipe(activation_method=CalibMethod.PERCENTILE, percentile=99.5, histogram_bins=512)
    cal = make_calibrator(recipe)
    assert isinstance(cal, PercentileCalibrator)
    assert cal.percentile == 99.5 and cal.bins == 512
    kinds = {CalibMethod.MINMAX: MinMaxCalibrator, CalibMethod.PERCENTILE: PercentileCalibrator,
             CalibMethod.MSE: MSECalibrator, CalibMethod.ENTROPY: EntropyCalibrator}
    for method, cls in kinds.items():
        assert type(make_calibrator(QuantRecipe(activation_method=method))) is cls
        assert type(make_calibrator(method.value)) is cls
        assert type(make_calibrator(method)) is cls
    ent = make_calibrator(QuantRecipe(activation_method=CalibMethod.ENTROPY, histogram_bins=300), stride=3)
    assert isinstance(ent, HistogramCalibrator) and ent.bins == 300 and ent.stride == 3


def test_make_calibrator_errors():
    with pytest.raises(QuantError, match="unknown calibration method 'kl'"):
        make_calibrator("kl")
    with pytest.raises(QuantError, match=r"unknown option.*percentile"):
        make_calibrator(CalibMethod.MSE, percentile=99.0)
    with pytest.raises(QuantError, match="percentile 0"):
        make_calibrator("percentile", percentile=0)
    with pytest.raises(QuantError, match="bins"):
        make_calibrator("entropy", bins=1)


# ---------------------------------------------------------------------------------------------------- weights


def test_weight_amax_minmax_per_channel_and_tensor(rng):
    w = rng.standard_normal((48, 10)) * rng.uniform(0.1, 10, 10)
    assert np.array_equal(weight_amax(w, "minmax"), np.abs(w).max(axis=0))
    assert np.array_equal(weight_amax(w, "minmax", per_channel=False), [np.abs(w).max()])


def test_weight_amax_percentile_per_column_matches_numpy(rng):
    w = rng.laplace(size=(2000, 6)) * np.array([1, 2, 4, 8, 16, 0.5])
    got = weight_amax(w, "percentile", percentile=99.0)
    for j in range(w.shape[1]):
        col = np.abs(w[:, j])
        assert abs(got[j] - np.percentile(col, 99.0)) <= 1.01 * col.max() / 512


@pytest.mark.parametrize("method", ["percentile", "mse", "entropy"])
def test_weight_amax_batches_channels_consistently(method, rng):
    w = rng.standard_normal((300, 5))
    w[7, 2] = 40.0  # one outlier weight in column 2
    got = weight_amax(w, method, percentile=99.0)
    for j in range(5):
        assert got[j] == pytest.approx(weight_amax(w[:, j:j + 1], method, percentile=99.0)[0], rel=1e-12)
    assert np.all(got <= np.abs(w).max(axis=0) + 1e-12)
    if method != "mse":  # squared error keeps one outlier among 300 values (its clipping error dominates)
        assert got[2] < 20.0


def test_weight_amax_mse_per_column_matches_brute_force(rng):
    w = np.stack([rng.standard_normal(3000), rng.laplace(size=3000), rng.uniform(-2, 2, 3000),
                  rng.standard_t(3, 3000)], axis=1)
    got = weight_amax(w, "mse")
    for j in range(w.shape[1]):
        col = w[:, j]
        grid = np.linspace(np.abs(col).max() / 100, np.abs(col).max(), 1000)
        best = min(_int8_mse(col, c) for c in grid)
        assert _int8_mse(col, got[j]) <= 1.02 * best, j


def test_weight_amax_zero_column_and_errors(rng):
    w = rng.standard_normal((16, 3))
    w[:, 1] = 0.0
    for method in METHODS:
        assert weight_amax(w, method)[1] == 0.0
    with pytest.raises(QuantError, match="2-D"):
        weight_amax(np.zeros(4))
    w[0, 0] = np.nan
    with pytest.raises(QuantError, match="NaN"):
        weight_amax(w)


def test_weight_amax_per_tensor_methods(rng):
    w = rng.laplace(size=(400, 30))
    ref = np.percentile(np.abs(w), 99.0)
    assert weight_amax(w, "percentile", per_channel=False, percentile=99.0)[0] == pytest.approx(ref, rel=0.01)
    for method in METHODS:
        got = weight_amax(w, method, per_channel=False)
        assert got.shape == (1,) and 0 < got[0] <= np.abs(w).max()


def test_huge_range_jump_keeps_every_count(rng):
    cal = PercentileCalibrator(percentile=50.0, bins=256)
    cal.observe(rng.uniform(0.0, 1e-3, 1000))
    cal.observe(np.array([1e6]))
    hist, width = cal.histogram()
    assert hist.sum() == 1001 and hist[0] == 1000 and width == 1e6 / 256
    assert cal.amax() <= width
