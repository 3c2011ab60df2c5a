"""Errors that carry their own HTTP status and stable code, and the one handler that renders them.

Every error body is `{"error": code, "detail": text, "field": name-or-absent}`.
The catalogue of codes lives in docs/errors.md.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from typing import Any, ClassVar

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("crowdpass.errors")

_AT_PATH = re.compile(r"at `\$\.?([\w.\[\]]*)`")
_NAMED_FIELD = re.compile(r"(?:missing required|unknown) field `(\w+)`")


class AppError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_detail: ClassVar[str] = "The request could not be processed."

    def __init__(
        self, detail: str | None = None, *, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.detail = detail or self.default_detail
        self.field = field
        self.headers = headers
        super().__init__(self.detail)


class BadRequest(AppError):
    status_code = 400
    code = "invalid_input"
    default_detail = "The request is not valid."


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    default_detail = "A valid bearer token is required."


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    default_detail = "This token may not do this."


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    default_detail = "No such resource."


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    default_detail = "The request conflicts with the current state."


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    default_detail = "The request body must be JSON, sent with Content-Type: application/json."


class Busy(AppError):
    status_code = 503
    code = "busy"
    default_detail = "The system is busy; try again shortly."

    def __init__(
        self, detail: str | None = None, *, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail, field=field, headers={"Retry-After": "1", **(headers or {})})


class ErrorBody(msgspec.Struct, omit_defaults=True):
    error: str
    detail: str
    field: str | None = None


def error_responses(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI `responses` of a route: each listed status answers with the error body.

    List only what the route's service can answer (409, 410, 422, 503, …): the statuses every
    operation of its kind answers (400, 401, 403, 404, 415, 429 from a guard, …) are added to
    every operation by core/openapi.py, which also gives each the one `ErrorBody` schema."""
    return {
        c: ResponseSpec(data_container=ErrorBody, description="Error", generate_examples=False) for c in codes
    }


def error_response(
    status: int, code: str, detail: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(ErrorBody(error=code, detail=detail, field=field)),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def field_from_message(message: str, *, prefix: str = "") -> str | None:
    """The field a msgspec message points at: its `at $.path`, plus the name of a missing
    or unknown field (`Object missing required field `x` - at `$.items[0]`` → items[0].x)."""
    match = _AT_PATH.search(message)
    path = (match.group(1) if match else "") or prefix
    named = _NAMED_FIELD.search(message)
    if named:
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return path or None


def validation_error(message: str) -> BadRequest:
    """A BadRequest naming the field a msgspec message points at."""
    field = field_from_message(message)
    detail = _AT_PATH.sub("", message).rstrip(" -") or "invalid value"
    return BadRequest(detail, field=field)


def _from_validation(exc: ValidationException) -> Response[bytes]:
    extra: Any = exc.extra
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        first = extra[0]
        message = str(first.get("message", exc.detail))
        if message == "'data'":  # Litestar's KeyError when the body is empty
            return error_response(
                400, "invalid_input", "The request body is empty; a JSON object is expected."
            )
        key = first.get("key")
        field = field_from_message(message, prefix="" if key in (None, "data") else str(key))
        detail = _AT_PATH.sub("", message).rstrip(" -") or "invalid value"
        return error_response(400, "invalid_input", detail, field)
    return error_response(400, "invalid_input", "The request body is not valid JSON of the expected shape.")


def app_error_handler(_: Request[Any, Any, Any], exc: AppError) -> Response[bytes]:
    return error_response(exc.status_code, exc.code, exc.detail, exc.field, exc.headers)


_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


_PARAM = re.compile(r"\{(\w+):(\w+)\}")


@functools.cache
def _uuid_templates(paths: tuple[str, ...]) -> list[tuple[re.Pattern[str], list[str]]]:
    """Each route path with `{name:uuid}` parameters as a regex with a named group each."""
    templates = []
    for path in paths:
        names = [name for name, kind in _PARAM.findall(path) if kind == "uuid"]
        if not names:
            continue
        parts, last = [], 0
        for m in _PARAM.finditer(path):
            parts += [re.escape(path[last : m.start()]), f"(?P<{m.group(1)}>[^/]*)"]
            last = m.end()
        parts.append(re.escape(path[last:]))
        templates.append((re.compile("^" + "".join(parts) + "$"), names))
    return templates


def _malformed_path_id(request: Request[Any, Any, Any]) -> str | None:
    """The `{name:uuid}` path parameter this request's path gives in a form that is not a
    UUID. The router answers such a path 404, as if no route matched; this names the field."""
    for pattern, names in _uuid_templates(tuple(r.path for r in request.app.routes)):
        match = pattern.match(request.url.path)
        for name in names if match else ():
            try:
                uuid.UUID(match.group(name))  # type: ignore[union-attr]
            except ValueError:
                return name
    return None


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if isinstance(exc, ValidationException):
        return _from_validation(exc)
    if isinstance(exc, NotFoundException) and isinstance(exc.__cause__, ValueError):
        field = _malformed_path_id(request)
        if field is not None:
            return error_response(400, "invalid_input", "Expected a UUID.", field)
    code = _HTTP_CODES.get(exc.status_code, "error")
    detail = exc.detail if exc.status_code < 500 else "Something went wrong on our side."
    return error_response(exc.status_code, code, detail, headers=dict(exc.headers or {}))


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side."
    )


def database_busy_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A statement that met a lock or a timeout of its query class (core/db.py DATABASE_BUSY)
    and that no service turned into its own error: 503 `busy`, try again in a second."""
    log.warning("database busy on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return error_response(
        503, Busy.code, "The database is busy; try again shortly.", headers={"Retry-After": "1"}
    )


exception_handlers: dict[Any, Any] = {
    AppError: app_error_handler,
    asyncpg.LockNotAvailableError: database_busy_handler,
    asyncpg.QueryCanceledError: database_busy_handler,
    TimeoutError: database_busy_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
