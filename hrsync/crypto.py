"""Encryption at rest for credentials (Fernet, keys from HRSYNC_ENCRYPTION_KEY)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "HRSYNC_ENCRYPTION_KEY must be one or more Fernet keys (32 url-safe base64 bytes), "
            "comma separated."
        ) from exc


def encrypt_text(plain: str) -> str:
    return _fernet(tuple(settings.HRSYNC_ENCRYPTION_KEYS)).encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _fernet(tuple(settings.HRSYNC_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        # Never include the token: it is the secret, encrypted.
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted with HRSYNC_ENCRYPTION_KEY. "
            "Was the key changed? Add the old key after the new one to rotate."
        ) from exc


class SecretDict(dict):
    """A dict of credentials whose repr never shows the values."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: '•••'" for key in self) + "}"

    __str__ = __repr__


class EncryptedJSONField(models.TextField):
    """A JSON object stored as a Fernet token.

    The database, dumps and backups only ever hold ciphertext; Python code sees
    a ``SecretDict``.
    """

    def from_db_value(self, value: str | None, expression, connection) -> SecretDict:
        if not value:
            return SecretDict()
        return SecretDict(json.loads(decrypt_text(value)))

    def to_python(self, value: Any) -> SecretDict:
        if isinstance(value, dict):
            return SecretDict(value)
        if not value:
            return SecretDict()
        return SecretDict(json.loads(decrypt_text(value)))

    def get_prep_value(self, value: Any) -> str:
        return encrypt_text(json.dumps(dict(value or {}), sort_keys=True))

    def value_to_string(self, obj) -> str:
        # Serialisation (dumpdata) writes ciphertext, never plain values.
        return self.get_prep_value(self.value_from_object(obj))
