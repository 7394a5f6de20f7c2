"""OKX REST errors: `{"code":"51000","msg":"Parameter bar error","data":[]}`.

Codes and wordings are those of OKX's error table (50011, 50014, 51000, 51001); the HTTP
status of each follows that table (400 for parameter errors, 429 for the rate limit).
"""

from __future__ import annotations

RATE_LIMITED = "50011"
EMPTY = "50014"
PARAMETER = "51000"
NO_INSTRUMENT = "51001"


class OkxError(Exception):
    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


def empty(name: str) -> OkxError:
    return OkxError(EMPTY, f"Parameter {name} cannot be empty", 400)


def bad(name: str) -> OkxError:
    return OkxError(PARAMETER, f"Parameter {name} error", 400)


def no_instrument() -> OkxError:
    return OkxError(NO_INSTRUMENT, "Instrument ID does not exist")
