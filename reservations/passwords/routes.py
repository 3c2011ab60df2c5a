"""Routes: password reset by email (customers)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.params import JSONBody
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, RedisDep
from core.errors import error_responses
from core.schemas import StrictBody
from reservations.passwords import service as passwords
from reservations.passwords.schemas import PasswordResetConfirm, PasswordResetCreate, PasswordResetQueued


class PasswordResetController(Controller):
    path = "/api/password-resets"

    @post(
        "/",
        dto=StrictBody[PasswordResetCreate],
        return_dto=None,
        status_code=202,
        operation_id="requestPasswordReset",
        tags=["customers"],
        summary="Email a password-reset link (the same answer whether or not the address has an account)",
        responses=error_responses(400),
    )
    async def request_reset(
        self, conn: ConnDep, redis: RedisDep, data: JSONBody[PasswordResetCreate]
    ) -> PasswordResetQueued:
        await passwords.request_reset(conn, redis, email=data.email)
        return PasswordResetQueued()

    @post(
        "/confirm",
        dto=StrictBody[PasswordResetConfirm],
        return_dto=None,
        status_code=204,
        operation_id="confirmPasswordReset",
        tags=["customers"],
        summary="Set a new password with the emailed token (works once)",
        responses=error_responses(400, 401),
    )
    async def confirm_reset(self, conn: ConnDep, data: JSONBody[PasswordResetConfirm]) -> None:
        await passwords.reset_password(conn, token=data.token, password=data.password)


route_handlers: list[ControllerRouterHandler] = [PasswordResetController]
