"""What a frontend hands back: the imported graph plus a record of how the source model was translated."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tataa.ir.graph import Graph

if TYPE_CHECKING:  # the passes package is written in parallel; only its report type is named here
    from tataa.ir.passes import PassReport


@dataclass(frozen=True)
class ImportResult:
    """An imported model.

    ``source`` names where it came from (a path, ``"<bytes>"``, a module class); ``source_ops`` is the op histogram
    of the source model; ``folded`` counts the source ops that were constant-folded or absorbed (shape arithmetic,
    Identity, Dropout, ...) rather than becoming IR nodes; ``report`` is the optimizer's report when it ran;
    ``seconds`` is the wall time of the import.
    """

    graph: Graph
    source: str
    source_ops: Counter[str]
    folded: Counter[str]
    report: PassReport | None
    seconds: float

    def summary(self) -> str:
        """A few lines describing the import (source ops, folded ops, IR ops)."""
        ir_ops = self.graph.op_histogram()
        lines = [
            f"{self.source}: {sum(self.source_ops.values())} source nodes "
            f"({len(self.source_ops)} op types), {sum(self.folded.values())} folded, "
            f"{sum(ir_ops.values())} IR nodes in {self.seconds:.2f} s",
            "  IR ops: " + ", ".join(f"{k}={v}" for k, v in sorted(ir_ops.items())),
        ]
        return "\n".join(lines)


__all__ = ["ImportResult"]
