"""Exception types: every error a user can provoke is one of these, with a message naming the problem."""

from __future__ import annotations


class TataaError(Exception):
    """Base of every error tataa reports to users."""


class EncodingError(TataaError):
    """An instruction field is out of range, or a word does not decode to a valid instruction."""


class AsmError(TataaError):
    """Assembly text is malformed; the message names the line and column."""


class ProgramFileError(TataaError):
    """A program file is truncated, corrupt, of another version or for another ISA."""


class SimError(TataaError):
    """The simulator refused to go on: bad address, illegal mode, hazard, missing FINISH, ..."""

    def __init__(self, message: str, index: int | None = None, text: str | None = None) -> None:
        where = "" if index is None else f"instruction #{index}" + (f" ({text})" if text else "") + ": "
        super().__init__(where + message)
        self.index = index


class DeadlockError(SimError):
    """No unit can make progress: every unfinished unit waits on a token that will never come."""


class BindingError(TataaError):
    """Host data does not fit a program's tensor descriptors (missing input, wrong shape or dtype)."""


class IRError(TataaError):
    """A graph is malformed: unknown op, bad attribute, undefined value, or shapes that do not agree."""


class FrontendError(TataaError):
    """A model file or module cannot be imported: malformed, truncated, or of an unsupported opset."""


class UnsupportedOpsError(FrontendError):
    """A model uses operators the IR cannot express; lists every one of them, not just the first."""

    def __init__(self, diagnostics: list[tuple[str, str, str]], source: str = "model") -> None:
        self.diagnostics = list(diagnostics)
        lines = [f"{source}: {len(self.diagnostics)} unsupported node(s):"]
        lines += [f"  {name} ({op}): {why}" for name, op, why in self.diagnostics]
        super().__init__("\n".join(lines))
