"""Typed graph IR with a lark text form (issue 4; not yet implemented)."""
