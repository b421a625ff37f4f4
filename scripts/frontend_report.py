"""Import every zoo model through both frontends, measure it, and write the generated sections of docs/frontends.md.

Per model: load time, ``torch.export`` time, ONNX export time (the dynamo exporter; a cached export reports the
time recorded when it was made), import time per frontend (conversion + optimizer, export excluded), node counts,
interpreter time and the relative error max |ir - ref| / max |ref| of ``run_graph`` against torch (torch path)
and onnxruntime (ONNX path) on random inputs; then the ``tataa inspect`` text of each model and frontend.

Two generated sections, each between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers of the doc:
``measurements`` (the table) and ``inspect`` (the reports). Timings vary from run to run, so there is no check mode.

Usage: ``python scripts/frontend_report.py [--models gpt2-tiny,minilm] [--seq 32] [--doc docs/frontends.md]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import onnxruntime as ort
import torch

from tataa import models
from tataa.errors import UnsupportedOpsError
from tataa.frontend.inspect import ImportedModel, format_report
from tataa.frontend.onnx_import import import_onnx
from tataa.frontend.torch_import import export_module, import_torch
from tataa.ir.interp import run_graph

T = TypeVar("T")
DOC = Path(__file__).resolve().parent.parent / "docs" / "frontends.md"
MODELS = ("gpt2-tiny", "gpt2-small", "llama-tiny", "vit-tiny", "vit-base", "minilm", "smollm2")


@dataclass(frozen=True)
class Row:
    """The measurements of one model through one frontend."""

    model: str
    frontend: str
    params: int
    load_s: float
    export_s: float
    import_s: float
    source_nodes: int
    nodes_before: int
    nodes_after: int
    interp_s: float
    ref_s: float
    rel_err: float


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max |want|."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / np.abs(want).max())


def _timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """``fn(*args, **kwargs)`` and the seconds it took."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _best_of(runs: int, fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    """``fn(*args)`` after a warm-up call, and the fastest of ``runs`` timed calls (the machine may be shared)."""
    out = fn(*args)
    best = min(_timed(fn, *args)[1] for _ in range(runs))
    return out, best


def measure(name: str, seq: int) -> tuple[list[Row], list[str]]:
    """Both frontends on one zoo model: measurement rows and ``tataa inspect`` texts."""
    zoo, load_s = _timed(models.load, name)
    feeds = zoo.example_dict(seq=seq, seed=1)
    x = tuple(torch.from_numpy(feeds[n]) for n in zoo.input_names)
    rows, texts = [], []
    for frontend in ("torch", "onnx"):
        try:
            if frontend == "torch":
                bounds = {s: zoo.max_seq for axes in zoo.dynamic.values() for s in axes.values() if zoo.max_seq}
                ep, export_s = _timed(export_module, zoo.module, zoo.example_inputs(seq=16), dynamic=zoo.dynamic,
                                      max_sizes=bounds)
                res = import_torch(ep, dynamic=zoo.dynamic, output_names=zoo.output_names)
                timings = {"load": load_s, "torch.export": export_s}
                want, ref_s = _best_of(3, zoo.run, *x)
                want = want.numpy()
            else:
                exported = models.export_onnx(zoo)
                export_s = exported.seconds
                res = import_onnx(exported.path)
                timings = {"load": load_s, "onnx export" + (" (cached)" if exported.cached else ""): export_s}
                sess = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
                (want,), ref_s = _best_of(3, sess.run, [zoo.output_names[0]], feeds)
                del sess
        except UnsupportedOpsError as e:
            texts.append(f"### {name}, {frontend} frontend\n\n```\n{e}\n```\n")
            continue
        got, interp_s = _best_of(3, run_graph, res.graph, feeds)
        out = got[res.graph.outputs[0]]
        report = res.report
        rows.append(Row(zoo.name, frontend, zoo.parameter_count, load_s, export_s, res.seconds,
                        sum(res.source_ops.values()), report.nodes_before if report else len(res.graph.nodes),
                        len(res.graph.nodes), interp_s, ref_s, rel_err(out, want)))
        text = format_report(ImportedModel(zoo.name, frontend, res, zoo, None, timings).report())
        texts.append(f"### {zoo.name}, {frontend} frontend\n\n```\n{text}```\n")
        print(f"{zoo.name:11s} {frontend:5s} import {res.seconds:6.2f} s, {len(res.graph.nodes)} nodes, "
              f"interp {interp_s:.2f} s, rel err {rows[-1].rel_err:.1e}", file=sys.stderr)
        del res, got, out
        gc.collect()
    return rows, texts


def table(rows: list[Row], seq: int) -> str:
    """The measurements as a markdown table."""
    head = ("| model | frontend | params | load s | export s | import s | source nodes | IR nodes (before → after "
            f"optimize) | interp s (seq {seq}) | reference s | max rel err |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r.model} | {r.frontend} | {r.params / 1e6:.2f} M | {r.load_s:.2f} | {r.export_s:.2f} | "
                     f"{r.import_s:.2f} | {r.source_nodes} | {r.nodes_before} → {r.nodes_after} | {r.interp_s:.3f} | "
                     f"{r.ref_s:.3f} | {r.rel_err:.1e} |")
    env = (f"Measured on {platform.machine()} with {os.cpu_count()} CPU(s), torch {torch.__version__}, "
           f"onnxruntime {ort.__version__}; `export s` is `torch.export` (torch rows) or the dynamo ONNX export "
           f"(onnx rows), `import s` is conversion + optimizer, the reference is torch (torch rows) or "
           f"onnxruntime (onnx rows); interpreter and reference times are the best of three warm runs. Load, "
           f"export and import are single runs, so on a busy machine they vary by up to about 2x between runs; an "
           f"ONNX export taken from the cache reports the time recorded when it was made.")
    return env + "\n\n" + "\n".join(lines) + "\n"


def replace_section(doc: str, name: str, body: str) -> str:
    """``doc`` with the text between the markers of section ``name`` replaced by ``body``."""
    pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
    if not pattern.search(doc):
        raise SystemExit(f"{DOC}: no <!-- BEGIN {name} --> ... <!-- END {name} --> markers")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), doc)


def main(argv: list[str] | None = None) -> int:
    """Measure the chosen models and rewrite the doc's generated sections."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo names")
    p.add_argument("--seq", type=int, default=32, help="sequence length of the interpreter runs")
    p.add_argument("--doc", type=Path, default=DOC, help="the markdown file to update")
    args = p.parse_args(argv)
    rows: list[Row] = []
    texts: list[str] = []
    for name in args.models.split(","):
        r, t = measure(name.strip(), args.seq)
        rows += r
        texts += t
    doc = args.doc.read_text(encoding="utf-8")
    doc = replace_section(doc, "measurements", table(rows, args.seq))
    doc = replace_section(doc, "inspect", "\n".join(texts))
    args.doc.write_text(doc, encoding="utf-8")
    print(f"wrote {args.doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
