"""The errors rules raise, each in Chinese and English. Plain exceptions: which HTTP status each
one answers is decided in one place, ``xinfang.web.HTTP_STATUS``."""
from __future__ import annotations


class DomainError(Exception):
    code = "bad_request"

    def __init__(self, message: str, message_zh: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.message, self.message_zh, self.field, self.rule = message, message_zh, field, rule

    def body(self) -> dict:
        err: dict = {"code": self.code, "message": self.message, "message_zh": self.message_zh}
        if self.field:
            err["fields"] = [{"field": self.field, "message": self.message, "message_zh": self.message_zh}]
        if self.rule:
            err["rule"] = self.rule
        return {"error": err}


class InvalidInput(DomainError):
    """A value that is well-formed but not acceptable (unknown category, future date …)."""
    code = "validation_error"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The write conflicts with the case's state or with a concurrent write."""
    code = "conflict"


class Unauthenticated(DomainError):
    """No valid token, or a wrong password."""
    code = "unauthenticated"


class Forbidden(DomainError):
    """The user's role or scope does not allow this."""
    code = "forbidden"


class TooManyRequests(DomainError):
    code = "too_many_requests"
