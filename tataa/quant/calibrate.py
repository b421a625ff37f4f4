"""Range calibrators: how a clipping range ``amax`` is chosen from observed values, one class per CalibMethod.

Every calibrator works on magnitudes |x| (the overlay's int8 encodings are symmetric) and ignores NaN and ±inf.
The histogram calibrators keep a fixed number of bins over [0, R]: R starts at the first batch's maximum and, when a
later batch exceeds it, grows by a power of two so that old bins merge exactly; memory stays bounded however much
data is observed. ``weight_amax`` applies the same selection rules to every output channel of a weight at once.

Selection rules, on a histogram of |x| with bin width w (results are capped at the exact maximum seen):

* PERCENTILE: the given percentile of |x|, interpolated linearly inside the bin where it falls;
* MSE: among clips c at bin edges, the one minimising the expected squared error of symmetric int8 quantization
  with step c/127 (rounding inside the range, saturation above it), values taken uniform within each bin;
* ENTROPY (TensorRT style): among clips of i >= 128 bins, the one minimising KL(P || Q), where P is the histogram
  cut at i with the clipped mass added to its last bin, and Q is the cut histogram merged into 128 levels and spread
  back evenly over the non-empty bins of each level.
"""

from __future__ import annotations

import functools
import math
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from tataa.quant.recipe import CalibMethod, QuantError, QuantRecipe

F64 = npt.NDArray[np.float64]

DEFAULT_BINS = 2048
DEFAULT_PERCENTILE = 99.99
INT8_LEVELS = 127  # symmetric int8: |q| <= 127 steps
ENTROPY_LEVELS = 128  # quantized levels of the KL candidate distribution (TensorRT's 8-bit choice)
MSE_MAX_CANDIDATES = 1024
ENTROPY_MAX_CANDIDATES = 256
WEIGHT_ENTROPY_CANDIDATES = 64  # per-channel weights: N channels at once, so fewer cuts
KL_EPS = 1e-6  # the probability Q gives a bin that P fills and the merged levels leave empty
WEIGHT_MAX_BINS = 512  # per-channel weight histograms: a column rarely has more values than this resolves
_CHANNEL_CHUNK = 256


@runtime_checkable
class Calibrator(Protocol):
    """Accumulates observed values and proposes a symmetric clipping range."""

    def observe(self, array: npt.ArrayLike) -> None:
        """Take one more batch of values into account."""
        ...

    def amax(self) -> float:
        """The chosen clipping range (>= 0); QuantError when nothing finite was observed."""
        ...


def magnitudes(array: npt.ArrayLike) -> F64:
    """The finite |x| of an array (any float, int or bool dtype, bf16 included) as a flat float64 array."""
    arr = np.asarray(array)
    if arr.dtype.kind not in "fiub":
        try:
            arr = arr.astype(np.float32)  # ml_dtypes bfloat16 / float8 arrays
        except (TypeError, ValueError):
            raise QuantError(f"calibration: cannot read values of dtype {arr.dtype}") from None
    mags = np.abs(arr.astype(np.float64, copy=False)).ravel()
    finite = np.isfinite(mags)
    return mags if finite.all() else mags[finite]


class MinMaxCalibrator:
    """MINMAX: the largest |x| observed."""

    method = CalibMethod.MINMAX

    def __init__(self) -> None:
        self._max: float | None = None

    def observe(self, array: npt.ArrayLike) -> None:
        """Take one more batch of values into account."""
        mags = magnitudes(array)
        if mags.size:
            top = float(mags.max())
            self._max = top if self._max is None else max(self._max, top)

    def amax(self) -> float:
        """The largest finite |x| seen."""
        if self._max is None:
            raise QuantError("minmax calibrator: no finite values were observed")
        return self._max


class HistogramCalibrator:
    """Base of the histogram calibrators: a bounded histogram of |x| and the exact maximum."""

    method: CalibMethod

    def __init__(self, bins: int = DEFAULT_BINS) -> None:
        if not isinstance(bins, int) or bins < 2:
            raise QuantError(f"{type(self).__name__}: bins = {bins!r} (need an int >= 2)")
        self.bins = bins
        self._hist = np.zeros(bins, dtype=np.float64)
        self._range = 0.0  # 0 until a non-zero value arrives; zeros always land in bin 0
        self._max: float | None = None

    def observe(self, array: npt.ArrayLike) -> None:
        """Add one batch of values to the histogram (widening its range by powers of two when needed)."""
        mags = magnitudes(array)
        if not mags.size:
            return
        top = float(mags.max())
        self._max = top if self._max is None else max(self._max, top)
        if top > self._range:
            self._grow(top)
        if self._range == 0.0:
            self._hist[0] += mags.size
            return
        idx = np.minimum((mags * (self.bins / self._range)).astype(np.int64), self.bins - 1)
        self._hist += np.bincount(idx, minlength=self.bins)

    def _grow(self, top: float) -> None:
        if self._range == 0.0:
            self._range = top
            return
        if top >= self._range * self.bins:  # everything seen so far fits in the new first bin
            self._hist = np.concatenate([[self._hist.sum()], np.zeros(self.bins - 1)])
            self._range = top
            return
        factor = 2
        while self._range * factor < top:
            factor <<= 1
        # old bin i lies inside new bin i // factor: the merge is exact
        self._hist = np.bincount(np.arange(self.bins) // factor, weights=self._hist, minlength=self.bins)
        self._range *= factor

    def histogram(self) -> tuple[F64, float]:
        """The counts of |x| per bin and the bin width (bin i covers [i*w, (i+1)*w); w = 0 before any non-zero)."""
        return self._hist.copy(), self._range / self.bins

    def amax(self) -> float:
        """The clipping range this method picks from the histogram, capped at the largest |x| seen."""
        if self._max is None:
            raise QuantError(f"{self.method.value} calibrator: no finite values were observed")
        if self._range == 0.0:
            return 0.0
        width = self._range / self.bins
        return float(min(self._select(self._hist[None, :])[0] * width, self._max))

    def _select(self, hist: F64) -> F64:
        raise NotImplementedError


class PercentileCalibrator(HistogramCalibrator):
    """PERCENTILE: the given percentile of |x| (histogram-based, linear inside a bin)."""

    method = CalibMethod.PERCENTILE

    def __init__(self, percentile: float = DEFAULT_PERCENTILE, bins: int = DEFAULT_BINS) -> None:
        super().__init__(bins)
        if not 0.0 < percentile <= 100.0:
            raise QuantError(f"percentile calibrator: percentile {percentile} (must lie in (0, 100])")
        self.percentile = float(percentile)

    def _select(self, hist: F64) -> F64:
        return percentile_bins(hist, self.percentile)


class MSECalibrator(HistogramCalibrator):
    """MSE: the clip minimising the expected int8 quantization mean-squared error over the histogram."""

    method = CalibMethod.MSE

    def _select(self, hist: F64) -> F64:
        return mse_bins(hist)


class EntropyCalibrator(HistogramCalibrator):
    """ENTROPY: the clip minimising the KL divergence between the clipped and the 128-level histogram."""

    method = CalibMethod.ENTROPY

    def __init__(self, bins: int = DEFAULT_BINS, stride: int | None = None) -> None:
        super().__init__(bins)
        if stride is not None and (not isinstance(stride, int) or stride < 1):
            raise QuantError(f"entropy calibrator: stride = {stride!r} (need an int >= 1)")
        self.stride = stride

    def _select(self, hist: F64) -> F64:
        return entropy_bins(hist, self.stride)


# ---------------------------------------------------------------------------------------------------- selection rules


def percentile_bins(hist: F64, percentile: float) -> F64:
    """Per row of ``hist`` [N, B]: the percentile of the histogrammed values, in bin widths."""
    cum = np.cumsum(hist, axis=1)
    total = cum[:, -1]
    target = total * (percentile / 100.0)
    idx = np.argmax(cum >= target[:, None], axis=1)
    rows = np.arange(hist.shape[0])
    count = hist[rows, idx]
    before = cum[rows, idx] - count
    frac = np.clip(np.divide(target - before, count, out=np.zeros_like(count), where=count > 0), 0.0, 1.0)
    return np.where(total > 0, idx + frac, 0.0)


def _mse_candidates(bins: int) -> np.ndarray:
    stride = max(1, math.ceil(bins / MSE_MAX_CANDIDATES))
    cands = np.arange(stride, bins + 1, stride)
    return cands if cands[-1] == bins else np.append(cands, bins)


def _sq_error_integral(x: F64, clip: F64) -> F64:
    """The integral over [0, x] of (t - Q(t))^2 for the int8 quantizer of step clip/127 saturating at clip."""
    step = clip / INT8_LEVELS
    sat_from = clip - step / 2  # from here on Q(t) = clip
    xm = np.minimum(x, sat_from)
    n = np.rint(xm / step)
    r = xm - n * step
    inner = n * (step * step * step / 12.0) + r * r * r / 3.0  # whole rounding periods plus the partial one
    over = x - clip
    half = step / 2
    outer = np.where(x > sat_from, (over * over * over + half * half * half) / 3.0, 0.0)
    return inner + outer


@functools.lru_cache(maxsize=8)
def _mse_error_table(bins: int) -> tuple[np.ndarray, F64]:
    """Candidate clips (in bins) and the expected squared error of each bin [B, C] under each clip (bin units)."""
    cands = _mse_candidates(bins).astype(np.float64)
    edges = np.arange(bins + 1, dtype=np.float64)[:, None]
    integral = _sq_error_integral(edges, cands[None, :])
    table = integral[1:] - integral[:-1]
    lo, hi = edges[:-1] - cands, edges[1:] - cands  # bins fully in saturation: the stable closed form
    saturated = (edges[:-1] >= cands - cands / (2 * INT8_LEVELS))
    table = np.where(saturated, (hi * hi + hi * lo + lo * lo) / 3.0, table)
    table.setflags(write=False)
    return cands.astype(np.int64), table


def mse_bins(hist: F64) -> F64:
    """Per row of ``hist`` [N, B]: the clip (in bin widths) minimising the expected int8 quantization MSE."""
    cands, table = _mse_error_table(hist.shape[1])
    err = hist @ table
    return cands[np.argmin(err, axis=1)].astype(np.float64)


def entropy_bins(hist: F64, stride: int | None = None, levels: int = ENTROPY_LEVELS,
                 max_candidates: int = ENTROPY_MAX_CANDIDATES) -> F64:
    """Per row of ``hist`` [N, B]: the clip (in bin widths) minimising KL(P || Q) (TensorRT's entropy method).

    Candidate cuts are i = levels, levels + stride, ..., B bins (by default about ``max_candidates`` of them).
    """
    n_rows, bins = hist.shape
    if bins <= levels:
        return np.full(n_rows, float(bins))
    if stride is None:
        stride = max(1, math.ceil((bins - levels) / max_candidates))
    cands = np.arange(levels, bins + 1, stride)
    if cands[-1] != bins:
        cands = np.append(cands, bins)
    tail = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]  # tail[:, i] = sum of hist[:, i:]
    tail = np.concatenate([tail, np.zeros((n_rows, 1))], axis=1)
    best = np.full(n_rows, np.inf)
    choice = np.full(n_rows, float(bins))
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in cands:
            kl = _kl_of_cut(hist[:, :i], tail[:, i], levels)
            better = kl < best
            best = np.where(better, kl, best)
            choice = np.where(better, float(i), choice)
    return choice


def _kl_of_cut(kept: F64, clipped: F64, levels: int) -> F64:
    """KL(P || Q) per row for one cut: P = kept with ``clipped`` added to its last bin, Q = kept merged to levels.

    Where P has mass and Q has none (the clipped mass landing on an empty bin), Q gets ``KL_EPS`` of the
    probability, so that cutting off a lone outlier costs little instead of an infinite divergence.
    """
    i = kept.shape[1]
    starts = (np.arange(levels) * i + levels - 1) // levels  # first bin of each level: level(j) = j*levels // i
    level = (np.arange(i) * levels) // i
    nonzero = kept > 0
    sums = np.add.reduceat(kept, starts, axis=1)
    counts = np.add.reduceat(nonzero.astype(np.float64), starts, axis=1)
    q = np.where(nonzero, sums[:, level] / np.maximum(counts[:, level], 1.0), 0.0)
    p = kept.copy()
    p[:, -1] += clipped
    p_total, q_total = p.sum(axis=1, keepdims=True), q.sum(axis=1, keepdims=True)
    p, q = p / p_total, q / np.where(q_total > 0, q_total, 1.0)
    q = np.where((q == 0) & (p > 0), KL_EPS, q)
    terms = np.where(p > 0, p * np.log(p / q), 0.0)
    return terms.sum(axis=1)


# ---------------------------------------------------------------------------------------------------- factories


def make_calibrator(recipe_or_method: QuantRecipe | CalibMethod | str, **opts: object) -> Calibrator:
    """A fresh calibrator for a recipe's activation method (with its bins and percentile) or for a method by name.

    Options: ``bins`` (histogram methods), ``percentile`` (PERCENTILE), ``stride`` (ENTROPY's candidate step).
    """
    if isinstance(recipe_or_method, QuantRecipe):
        method = recipe_or_method.activation_method
        settings: dict[str, object] = {"bins": recipe_or_method.histogram_bins,
                                       "percentile": recipe_or_method.percentile}
    else:
        method = _method(recipe_or_method)
        settings = {}
    settings.update(opts)
    allowed = {CalibMethod.MINMAX: (), CalibMethod.PERCENTILE: ("bins", "percentile"),
               CalibMethod.MSE: ("bins",), CalibMethod.ENTROPY: ("bins", "stride")}[method]
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise QuantError(f"{method.value} calibrator: unknown option(s) {', '.join(unknown)} "
                         f"(accepted: {', '.join(allowed) or 'none'})")
    kwargs = {k: v for k, v in settings.items() if k in allowed}
    if method is CalibMethod.MINMAX:
        return MinMaxCalibrator()
    if method is CalibMethod.PERCENTILE:
        return PercentileCalibrator(**kwargs)  # type: ignore[arg-type]
    if method is CalibMethod.MSE:
        return MSECalibrator(**kwargs)  # type: ignore[arg-type]
    return EntropyCalibrator(**kwargs)  # type: ignore[arg-type]


def _method(m: CalibMethod | str) -> CalibMethod:
    if isinstance(m, CalibMethod):
        return m
    try:
        return CalibMethod(str(m).lower())
    except ValueError:
        raise QuantError(f"unknown calibration method {m!r} (known: "
                         f"{', '.join(c.value for c in CalibMethod)})") from None


def weight_amax(weight: npt.ArrayLike, method: CalibMethod | str = CalibMethod.MINMAX, *, per_channel: bool = True,
                bins: int = DEFAULT_BINS, percentile: float = DEFAULT_PERCENTILE) -> F64:
    """Clipping ranges of a [K, N] weight: one per output channel (column) [N], or one for the tensor [1].

    MINMAX is the exact max |w|. Per channel, the histogram methods build each channel's histogram over
    [0, its max |w|] (at most ``WEIGHT_MAX_BINS`` bins) and apply the activation calibrators' rules; per tensor,
    the weight goes through the activation calibrator of that method.
    """
    method = _method(method)
    w = np.asarray(weight)
    if w.ndim != 2:
        raise QuantError(f"weight_amax: expected a 2-D [K, N] weight, got shape {list(w.shape)}")
    chunks = [np.abs(w[:, lo:lo + _CHANNEL_CHUNK].astype(np.float64)) for lo in range(0, w.shape[1], _CHANNEL_CHUNK)]
    if not all(np.isfinite(c).all() for c in chunks):
        raise QuantError("weight_amax: the weight holds NaN or infinite values")
    top = np.concatenate([c.max(axis=0, initial=0.0) for c in chunks]) if chunks else np.zeros(0)
    if not per_channel:
        if method is CalibMethod.MINMAX or not w.size:
            return np.array([top.max(initial=0.0)])
        cal = make_calibrator(method, bins=bins, **({"percentile": percentile} if method is CalibMethod.PERCENTILE
                                                    else {}))
        for c in chunks:
            cal.observe(c)
        return np.array([cal.amax()])
    if method is CalibMethod.MINMAX or w.shape[0] == 0:
        return top
    nbins = min(bins, WEIGHT_MAX_BINS)
    out = np.zeros_like(top)
    for lo, chunk in zip(range(0, w.shape[1], _CHANNEL_CHUNK), chunks, strict=True):
        rows, t = chunk.T, top[lo:lo + _CHANNEL_CHUNK]  # one row per channel
        safe = np.where(t > 0, t, 1.0)
        idx = np.minimum((rows * (nbins / safe[:, None])).astype(np.int64), nbins - 1)
        flat = idx + nbins * np.arange(rows.shape[0])[:, None]
        hist = np.bincount(flat.ravel(), minlength=nbins * rows.shape[0]).reshape(rows.shape[0], nbins)
        hist = hist.astype(np.float64)
        if method is CalibMethod.PERCENTILE:
            sel = percentile_bins(hist, percentile)
        elif method is CalibMethod.MSE:
            sel = mse_bins(hist)
        else:
            sel = entropy_bins(hist, max_candidates=WEIGHT_ENTROPY_CANDIDATES)
        out[lo:lo + _CHANNEL_CHUNK] = np.where(t > 0, np.minimum(sel * (t / nbins), t), 0.0)
    return out

__all__ = ["DEFAULT_BINS", "DEFAULT_PERCENTILE", "Calibrator", "EntropyCalibrator", "HistogramCalibrator",
           "MSECalibrator", "MinMaxCalibrator", "PercentileCalibrator", "entropy_bins", "magnitudes",
           "make_calibrator", "mse_bins", "percentile_bins", "weight_amax"]
