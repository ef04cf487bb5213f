"""One error type with a status code; handlers turn it into JSON (API) or a page (portal)."""

from __future__ import annotations


class AppError(Exception):
    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if status_code is not None:
            self.status_code = status_code

    def as_detail(self) -> list[dict[str, object]]:
        location: list[str] = ["body", self.field] if self.field else []
        return [{"loc": location, "msg": self.message, "type": "value_error"}]


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class Unprocessable(AppError):
    """Input that parsed but cannot be accepted; reported like a validation error."""

    status_code = 422
