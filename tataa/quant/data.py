"""Calibration data: the reader protocol (any iterable of input feeds) and helpers to build, check and adapt feeds.

A *feed* maps every graph input name to an array, exactly what ``tataa.ir.interp.run_graph`` takes. The quantizer
accepts any iterable of feeds: a list, a generator, a ``CalibrationReader``, or an onnxruntime
``CalibrationDataReader`` (those iterate too; an object with only ``get_next()`` is read until it returns None).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from tqdm import tqdm

from tataa.errors import BindingError, IRError
from tataa.ir.dims import eval_dim
from tataa.ir.graph import Graph
from tataa.ir.interp import Observer, run_graph
from tataa.quant.recipe import QuantError

Feed = Mapping[str, np.ndarray]
DEFAULT_SIZE = 16  # a symbolic size's value in random feeds when the caller gives none


@runtime_checkable
class DataReader(Protocol):
    """The calibration data-reader protocol: iterating gives input feeds (name -> array)."""

    def __iter__(self) -> Iterator[Feed]:
        """The feeds, one per calibration sample."""
        ...


class CalibrationReader:
    """A re-iterable, in-memory list of feeds, with constructors for common sources and an onnxruntime adapter."""

    def __init__(self, feeds: Iterable[Feed]) -> None:
        self._feeds: list[dict[str, np.ndarray]] = [check_feed(f, i) for i, f in enumerate(_iterate(feeds))]

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return iter(self._feeds)

    def __len__(self) -> int:
        return len(self._feeds)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self._feeds[index]

    def take(self, count: int) -> CalibrationReader:
        """The first ``count`` feeds."""
        return CalibrationReader(self._feeds[:count])

    @classmethod
    def from_batches(cls, arrays: Mapping[str, np.ndarray], batch_size: int = 1) -> CalibrationReader:
        """Feeds cut along axis 0 of equally long arrays (the last feed may be shorter)."""
        if batch_size < 1:
            raise QuantError(f"from_batches: batch_size {batch_size} (need >= 1)")
        lengths = {name: np.asarray(a).shape[0] if np.ndim(a) else None for name, a in arrays.items()}
        if not lengths or None in lengths.values() or len(set(lengths.values())) != 1:
            raise QuantError(f"from_batches: need arrays of rank >= 1 with one common length, got lengths {lengths}")
        total = next(iter(lengths.values()))
        assert total is not None
        return cls({name: np.asarray(a)[i:i + batch_size] for name, a in arrays.items()}
                   for i in range(0, total, batch_size))

    @classmethod
    def random(cls, graph: Graph, count: int, *, dims: Mapping[str, int] | None = None, seed: int = 0,
               std: float = 1.0, int_ranges: Mapping[str, tuple[int, int]] | None = None) -> CalibrationReader:
        """``count`` seeded random feeds for a graph: floats ~ N(0, std²), bools True, integers uniform.

        Symbolic sizes take ``dims`` (default ``DEFAULT_SIZE``). An integer input's range comes from ``int_ranges``
        (``[low, high)``), else, when it indexes a ``gather`` of a constant table, the table's size on that axis
        (token ids), else it is all ones (a mask).
        """
        rng = np.random.default_rng(seed)
        sizes = {s: DEFAULT_SIZE for s in graph.symbols} | dict(dims or {})
        ranges = dict(int_ranges or {})
        feeds = []
        for _ in range(count):
            feed: dict[str, np.ndarray] = {}
            for v in graph.inputs:
                shape = tuple(eval_dim(d, sizes) for d in v.type.shape)
                dt = v.type.dtype
                if dt.is_float:
                    arr = (rng.standard_normal(shape) * std).astype(dt.numpy)
                elif dt.is_int:
                    lo_hi = ranges.get(v.name) or _index_range(graph, v.name)
                    arr = (rng.integers(*lo_hi, size=shape) if lo_hi else np.ones(shape)).astype(dt.numpy)
                else:
                    arr = np.ones(shape, dtype=dt.numpy)
                feed[v.name] = arr
            feeds.append(feed)
        return cls(feeds)

    @classmethod
    def from_ort(cls, reader: Any) -> CalibrationReader:
        """The feeds of an onnxruntime-style reader (``get_next()`` until None)."""
        return cls(_iterate(reader))

    def to_ort(self) -> OrtReader:
        """An onnxruntime ``CalibrationDataReader``-compatible view of these feeds (``get_next``, ``rewind``)."""
        return OrtReader(self._feeds)


class OrtReader:
    """Duck-typed onnxruntime ``CalibrationDataReader``: ``get_next()`` gives each feed once, then None."""

    def __init__(self, feeds: Sequence[Feed]) -> None:
        self._feeds = list(feeds)
        self._next = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next feed, or None when all were given."""
        if self._next >= len(self._feeds):
            return None
        self._next += 1
        return dict(self._feeds[self._next - 1])

    def rewind(self) -> None:
        """Start again from the first feed."""
        self._next = 0

    def __len__(self) -> int:
        return len(self._feeds)


def _index_range(graph: Graph, name: str) -> tuple[int, int] | None:
    """[0, table size) when input ``name`` indexes a gather over a constant table."""
    consts = graph.constant_map
    for user in graph.users.get(name, ()):
        if user.op == "gather" and user.inputs[1] == name and user.inputs[0] in consts:
            table = consts[user.inputs[0]]
            return 0, int(table.shape[user.attr("axis") % table.ndim])
    return None


def _iterate(source: Any) -> Iterator[Feed]:
    """The feeds of an iterable, or of an object with only ``get_next()``."""
    if isinstance(source, Mapping):
        raise QuantError("calibration data is a single feed (a mapping); pass a list of feeds, e.g. [feed]")
    if isinstance(source, Iterable):
        return iter(source)
    get_next = getattr(source, "get_next", None)
    if callable(get_next):
        return iter(get_next, None)
    raise QuantError(f"calibration data must be an iterable of feeds (dict of input name -> array), got "
                     f"{type(source).__name__}")


def collect_feeds(data: Any, limit: int, graph: Graph | None = None) -> list[dict[str, np.ndarray]]:
    """The first ``limit`` feeds of ``data`` as dicts, each checked (names, ranks) against the graph's inputs.

    QuantError when there is no feed at all, or a feed is not a mapping of the graph's input names.
    """
    feeds: list[dict[str, np.ndarray]] = []
    if limit < 1:
        raise QuantError(f"calibration: limit {limit} (need >= 1 sample)")
    for index, feed in enumerate(itertools.islice(_iterate(data), limit)):
        feeds.append(check_feed(feed, index, graph))
    if not feeds:
        raise QuantError("no calibration data: the calibration reader gave no feeds")
    return feeds


def check_feed(feed: Any, index: int, graph: Graph | None = None) -> dict[str, np.ndarray]:
    """A feed as a dict of arrays; QuantError naming the feed index when it does not fit the graph's inputs."""
    if not isinstance(feed, Mapping):
        raise QuantError(f"calibration feed #{index}: expected a mapping of input name -> array, got "
                         f"{type(feed).__name__}")
    out: dict[str, np.ndarray] = {}
    for name, value in feed.items():
        if not isinstance(name, str):
            raise QuantError(f"calibration feed #{index}: input name {name!r} is not a string")
        out[name] = value if isinstance(value, np.ndarray) or hasattr(value, "detach") else np.asarray(value)
    if graph is None:
        return out
    wanted = {v.name: v for v in graph.inputs}
    missing, extra = sorted(set(wanted) - set(out)), sorted(set(out) - set(wanted))
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(extra)}"] if extra else [])
        raise QuantError(f"calibration feed #{index}: {'; '.join(parts)} (graph {graph.name} takes "
                         f"{', '.join(wanted)})")
    for name, v in wanted.items():
        arr = out[name]
        if isinstance(arr, np.ndarray) and arr.dtype != v.type.dtype.numpy:
            raise QuantError(f"calibration feed #{index}: input {name} has element type {arr.dtype}, the graph "
                             f"wants {v.type}")
        if np.ndim(arr) != v.type.rank:
            raise QuantError(f"calibration feed #{index}: input {name} has shape {list(np.shape(arr))}, the graph "
                             f"wants {v.type}")
        for axis, d in enumerate(v.type.shape):
            if isinstance(d, int) and np.shape(arr)[axis] != d:
                raise QuantError(f"calibration feed #{index}: input {name} has size {np.shape(arr)[axis]} on axis "
                                 f"{axis}, the graph wants {v.type}")
    return out


def run_feeds(graph: Graph, feeds: Sequence[Feed], observer: Observer, *, progress: bool = True,
              desc: str = "calibrate", on_feed: Callable[[Feed], object] | None = None) -> None:
    """Run the float graph on every feed with ``observer(node, value)`` (and a tqdm bar unless told not to).

    ``on_feed(feed)`` is called before each run (the observer never sees graph inputs).
    """
    for index, feed in enumerate(tqdm(feeds, desc=desc, unit="feed", disable=not progress, leave=False)):
        if on_feed is not None:
            on_feed(feed)
        try:
            run_graph(graph, feed, observer=observer)
        except (BindingError, IRError) as e:
            raise QuantError(f"calibration feed #{index}: {e}") from e


__all__ = ["DEFAULT_SIZE", "CalibrationReader", "DataReader", "Feed", "OrtReader", "check_feed", "collect_feeds",
           "run_feeds"]
