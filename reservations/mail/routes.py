"""Routes: the development mail page's API — what the local mail sink received
(organizer; answers 404 when no sink is configured, as in production)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from litestar import Controller, Response, get
from litestar.params import FromPath, QueryParameter
from litestar.types import ControllerRouterHandler

from core.config import get_settings
from core.errors import NotFound, error_responses
from core.mailsink import SunkMail, attachment_bytes, read_mailbox
from reservations.events.routes import organizer_only


def _sink_dir() -> Path:
    directory = get_settings().mail_sink_dir
    if not directory:
        raise NotFound("No local mail sink here (MAIL_SINK_DIR is empty).")
    return Path(directory)


class DevMailController(Controller):
    path = "/api/dev/mail"
    guards = [organizer_only]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @get(
        "/",
        operation_id="listSunkMail",
        tags=["development"],
        summary="Emails the local mail sink received, newest first (development; organizer)",
        responses=error_responses(401, 403, 404),
        sync_to_thread=True,
    )
    def list_mail(
        self,
        to: Annotated[str | None, QueryParameter(max_length=254)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[SunkMail]:
        return read_mailbox(_sink_dir(), limit=limit, to=to)

    @get(
        "/{mail_id:str}/attachments/{index:int}",
        operation_id="getSunkAttachment",
        tags=["development"],
        summary="One attachment of a received email (development; organizer)",
        responses=error_responses(401, 403, 404),
        sync_to_thread=True,
    )
    def get_attachment(self, mail_id: FromPath[str], index: FromPath[int]) -> Response[bytes]:
        found = attachment_bytes(_sink_dir(), mail_id, index)
        if found is None:
            raise NotFound("No such attachment.")
        content_type, data = found
        return Response(data, media_type=content_type)


route_handlers: list[ControllerRouterHandler] = [DevMailController]
