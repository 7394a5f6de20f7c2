"""WhiteBIT REST errors: an HTTP status and the body WhiteBIT sends with it.

Parameter errors use the shape ccxt has recorded from the live API (`message` maps the field
to a list of texts); the texts themselves are guesses unless ccxt quotes them.
"""

from __future__ import annotations

from exchange_sim.whitebit import payloads


class WhitebitError(Exception):
    def __init__(self, body: dict[str, object], status: int = 422) -> None:
        super().__init__(str(body.get("message")))
        self.body = body
        self.status = status


def invalid(field: str, text: str, result: object = None) -> WhitebitError:
    return WhitebitError(payloads.v1_invalid(field, text, result))


def unknown_market() -> WhitebitError:
    # Quoted by ccxt: {"success":false,"message":{"market":["Market is not available"]},"result":[]}
    return invalid("market", "Market is not available", [])


def missing(field: str) -> WhitebitError:
    return invalid(field, f"The {field} field is required.")


def not_integer(field: str) -> WhitebitError:
    return invalid(field, f"The {field} must be an integer.")


def too_large(field: str, most: int) -> WhitebitError:
    # ccxt quotes "limit must be less than or equal to 100" (its broad match -> BadRequest).
    return invalid(field, f"{field} must be less than or equal to {most}")


def too_small(field: str, least: int) -> WhitebitError:
    return invalid(field, f"{field} must be greater than or equal to {least}")


def bad_interval() -> WhitebitError:
    return invalid("interval", "The selected interval is invalid.")


def start_after_end() -> WhitebitError:
    return invalid("start", "The start must be less than or equal to end.")
