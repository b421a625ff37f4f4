"""The instruction set, declared once in :mod:`tataa.isa.spec`; everything else here derives from it."""
