"""Errors of this sub-domain; each carries its HTTP status and stable code (docs/errors.md)."""

from __future__ import annotations

from core.errors import AppError


class ChallengeSoldOut(AppError):
    """The contract answers a sold-out purchase with 422 (the product API uses 409)."""

    status_code = 422
    code = "sold_out"
    default_detail = "Ingressos esgotados para este evento."


class ChallengeNotOnSale(AppError):
    status_code = 422
    code = "not_on_sale"
    default_detail = (
        "Este evento não é vendido por /compras agora (vendas fechadas, ainda não abertas, "
        "ou com sala de espera: use a API /api)."
    )
