"""The base Struct every schema derives from, and body decoding that names the bad field."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Generator
from typing import Any, Protocol, TypeVar

import msgspec
from litestar.dto import AbstractDTO, DTOFieldDefinition
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from core.errors import BadRequest, UnsupportedMediaType, validation_error


class SchemaCreator(Protocol):
    """What `AbstractDTO.create_openapi_schema` is handed: the one method we call on it.
    (Litestar's class lives in a private module; this names the public hook's contract.)"""

    def for_field_definition(self, field_definition: FieldDefinition) -> Schema | Reference: ...


class Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Inputs are strict (unknown fields are refused); outputs reuse the same base."""


class Out(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=False):
    """Base of response bodies."""


T = TypeVar("T")

# Every instant the API accepts lies in this window: PostgreSQL's driver stores year 1 and
# year 9999 as -infinity and +infinity, which no listing or cron can compute with.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def check_instant(moment: dt.datetime, *, field: str) -> dt.datetime:
    """`moment` (timezone-aware) in UTC when it lies in EARLIEST..LATEST, else a 400 naming `field`."""
    if not EARLIEST <= moment <= LATEST:
        raise BadRequest("Must lie between 1970-01-01 and 2200-01-01 (UTC).", field=field)
    return moment.astimezone(dt.UTC)


def check_no_nul(value: str, *, field: str) -> str:
    """`value`, or a 400 naming `field` when it carries a NUL character (PostgreSQL refuses those)."""
    if "\x00" in value:
        raise BadRequest("Must not contain NUL characters.", field=field)
    return value


def _nul_path(value: Any, path: str = "") -> str | None:
    """The path (`sections[0].name`) of the first string holding a NUL character, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _nul_path(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}".lstrip("."))
        if found is not None:
            return found
    return None


def decode_json(raw: bytes, type_: type[T]) -> T:
    """Decode a JSON body, turning any problem into a 400 naming the field: invalid JSON or
    UTF-8, a value of the wrong shape, and a NUL character in any string."""
    if not raw.strip():
        raise BadRequest("The request body is empty; a JSON object is expected.")
    try:
        value = msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as exc:
        raise validation_error(str(exc)) from None
    except msgspec.DecodeError:
        raise BadRequest("The request body is not valid JSON.") from None
    except UnicodeDecodeError:  # raised by msgspec for invalid UTF-8 inside a string
        raise BadRequest("The request body is not valid UTF-8.") from None
    if b"\\u0000" in raw:  # JSON can carry a NUL only as this escape; rare, so look closer
        field = _nul_path(msgspec.json.decode(raw))
        if field is not None:
            raise BadRequest("Must not contain NUL characters.", field=field or None)
    return value


def is_json(content_type: str | None) -> bool:
    """`application/json` or an `application/...+json` type, with any parameters."""
    media = (content_type or "").partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def parse_uuid(value: str, *, field: str) -> uuid.UUID:
    """A path or query id, or a 400 naming the field (instead of a bare 404 from the router)."""
    try:
        if len(value) <= 64:
            return uuid.UUID(value)
    except ValueError:
        pass
    raise BadRequest("Expected a UUID.", field=field)


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


class StrictBody(AbstractDTO[T]):
    """Decode a handler's `data` with msgspec in strict mode: `"5"` is not an int, `1` is
    not a bool. (Litestar's own body conversion is lax.) The OpenAPI schema is the Struct's.
    A body must come with a JSON content type, else 415: browsers send `text/plain` and form
    bodies across origins without a preflight. (Checked here, when the body is read: after
    the route's guards, so an anonymous caller still gets its 401 first.)

    Use: `@post("/x", dto=StrictBody[XCreate], return_dto=None)` with `data: JSONBody[XCreate]`.
    """

    @classmethod
    def generate_field_definitions(cls, model_type: type[Any]) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        return None

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))

    def decode_bytes(self, value: bytes) -> Any:
        if value.strip() and not is_json(self.asgi_connection.headers.get("content-type")):
            raise UnsupportedMediaType()
        return decode_json(value, self.model_type)

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        try:
            return msgspec.convert(value, self.model_type)
        except msgspec.ValidationError as exc:
            raise validation_error(str(exc)) from None
