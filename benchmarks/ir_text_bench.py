"""IR text-form speed on a 3,000-node decoder graph, as ratios against json round-tripping the same text."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from ir_graphs import decoder_graph, large_constants

from tataa.ir.text import parse_graph, print_graph


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    """Print print/parse times for a 61-layer decoder graph, and their ratio to json.dumps/loads of its text."""
    g = decoder_graph(layers=61)
    text = print_graph(g)
    weights = large_constants(g, 16)
    ref = _best(lambda: json.loads(json.dumps(text.splitlines())))
    t_print = _best(lambda: print_graph(g))
    t_parse = _best(lambda: parse_graph(text, weights))
    print(f"{len(g.nodes)} nodes, {len(text) / 1024:.0f} KiB of text; reference json round trip {ref * 1e3:.2f} ms")
    print(f"  print_graph  {t_print * 1e3:8.1f} ms  ({t_print / ref:8.1f}x reference)")
    print(f"  parse_graph  {t_parse * 1e3:8.1f} ms  ({t_parse / ref:8.1f}x reference)")


if __name__ == "__main__":
    main()
