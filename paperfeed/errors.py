"""Named errors with a message and a hint. Edges translate them:
the CLI prints one line and exits non-zero; HTTP returns the JSON error envelope."""

from __future__ import annotations


class PaperfeedError(Exception):
    """Base error: `message` says what is wrong, `hint` how to fix it."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, hint: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        joiner = " " if self.message.endswith((".", "!", "?", ":")) else ". "
        return f"{self.message}{joiner}{self.hint}"


class ConfigError(PaperfeedError):
    code = "bad_config"
    status = 500


class NotFound(PaperfeedError):
    code = "not_found"
    status = 404


class InvalidInput(PaperfeedError):
    code = "invalid"
    status = 400


class Forbidden(PaperfeedError):
    code = "forbidden"
    status = 403


class SignInRequired(PaperfeedError):
    code = "sign_in_required"
    status = 401


class RateLimited(PaperfeedError):
    code = "rate_limited"
    status = 429


class QuerySyntaxError(InvalidInput):
    code = "query_syntax"

    def __init__(self, message: str, *, position: int, hint: str = "") -> None:
        super().__init__(f"{message} at position {position}", hint=hint, field="q")
        self.position = position


class SourceError(PaperfeedError):
    """A source could not be read at all (unreachable, bad file)."""

    code = "source_error"
    status = 502


class StoreUnavailable(PaperfeedError):
    code = "store_unavailable"
    status = 503


class IndexUnavailable(PaperfeedError):
    """An index could not be brought up to the store (the store itself is intact)."""

    code = "index_unavailable"
    status = 503
