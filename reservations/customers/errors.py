"""Errors of this sub-domain; each carries its HTTP status and stable code (docs/errors.md)."""

from __future__ import annotations

from core.errors import Unauthorized


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    default_detail = "The email or the password is wrong."
