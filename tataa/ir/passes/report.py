"""What the optimiser did: per-pass counts and the graph's size before and after."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PassReport:
    """Counts per pass (``specialize``, ``constant_fold``, ``fold_patterns``, ``cse``, ``dce``) and sizes.

    ``counts[pass]`` maps what the pass did to how often: ``fold.<op>`` and simplification rules for
    ``constant_fold``, pattern kinds (``layer_norm``, ``attention``, ...) for ``fold_patterns``, merged ops for
    ``cse``, removed ops (and ``constant``) for ``dce``.
    """

    nodes_before: int
    nodes_after: int
    constants_before: int
    constants_after: int
    iterations: int
    counts: Mapping[str, Counter[str]]
    seconds: float

    @property
    def patterns(self) -> Counter[str]:
        """Patterns found, by kind."""
        return self.counts.get("fold_patterns", Counter())

    @property
    def folded(self) -> Counter[str]:
        """Constant-folding and simplification counts (including those done while specialising)."""
        out: Counter[str] = Counter(self.counts.get("constant_fold", Counter()))
        spec = self.counts.get("specialize", Counter())
        out.update({k: v for k, v in spec.items() if k != "retyped"})
        return out

    @property
    def removed(self) -> Counter[str]:
        """Dead nodes removed, by op."""
        return self.counts.get("dce", Counter())

    @property
    def merged(self) -> Counter[str]:
        """Duplicate nodes and constants merged, by op."""
        return self.counts.get("cse", Counter())

    def summary(self) -> str:
        """A few lines describing the optimisation."""
        lines = [f"optimize: {self.nodes_before} -> {self.nodes_after} nodes, {self.constants_before} -> "
                 f"{self.constants_after} constants, {self.iterations} iteration(s), {self.seconds:.2f} s"]
        for name, c in self.counts.items():
            items = sorted((k, v) for k, v in c.items() if v)
            if items:
                lines.append(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in items))
        return "\n".join(lines)


__all__ = ["PassReport"]
