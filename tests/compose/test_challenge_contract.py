"""The challenge contract (API.md section 1) over HTTP, against a running deployment.

    COMPOSE_BASE_URL=http://127.0.0.1:9999 python -m pytest --noconftest -q tests/compose

`make compose-smoke` runs it through the load balancer of docker-compose.yml on freshly
created volumes. Without COMPOSE_BASE_URL every test here is skipped (the rest of the suite
checks the same contract in process: tests/integration/reservations/test_challenge.py).
Only events and clients made by the tests are bought from, so the seeded stock, which the
load test (tests/compose/load.py) buys afterwards, is left as the seed made it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

BASE_URL = os.environ.get("COMPOSE_BASE_URL", "")
pytestmark = pytest.mark.skipif(not BASE_URL, reason="COMPOSE_BASE_URL is unset (make compose-smoke sets it)")

ROCK = "550e8400-e29b-41d4-a716-446655440001"
VERAO = "550e8400-e29b-41d4-a716-446655440002"
JAZZ = "550e8400-e29b-41d4-a716-446655440003"
SEEDED_CLIENTS = [f"660e8400-e29b-41d4-a716-44665544000{n}" for n in range(1, 6)]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=BASE_URL, timeout=10) as client:
        yield client


def new_cliente(http: httpx.Client, nome: str = "Teste Compose") -> dict[str, Any]:
    body = {
        "nome": nome,
        "email": f"compose-{uuid.uuid4().hex[:12]}@example.com",
        "cpf": "".join(random.choices("0123456789", k=11)),
    }
    r = http.post("/clientes", json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def new_evento(http: httpx.Client, capacidade: int = 10, preco: int = 1000, nome: str = "Evento") -> str:
    body = {"nome": nome, "data": "2027-02-10T21:00:00Z", "capacidade": capacidade, "preco": preco}
    r = http.post("/eventos", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def buy(http: httpx.Client, cliente: str, evento: str) -> httpx.Response:
    return http.post("/compras", json={"cliente_id": cliente, "evento_id": evento})


# --- the seed --------------------------------------------------------------------------------


def test_the_sample_events_are_seeded_as_the_contract_says(http: httpx.Client) -> None:
    expected = {
        ROCK: ("Show de Rock", "2025-08-15T20:00:00Z", 100, 5000),
        VERAO: ("Festival de Verão", "2025-07-20T18:00:00Z", 500, 7500),
        JAZZ: ("Concerto de Jazz", "2025-09-10T19:30:00Z", 50, 12000),
    }
    for eid, (nome, data, capacidade, preco) in expected.items():
        r = http.get(f"/eventos/{eid}")
        assert r.status_code == 200
        body = r.json()
        sold = body["ingressos_vendidos"]
        assert body == {
            "id": eid,
            "nome": nome,
            "data": data,
            "capacidade": capacidade,
            "preco": preco,
            "ingressos_vendidos": sold,
            "ingressos_disponiveis": capacidade - sold,
            "status": "esgotado" if sold == capacidade else "disponivel",
        }
    # Nothing here buys the seeded events: the load test runs after this suite.
    assert http.get(f"/eventos/{JAZZ}").json()["ingressos_vendidos"] == 45


def test_five_seeded_clients_with_fixed_ids(http: httpx.Client) -> None:
    for cid in SEEDED_CLIENTS:
        r = http.get(f"/clientes/{cid}")
        assert r.status_code == 200
        assert set(r.json()) == {"id", "nome", "email", "compras"}


# --- POST /clientes, GET /clientes/:id -------------------------------------------------------


def test_create_cliente(http: httpx.Client) -> None:
    body = {"nome": "Joana Prado", "email": f"joana-{uuid.uuid4().hex[:8]}@example.com", "cpf": "52998224725"}
    r = http.post("/clientes", json=body)
    assert r.status_code == 201
    data = r.json()
    assert uuid.UUID(data.pop("id"))
    assert data == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.com", "cpf": "52998224725"}, "nome"),
        ({"nome": "A", "cpf": "52998224725"}, "email"),
        ({"nome": "A", "email": "a@example.com"}, "cpf"),
        ({"nome": "A", "email": "a@example.com", "cpf": "529.982.247-25"}, "cpf"),
        ({"nome": "A", "email": "not-an-email", "cpf": "52998224725"}, "email"),
    ],
)
def test_create_cliente_refuses_bad_bodies(http: httpx.Client, body: dict[str, Any], field: str) -> None:
    r = http.post("/clientes", json=body)
    assert r.status_code == 400
    assert r.json()["field"] == field


def test_get_cliente_unknown_is_404(http: httpx.Client) -> None:
    assert http.get(f"/clientes/{uuid.uuid4()}").status_code == 404


# --- POST /eventos, GET /eventos/:id ---------------------------------------------------------


def test_create_evento(http: httpx.Client) -> None:
    body = {"nome": "Samba na Praça", "data": "2027-02-10T21:00:00Z", "capacidade": 30, "preco": 2500}
    r = http.post("/eventos", json=body)
    assert r.status_code == 201
    data = r.json()
    eid = data.pop("id")
    assert data == body | {"ingressos_vendidos": 0, "ingressos_disponiveis": 30, "status": "disponivel"}
    assert http.get(f"/eventos/{eid}").json() == r.json()


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"capacidade": 0}, "capacidade"),
        ({"capacidade": "10"}, "capacidade"),
        ({"preco": -1}, "preco"),
        ({"data": "15/08/2025"}, "data"),
    ],
)
def test_create_evento_refuses_bad_bodies(http: httpx.Client, patch: dict[str, Any], field: str) -> None:
    body = {"nome": "X", "data": "2027-01-01T00:00:00Z", "capacidade": 10, "preco": 100} | patch
    r = http.post("/eventos", json=body)
    assert r.status_code == 400
    assert r.json()["field"] == field


def test_get_evento_unknown_is_404(http: httpx.Client) -> None:
    assert http.get(f"/eventos/{uuid.uuid4()}").status_code == 404


# --- POST /compras -----------------------------------------------------------------------------


def test_compra_is_confirmed_and_visible_everywhere(http: httpx.Client) -> None:
    cliente = new_cliente(http, "Maria Compose")
    evento = new_evento(http, capacidade=3, preco=4321, nome="Visível")
    r = buy(http, cliente["id"], evento)
    assert r.status_code == 201
    compra = r.json()
    assert uuid.UUID(compra["id"])
    assert (compra["cliente_id"], compra["evento_id"], compra["valor"], compra["status"]) == (
        cliente["id"],
        evento,
        4321,
        "confirmada",
    )
    assert dt.datetime.fromisoformat(compra["data_compra"]) <= dt.datetime.now(dt.UTC)
    e = http.get(f"/eventos/{evento}").json()
    assert (e["ingressos_vendidos"], e["ingressos_disponiveis"], e["status"]) == (1, 2, "disponivel")
    c = http.get(f"/clientes/{cliente['id']}").json()
    assert c["compras"] == [
        {
            "id": compra["id"],
            "evento_id": evento,
            "evento_nome": "Visível",
            "valor": 4321,
            "data_compra": compra["data_compra"],
            "status": "confirmada",
        }
    ]


def test_second_compra_of_one_client_is_409(http: httpx.Client) -> None:
    cliente = new_cliente(http)["id"]
    evento = new_evento(http, capacidade=5)
    assert buy(http, cliente, evento).status_code == 201
    assert buy(http, cliente, evento).status_code == 409
    assert http.get(f"/eventos/{evento}").json()["ingressos_vendidos"] == 1


def test_sold_out_is_422_and_the_event_says_esgotado(http: httpx.Client) -> None:
    evento = new_evento(http, capacidade=1)
    assert buy(http, new_cliente(http)["id"], evento).status_code == 201
    assert buy(http, new_cliente(http)["id"], evento).status_code == 422
    e = http.get(f"/eventos/{evento}").json()
    assert (e["ingressos_vendidos"], e["ingressos_disponiveis"], e["status"]) == (1, 0, "esgotado")


def test_unknown_client_or_event_is_404(http: httpx.Client) -> None:
    assert buy(http, str(uuid.uuid4()), ROCK).status_code == 404
    assert buy(http, SEEDED_CLIENTS[0], str(uuid.uuid4())).status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"cliente_id": SEEDED_CLIENTS[0]}, {"cliente_id": "abc", "evento_id": ROCK}, {"evento_id": 42}],
)
def test_compra_bad_body_is_400(http: httpx.Client, body: dict[str, Any]) -> None:
    assert http.post("/compras", json=body).status_code == 400


def test_compra_malformed_json_is_400(http: httpx.Client) -> None:
    r = http.post("/compras", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400


# --- GET /compras --------------------------------------------------------------------------------


def test_compras_pages_newest_first(http: httpx.Client) -> None:
    evento = new_evento(http, capacidade=5, preco=1234, nome="Paginado")
    made = []
    for _ in range(3):
        cliente = new_cliente(http)
        r = buy(http, cliente["id"], evento)
        assert r.status_code == 201
        made.append((r.json()["id"], cliente))
    page = http.get("/compras?limite=2&pagina=1").json()
    assert (page["pagina"], page["limite"]) == (1, 2)
    assert page["total"] >= 3
    assert [c["id"] for c in page["compras"]] == [made[2][0], made[1][0]]
    first = page["compras"][0]
    assert first["cliente"] == {"id": made[2][1]["id"], "nome": made[2][1]["nome"]}
    assert first["evento"] == {"id": evento, "nome": "Paginado"}
    assert (first["valor"], set(first)) == (1234, {"id", "cliente", "evento", "valor", "data_compra"})
    assert [c["id"] for c in http.get("/compras?limite=2&pagina=2").json()["compras"]][:1] == [made[0][0]]
    default = http.get("/compras").json()
    assert (default["pagina"], default["limite"]) == (1, 10)


@pytest.mark.parametrize("query", ["limite=0", "limite=abc", "pagina=0", "pagina=-1"])
def test_compras_bad_paging_is_400(http: httpx.Client, query: str) -> None:
    assert http.get(f"/compras?{query}").status_code == 400


# --- the balancer ----------------------------------------------------------------------------------


def test_both_ports_of_the_balancer_answer_and_health_is_up(http: httpx.Client) -> None:
    r = http.get("/health")
    assert r.status_code == 200
    other = BASE_URL.replace(":9999", ":5000")
    if other != BASE_URL:
        assert httpx.get(f"{other}/eventos/{ROCK}", timeout=10).status_code == 200
