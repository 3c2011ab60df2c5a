"""The base Struct every schema derives from, and body decoding that names the bad field."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

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


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)
