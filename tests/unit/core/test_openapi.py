"""core/openapi.py: every error response of the OpenAPI is the error body the API sends, and
every operation documents the statuses of its kind — also on a route added later."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
import pytest
from litestar import Controller, Litestar, get, post
from litestar.params import FromPath, JSONBody

from core.deps import PrincipalDep, dependencies
from core.errors import ErrorBody, error_responses
from core.openapi import answers, document_errors
from core.schemas import StrictBody, Struct

ERROR_REF = "#/components/schemas/ErrorBody"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    from app import create_app

    return create_app().openapi_schema.to_schema()


def _operations(openapi: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", op)
        for path, item in openapi["paths"].items()
        for method, op in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    ]


def test_every_error_response_is_the_error_body(openapi: dict[str, Any]) -> None:
    wrong = [
        f"{name} {status}"
        for name, op in _operations(openapi)
        for status, response in op["responses"].items()
        if int(status) >= 400 and response["content"]["application/json"]["schema"] != {"$ref": ERROR_REF}
    ]
    assert not wrong
    schema = openapi["components"]["schemas"]["ErrorBody"]
    assert set(schema["properties"]) == set(ErrorBody.__struct_fields__)
    assert schema["required"] == ["error", "detail"]
    assert schema["additionalProperties"] is False


def test_bodies_the_handlers_send_match_the_schema() -> None:
    with_field = msgspec.json.decode(msgspec.json.encode(ErrorBody(error="x", detail="y", field="z")))
    without = msgspec.json.decode(msgspec.json.encode(ErrorBody(error="x", detail="y")))
    assert with_field == {"error": "x", "detail": "y", "field": "z"}
    assert without == {"error": "x", "detail": "y"}  # never "field": null


def test_statuses_of_each_kind_of_operation(openapi: dict[str, Any]) -> None:
    for name, op in _operations(openapi):
        statuses = set(op["responses"])
        assert "500" in statuses, name
        if "requestBody" in op:
            assert {"400", "413", "415"} <= statuses, name
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            assert {"400", "404"} <= statuses, name
    ops = dict(_operations(openapi))
    assert {"401", "403"} <= set(ops["GET /api/holds/{hold_id}"]["responses"])
    assert ops["GET /api/holds/{hold_id}"]["security"] == [{"BearerToken": []}]
    assert "security" not in ops["GET /api/events"]
    assert {"401", "403", "429"} <= set(ops["POST /api/events"]["responses"])  # from its guards
    assert "429" in ops["POST /api/customers"]["responses"]  # the sign-up limit's guard


class ThingCreate(Struct):
    name: str


@answers(429)
async def limited(*_: Any) -> None:
    """A guard that may answer 429."""


class ThingController(Controller):
    path = "/things"

    @post("/{thing_id:uuid}", dto=StrictBody[ThingCreate], return_dto=None, guards=[limited])
    async def make(
        self, thing_id: FromPath[UUID], data: JSONBody[ThingCreate], principal: PrincipalDep
    ) -> None:
        return None

    @get("/", responses=error_responses(409))
    async def listing(self) -> list[str]:
        return []


def test_a_new_route_is_covered_without_listing_its_statuses() -> None:
    app = Litestar([ThingController], dependencies=dependencies)
    document_errors(app)
    paths = app.openapi_schema.to_schema()["paths"]
    made = paths["/things/{thing_id}"]["post"]
    assert set(made["responses"]) == {"201", "400", "401", "403", "404", "413", "415", "429", "500"}
    assert made["security"] == [{"BearerToken": []}]
    assert set(paths["/things"]["get"]["responses"]) == {"200", "409", "500"}
    thing = app.openapi_schema.to_schema()["components"]["schemas"]["ThingCreate"]
    assert thing["additionalProperties"] is False


def test_bodies_that_refuse_unknown_fields_say_so(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    for name in ("EventCreate", "SectionCreate", "HoldCreate", "CompraCreate", "QueueJoin"):
        assert schemas[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in schemas["EventView"]  # an answer, not a request body
