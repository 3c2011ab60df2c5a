"""The OpenAPI's error responses, completed once Litestar has generated the document.

Every 4xx/5xx body the API sends is `ErrorBody` (core/errors.py), whoever raised it: a
service's `AppError`, Litestar's validation or routing, a guard, the authentication
middleware. Litestar documents only what a route lists in `responses` (and its own
validation body for a 400, which we never send), so `document_errors` walks the generated
document (`app.openapi_schema`, public API) and, for every operation:

- points every declared 4xx/5xx response at the one `ErrorBody` schema;
- adds the statuses any operation of its kind can answer, read from the operation and
  its route handler — so a new route is covered without listing them:

  | the operation                       | answers            |
  |-------------------------------------|--------------------|
  | any                                 | 500                |
  | has path, query or header parameters| 400                |
  | has a path parameter (an id)        | 404                |
  | takes a body                        | 400, 413, 415      |
  | takes `principal` (authenticated)   | 401, 403           |
  | takes `conn` (a pooled connection)  | 503 (database busy)|
  | has a guard marked with `answers()` | the guard's codes  |

Request bodies decoded into Structs with `forbid_unknown_fields` (core/schemas.py `Struct`:
all of ours) refuse unknown fields with a 400; their components, and the Structs nested in
them, say so with `additionalProperties: false`.

A route still lists in `responses` what only its service can answer (409, 410, 422, 429
from a service's rate limit, 503, …).
"""

from __future__ import annotations

import http
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
    SecurityScheme,
)
from litestar.routes import HTTPRoute

F = TypeVar("F", bound=Callable[..., Any])

_STATUSES_ATTRIBUTE = "crowdpass_error_statuses"
_METHODS = ("get", "put", "post", "delete", "patch")
BEARER = "BearerToken"

ERROR_BODY_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    title="ErrorBody",
    description="Every error: a stable machine code, a human text, and the field at fault when one is.",
    properties={
        "error": Schema(type=OpenAPIType.STRING, description="Machine code (docs/errors.md)"),
        "detail": Schema(type=OpenAPIType.STRING, description="Human-readable explanation"),
        "field": Schema(type=OpenAPIType.STRING, description="The request field at fault, when one is"),
    },
    required=["error", "detail"],
    additional_properties=False,
)


def answers(*statuses: int) -> Callable[[F], F]:
    """Mark a guard (or any callable a handler resolves) with the error statuses it can
    answer; `document_errors` adds them to every operation the guard protects."""

    def mark(fn: F) -> F:
        setattr(fn, _STATUSES_ATTRIBUTE, tuple(statuses))
        return fn

    return mark


def _handlers(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    """(OpenAPI path, lower-case method) → the route handler serving it."""
    found: dict[tuple[str, str], HTTPRouteHandler] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    found[(route.path_format, method.lower())] = handler
    return found


def _takes_principal(handler: HTTPRouteHandler | None) -> bool:
    return handler is not None and "principal" in handler.parsed_fn_signature.parameters


def _inferred(operation: Operation, handler: HTTPRouteHandler | None) -> Iterable[int]:
    yield 500
    parameters = [p for p in operation.parameters or () if not isinstance(p, Reference)]
    if parameters:
        yield 400
    if any(p.param_in == "path" for p in parameters):
        yield 404
    if operation.request_body is not None:
        yield from (400, 413, 415)
    if _takes_principal(handler):
        yield from (401, 403)
    if handler is not None and "conn" in handler.parsed_fn_signature.parameters:
        yield 503  # core/deps.py provide_conn, core/errors.py database_busy_handler
    yield from _guard_statuses(handler)


def _guard_statuses(handler: HTTPRouteHandler | None) -> set[int]:
    guards = handler.resolve_guards() if handler is not None else ()
    return {status for guard in guards for status in getattr(guard, _STATUSES_ATTRIBUTE, ())}


def _error_response(status: int) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=http.HTTPStatus(status).phrase,
        content={
            "application/json": OpenAPIMediaType(schema=Reference(ref="#/components/schemas/ErrorBody"))
        },
    )


def _strict_structs(handler: HTTPRouteHandler | None) -> set[str]:
    """Names of the Structs in the handler's body type that refuse unknown fields."""
    if handler is None:
        return set()
    dto = handler.resolve_data_dto()
    field = handler.parsed_data_field
    body = dto.model_type if dto is not None else field.annotation if field is not None else None
    if body is None:
        return set()
    names: set[str] = set()

    def walk(info: msgspec.inspect.Type) -> None:
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls.__name__ in names:
                return
            if info.forbid_unknown_fields:
                names.add(info.cls.__name__)
            for member in info.fields:
                walk(member.type)
        for attribute in ("item_type", "value_type", "types", "item_types"):
            inner = getattr(info, attribute, None)
            for item in inner if isinstance(inner, tuple) else (inner,) if inner is not None else ():
                walk(item)

    try:
        walk(msgspec.inspect.type_info(body))
    except (TypeError, ValueError):  # not a type msgspec knows
        return set()
    return names


def document_errors(app: Litestar) -> None:
    """Complete `app.openapi_schema` in place (call once, after the routes are registered)."""
    openapi = app.openapi_schema
    components = openapi.components if isinstance(openapi.components, Components) else Components()
    openapi.components = components
    components.schemas = {**(components.schemas or {}), "ErrorBody": ERROR_BODY_SCHEMA}
    components.security_schemes = {
        **(components.security_schemes or {}),
        BEARER: SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description="A customer token (sign-up or login) or the organizer token (ADMIN_TOKEN).",
        ),
    }
    handlers = _handlers(app)
    strict: set[str] = set()
    for path, item in (openapi.paths or {}).items():
        for method in _METHODS:
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            handler = handlers.get((path, method))
            responses = dict(operation.responses or {})
            statuses = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            statuses.update(_inferred(operation, handler))
            for status in statuses:
                responses[str(status)] = _error_response(status)
            operation.responses = dict(sorted(responses.items()))
            if operation.request_body is not None:
                strict |= _strict_structs(handler)
            if _takes_principal(handler) or 401 in _guard_statuses(handler):
                operation.security = [{BEARER: []}]
    for name in strict:
        schema = components.schemas.get(name)
        if isinstance(schema, Schema) and schema.type == OpenAPIType.OBJECT:
            schema.additional_properties = False
