"""The base Struct every schema derives from, and body decoding that names the bad field."""

from __future__ import annotations

import uuid
from collections.abc import Generator
from typing import Any, TypeVar

import msgspec
from litestar._openapi.schema_generation import SchemaCreator
from litestar.dto import AbstractDTO, DTOFieldDefinition
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from core.errors import BadRequest, validation_error


class Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Inputs are strict (unknown fields are refused); outputs reuse the same base."""


class Out(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=False):
    """Base of response bodies."""


T = TypeVar("T")


def decode_json(raw: bytes, type_: type[T]) -> T:
    """Decode a JSON body, turning any problem into a 400 naming the field."""
    if not raw.strip():
        raise BadRequest("The request body is empty; a JSON object is expected.")
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as exc:
        raise validation_error(str(exc)) from None
    except msgspec.DecodeError:
        raise BadRequest("The request body is not valid JSON.") from None


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
        return decode_json(value, self.model_type)

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        try:
            return msgspec.convert(value, self.model_type)
        except msgspec.ValidationError as exc:
            raise validation_error(str(exc)) from None
