"""The contract with the simulator: every SIMD function named in the ISA spec exists with the right arity,
dtypes and shapes, leaves its (read-only) operands alone, and is vectorised. Speed lives in benchmarks."""

from __future__ import annotations

import numpy as np
import pytest

from tataa import numerics as nx
from tataa.isa.spec import VFUNCTS, VFunctDef, VKind

ARITY = {VKind.UNARY: 1, VKind.BINARY: 2, VKind.TERNARY_CONST: 3, VKind.TERNARY_DST: 3, VKind.TO_INT8: 2}


def test_public_names() -> None:
    assert sorted(nx.__all__) == sorted(set(nx.__all__))
    for name in nx.__all__:
        assert hasattr(nx, name), name
        obj = getattr(nx, name)
        if callable(obj):
            assert obj.__doc__, f"{name} needs a docstring"


@pytest.mark.parametrize("d", VFUNCTS, ids=lambda d: d.funct.name)
def test_every_vfunct_dispatches(d: VFunctDef) -> None:
    fn = getattr(nx, d.impl)
    rng = np.random.default_rng(int(d.funct))
    if d.kind is VKind.REDUCE:
        x = rng.integers(0, 1 << 16, (3, 5, 8)).astype(np.uint16)
        x.flags.writeable = False
        out = fn(x)
        assert out.shape == (3,) and out.dtype == np.uint16
        return
    ops = [rng.integers(0, 1 << 16, (4, 8)).astype(np.uint16) for _ in range(ARITY[d.kind])]
    for op in ops:
        op.flags.writeable = False
    before = [op.copy() for op in ops]
    out = fn(*ops)
    assert out.shape == (4, 8)
    assert out.dtype == (np.int8 if d.kind is VKind.TO_INT8 else np.uint16)
    assert all(np.array_equal(a, b) for a, b in zip(ops, before, strict=True))
    # a broadcast constant operand (b_const) and scalars work too
    if len(ops) >= 2:
        const = np.broadcast_to(np.uint16(0x3F80), (4, 8))
        assert fn(ops[0], const, *ops[2:]).shape == (4, 8)
    scalar = fn(*[int(op[0, 0]) for op in ops])
    assert np.shape(scalar) == ()
    assert int(scalar) == int(out[0, 0])
