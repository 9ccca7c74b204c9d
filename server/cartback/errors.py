"""The one error shape every API answer uses: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def to_response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        body: dict[str, str] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return JSONResponse({"error": body}, status_code=self.status, headers=headers)


def bad_request(field: str, message: str) -> ApiError:
    # The field leads the message so a merchant reading only the message still knows where to look.
    return ApiError(400, "bad_request", f"{field}: {message}", field)


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = getattr(request.state, "cors_headers", None)
    return exc.to_response(headers)
