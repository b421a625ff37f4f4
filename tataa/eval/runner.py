"""Run one task: load the model, prepare the data, build every peer, score them all on the same batches.

Peers are built first (import, quantization with its calibration pass, ONNX export and onnxruntime
quantization); then one pass over the scored batches runs every peer on each batch, so the fp32 output of a batch
is at hand to check the IR interpreter against, and no peer's full outputs (logits) are ever held in memory.
A peer whose components are missing is reported ``unavailable``; one that raises while being built or run is
reported ``failed`` with the error (``strict=True`` lets the exception through instead).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tataa.errors import TataaError
from tataa.eval.peers import (
    IR_TOLERANCE,
    PEERS,
    Peer,
    PeerUnavailable,
    fp32_peer,
    import_graph,
    ir_peer,
    ort_int8_peer,
    quantized_peer,
    recipe_info,
)
from tataa.eval.tasks import EvalSettings, Summary, Task, TaskData, get_task, validate
from tataa.quant.recipe import PAPER_RECIPE, RECIPES, QuantRecipe

OK, UNAVAILABLE, FAILED = "ok", "unavailable", "failed"


@dataclass(frozen=True)
class PeerResult:
    """One peer's outcome: its metric value (None unless ``status == "ok"``) and how it compares with fp32."""

    name: str
    status: str  # "ok", "unavailable" or "failed"
    value: float | None = None
    delta: float | None = None  # value - fp32 value (percentage points for %, absolute for perplexity)
    extras: dict[str, float] = field(default_factory=dict)  # agreement, mean cosine, ... versus fp32
    setup_s: float = 0.0
    run_s: float = 0.0
    reason: str | None = None  # why it is unavailable or failed
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalResult:
    """A task's outcome over all peers, with what was measured and how."""

    task: str
    metric: str
    unit: str
    higher_is_better: bool
    description: str
    data_source: str
    n: int
    n_calibration: int
    settings: EvalSettings
    recipe: QuantRecipe  # behind the ``tataa`` column
    peers: tuple[PeerResult, ...]
    ir_max_rel_err: float | None  # max over batches of max|ir - fp32| / max|fp32|
    details: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def peer(self, name: str) -> PeerResult:
        """The result of the peer called ``name``."""
        for p in self.peers:
            if p.name == name:
                return p
        raise TataaError(f"no peer {name!r} in this result; peers: {', '.join(p.name for p in self.peers)}")

    @property
    def ir_ok(self) -> bool | None:
        """Whether the IR interpreter matched fp32 within IR_TOLERANCE (None if it did not run)."""
        return None if self.ir_max_rel_err is None else self.ir_max_rel_err <= IR_TOLERANCE


def resolve_recipe(name: str | QuantRecipe) -> QuantRecipe:
    """A recipe by name (``tataa``, ``paper``), or the recipe itself; a TataaError naming the known ones."""
    if isinstance(name, QuantRecipe):
        return name
    try:
        return RECIPES[name]
    except KeyError:
        raise TataaError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}") from None


def resolve_settings(task: Task, settings: EvalSettings) -> EvalSettings:
    """``settings`` validated, with the task's default limit and sequence length filled in."""
    validate(settings)
    return dataclasses.replace(settings, limit=settings.limit or task.default_limit,
                               seq=settings.seq or task.default_seq)


def _rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    err = float(np.max(np.abs(a.astype(np.float64) - ref))) if ref.size else 0.0
    return err / scale if scale > 0 else err


def _describe(e: BaseException) -> str:
    return str(e) if isinstance(e, TataaError) else f"{type(e).__name__}: {e}"


class _Run:
    """The mutable state of one evaluation: built peers, per-peer summaries, timings, failures."""

    def __init__(self, task: Task, data: TaskData, strict: bool) -> None:
        self.task, self.data, self.strict = task, data, strict
        self.peers: dict[str, Peer] = {}
        self.summaries: dict[str, list[Summary]] = {}
        self.run_s: dict[str, float] = {}
        self.status: dict[str, tuple[str, str | None]] = {}
        self.ir_err: float | None = None

    def build(self, name: str, make: Any, *args: Any, **kwargs: Any) -> None:
        """Build peer ``name`` with ``make(*args, **kwargs)``, recording unavailable/failed instead of raising."""
        try:
            self.peers[name] = make(*args, **kwargs)
            self.summaries[name], self.run_s[name] = [], 0.0
            self.status[name] = (OK, None)
        except PeerUnavailable as e:
            self.status[name] = (UNAVAILABLE, str(e))
        except Exception as e:
            if self.strict:
                raise
            self.status[name] = (FAILED, f"while building: {_describe(e)}")

    def score_all(self, progress: bool) -> None:
        """Run every built peer on every batch, fp32 first."""
        from tqdm.auto import tqdm

        scorer = self.data.scorer
        for batch in tqdm(self.data.batches, desc=f"{self.task.name}: evaluating", disable=not progress,
                          leave=False, unit="batch"):
            ref = None
            for name, peer in list(self.peers.items()):
                t0 = time.perf_counter()
                try:
                    out = peer.run(batch.feed)
                except Exception as e:
                    if self.strict or name == "fp32":
                        raise
                    self.status[name] = (FAILED, f"while running: {_describe(e)}")
                    del self.peers[name]
                    continue
                self.run_s[name] += time.perf_counter() - t0
                if name == "fp32":
                    ref = out[: batch.rows]
                elif name == "ir_float" and ref is not None:
                    err = _rel_err(out[: batch.rows], ref)
                    self.ir_err = err if self.ir_err is None else max(self.ir_err, err)
                self.summaries[name].append(scorer.summarize(batch, out))

    def result(self, name: str) -> PeerResult:
        """The PeerResult of ``name`` (scored when it ran to the end)."""
        status, reason = self.status.get(name, (UNAVAILABLE, "not requested"))
        peer = self.peers.get(name)
        if status != OK or peer is None:
            return PeerResult(name, status, reason=reason)
        scorer, batches = self.data.scorer, self.data.batches
        value = scorer.score(batches, self.summaries[name])
        fp32 = self.summaries.get("fp32")
        extras = {} if name == "fp32" or fp32 is None else scorer.compare(self.summaries[name], fp32)
        return PeerResult(name, OK, value, None, extras, peer.setup_s, self.run_s[name], None, dict(peer.info))


def _with_deltas(results: Sequence[PeerResult]) -> tuple[PeerResult, ...]:
    ref = next((r.value for r in results if r.name == "fp32" and r.value is not None), None)
    out = []
    for r in results:
        delta = None if ref is None or r.value is None or math.isnan(ref) else r.value - ref
        out.append(dataclasses.replace(r, delta=delta))
    return tuple(out)


def evaluate(task: str | Task, settings: EvalSettings | None = None, *, recipe: str | QuantRecipe = "tataa",
             peers: Sequence[str] = PEERS, strict: bool = False) -> EvalResult:
    """Score ``peers`` (default: all of ``PEERS``; fp32 always runs) on a task and compare them with fp32.

    ``recipe`` is the quantization recipe behind the ``tataa`` column (``paper_recipe`` always uses
    ``PAPER_RECIPE``; when both are the paper recipe it is built once). Errors in the task or settings are
    TataaErrors; errors inside a peer make it ``failed`` unless ``strict``.
    """
    t_start = time.perf_counter()
    task = get_task(task) if isinstance(task, str) else task
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise TataaError(f"unknown peer(s) {', '.join(unknown)}; known: {', '.join(PEERS)}")
    tataa_recipe = resolve_recipe(recipe)
    settings = resolve_settings(task, settings or EvalSettings())
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    zoo = task.load_model(settings)
    timings["load_model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = task.prepare(zoo, settings)
    timings["prepare_data"] = time.perf_counter() - t0
    if not data.batches:
        raise TataaError(f"{task.name}: nothing to score (limit {settings.limit}, seq {settings.seq})")

    run = _Run(task, data, strict)
    run.build("fp32", fp32_peer, zoo)
    wanted = set(peers)
    graph_peers = wanted & {"ir_float", "tataa", "paper_recipe"}
    graph = None
    if graph_peers:
        dims = {"seq": int(data.batches[0].feed["input_ids"].shape[1])} if task.fixed_dims else None
        try:
            graph, import_s = import_graph(zoo, dims)
            timings["import_ir"] = import_s
        except Exception as e:
            if strict:
                raise
            for name in graph_peers:
                run.status[name] = (FAILED, f"IR import: {_describe(e)}")
    if graph is not None:
        if "ir_float" in wanted:
            run.build("ir_float", ir_peer, graph, timings["import_ir"])
        if "tataa" in wanted:
            run.build("tataa", quantized_peer, "tataa", graph, data.calibration, tataa_recipe,
                      progress=settings.progress)
    if "ort_int8" in wanted:
        run.build("ort_int8", ort_int8_peer, zoo, data.calibration, progress=settings.progress)
    same_recipe = tataa_recipe == PAPER_RECIPE and "tataa" in wanted
    if graph is not None and "paper_recipe" in wanted and not same_recipe:
        run.build("paper_recipe", quantized_peer, "paper_recipe", graph, data.calibration, PAPER_RECIPE,
                  progress=settings.progress)

    t0 = time.perf_counter()
    run.score_all(settings.progress)
    timings["evaluate"] = time.perf_counter() - t0
    results = [run.result(name) for name in PEERS if name in wanted or name == "fp32"]
    if same_recipe and "paper_recipe" in wanted:
        results = [dataclasses.replace(run.result("tataa"), name="paper_recipe") if r.name == "paper_recipe" else r
                   for r in results]
    timings["total"] = time.perf_counter() - t_start
    details = {**data.details, "paper_recipe": recipe_info(PAPER_RECIPE)}
    return EvalResult(task.name, task.metric, task.unit, task.higher_is_better, task.description, task.data_source,
                      data.n, data.n_calibration, settings, tataa_recipe, _with_deltas(results), run.ir_err, details,
                      timings)


__all__ = ["FAILED", "OK", "UNAVAILABLE", "EvalResult", "PeerResult", "evaluate", "resolve_recipe",
           "resolve_settings"]
