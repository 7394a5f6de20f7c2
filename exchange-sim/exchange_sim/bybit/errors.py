"""Bybit API errors: HTTP 200 with a non-zero `retCode` and a `retMsg`.

The parameter messages below are the ones seen on the real API where known
(`Not supported symbols`, `params error: intervalTime is invalid`); the rest are guesses.
"""

from __future__ import annotations

PARAMS_ERROR = 10001


class BybitError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def unknown_symbol() -> BybitError:
    return BybitError(PARAMS_ERROR, "Not supported symbols")


def bad_interval() -> BybitError:
    return BybitError(PARAMS_ERROR, "params error: intervalTime is invalid")


def bad_category() -> BybitError:
    return BybitError(PARAMS_ERROR, "Illegal category")


def missing(name: str) -> BybitError:
    return BybitError(PARAMS_ERROR, f"params error: {name} is required")


def bad_value(name: str) -> BybitError:
    return BybitError(PARAMS_ERROR, f"params error: {name} is invalid")
