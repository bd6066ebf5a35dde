"""API keys: how a connection that receives files (``connectors.base.Uploadable``)
knows who is posting to it.

A key is ``hrs_<id>_<secret>``. The id is not secret: it is stored in the
connection's ``config`` under ``API_KEY_ID`` so that a request finds its
connection with one indexed-by-value query. The whole key is stored only as
a salted HMAC-SHA256 in the connection's encrypted ``secrets`` under
``API_KEY_HASH``: the key itself is shown once, when it is issued, and can
never be read back. The secret part carries 256 random bits, so a fast hash
is enough (nothing to guess), and requests are checked without a slow KDF.

Nothing here logs a key or puts one in an exception's message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

#: How every key starts: a key pasted into the wrong place is recognisable.
API_KEY_PREFIX = "hrs_"
#: The ``config`` entry holding the key's id, and the ``secrets`` entry
#: holding its hash. hrsync writes both; saving the settings keeps them.
API_KEY_ID = "api_key_id"
API_KEY_HASH = "api_key_hash"
#: The HTTP Basic username a key is sent with (the password is the key).
API_KEY_USERNAME = "api-key"

_HASH_SCHEME = "hmac-sha256"
_KEY = re.compile(r"hrs_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: ``key`` is shown to the admin once and then forgotten;
    ``key_id`` and ``stored_hash`` are what the connection keeps."""

    key: str = ""
    key_id: str = ""
    stored_hash: str = ""

    def __repr__(self) -> str:
        return f"<IssuedKey id={self.key_id}>"  # never the key


def api_key_generate() -> IssuedKey:
    """A new random key, its id and the hash to store."""
    key_id = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return IssuedKey(key=key, key_id=key_id, stored_hash=_hash(key, salt=secrets.token_bytes(16)))


def api_key_id(key: str) -> str:
    """The id part of something that looks like a key; "" when it does not."""
    match = _KEY.fullmatch(key or "")
    return match.group("id") if match else ""


def api_key_matches(*, key: str, stored_hash: str) -> bool:
    """Whether ``key`` is the key ``stored_hash`` was made from, compared in
    constant time. A malformed stored hash matches nothing."""
    scheme, _, rest = str(stored_hash or "").partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    if scheme != _HASH_SCHEME or not salt_hex or not digest_hex:
        return False
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return hmac.compare_digest(_hash(key or "", salt=salt), stored_hash)


def _hash(key: str, *, salt: bytes) -> str:
    digest = hmac.new(salt, key.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
    return f"{_HASH_SCHEME}${salt.hex()}${digest}"
