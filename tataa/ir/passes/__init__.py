"""Graph passes: dead code, common subexpressions, constant folding, specialisation, pattern folding, optimize.

Each pass maps a Graph to a new, validated Graph with the same outputs; nodes that survive keep their names.
The ``*_stats`` variants also return counts of what they changed (collected in ``PassReport`` by ``optimize``).
"""

from tataa.ir.passes.cse import eliminate_common_subexpressions, eliminate_common_subexpressions_stats
from tataa.ir.passes.dce import eliminate_dead_code, eliminate_dead_code_stats
from tataa.ir.passes.fold import FOLD_LIMIT, constant_fold, constant_fold_stats
from tataa.ir.passes.patterns import fold_patterns, fold_patterns_stats
from tataa.ir.passes.pipeline import optimize
from tataa.ir.passes.report import PassReport
from tataa.ir.passes.specialize import graph_symbols, specialize, specialize_stats

__all__ = ["FOLD_LIMIT", "PassReport", "constant_fold", "constant_fold_stats", "eliminate_common_subexpressions",
           "eliminate_common_subexpressions_stats", "eliminate_dead_code", "eliminate_dead_code_stats",
           "fold_patterns", "fold_patterns_stats", "graph_symbols", "optimize", "specialize", "specialize_stats"]
