"""Signed anonymous visitor tokens, bound to one shop.

The token is `<vid>.<timestamp>.<signature>`, exactly itsdangerous' `TimestampSigner(secret,
salt="cartback.visitor:<shop>")` format (tests/test_tokens.py checks both directions against it).
The shop is part of the salt, so a token minted for one shop does not verify for another, and the
shop id need not be carried in the token. A token that fails in any way yields a fresh visitor,
never an error.

Signed here rather than through itsdangerous because it derives the key again on every sign and
verify; keeping one HMAC per shop, already keyed, halves the cost of both.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import secrets
import time

PURPOSE = "cartback.visitor"
MAX_TOKEN_LENGTH = 200
# A valid token younger than this is handed back as it came; an older one is signed again, so an
# active visitor's token never reaches the age limit.
RENEW_AFTER = 86_400


# base64.urlsafe_b64encode/decode, minus their Python-level overhead (a third of a token's cost).
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _b64encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


def _b64decode(data: bytes) -> bytes:
    # As itsdangerous decodes: padding restored, non-alphabet bytes skipped; binascii.Error is a ValueError.
    return binascii.a2b_base64(data.translate(_FROM_URLSAFE) + b"=" * (-len(data) % 4))


# Tokens that verified, with their vid and signing time: a visitor sends the same token with every
# call, and looking it up costs a tenth of checking its signature again. Bounded, cleared whole.
VERIFIED_LIMIT = 50_000


class VisitorTokens:
    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._secret = secret.encode()
        self._max_age = max_age_seconds
        self._macs: dict[str, hmac.HMAC] = {}
        self._verified: dict[tuple[str, str], tuple[str, int]] = {}

    def _mac(self, shop: str) -> hmac.HMAC:
        mac = self._macs.get(shop)
        if mac is None:
            # itsdangerous' default key derivation ("django-concat", SHA-1); shops are few, so keep one per shop.
            key = hashlib.sha1(f"{PURPOSE}:{shop}".encode() + b"signer" + self._secret).digest()
            mac = self._macs[shop] = hmac.new(key, digestmod=hashlib.sha1)
        return mac

    def _signature(self, shop: str, payload: bytes) -> bytes:
        mac = self._mac(shop).copy()
        mac.update(payload)
        return mac.digest()

    def new_visitor(self) -> str:
        return secrets.token_urlsafe(12)

    def sign(self, shop: str, vid: str) -> str:
        timestamp = int(time.time()).to_bytes(8, "big").lstrip(b"\x00")
        payload = vid.encode() + b"." + _b64encode(timestamp)
        return (payload + b"." + _b64encode(self._signature(shop, payload))).decode()

    def verify(self, shop: str, token: object, *, any_age: bool = False) -> str | None:
        """The visitor id inside a valid token for this shop, else None.

        `any_age` skips the age limit: a merchant erasing an old visitor still names them by token.
        """
        return self.check(shop, token, any_age=any_age)[0]

    def renewed(self, shop: str, token: object) -> tuple[str | None, str | None]:
        """(vid, the token to hand back) for a token a visitor sent: the same token while it is
        younger than RENEW_AFTER (signing costs as much as verifying), a fresh one after; (None,
        None) when it does not verify."""
        vid, age = self.check(shop, token)
        if vid is None:
            return None, None
        if age is not None and age < RENEW_AFTER:
            return vid, token  # type: ignore[return-value]
        return vid, self.sign(shop, vid)

    def check(self, shop: str, token: object, *, any_age: bool = False) -> tuple[str | None, int | None]:
        """(vid, age in seconds) of a valid token for this shop, else (None, None)."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None, None
        known = self._verified.get((shop, token))
        if known is not None:
            age = int(time.time()) - known[1]
            if not any_age and (age > self._max_age or age < 0):
                return None, None
            return known[0], age
        try:
            payload, sep, signature = token.encode().rpartition(b".")
            if not sep or not hmac.compare_digest(self._signature(shop, payload), _b64decode(signature)):
                return None, None
            value, sep, timestamp = payload.rpartition(b".")
            raw = _b64decode(timestamp)
            if not sep or len(raw) > 8:  # itsdangerous reads at most 8 bytes: longer is a malformed timestamp
                return None, None
            signed_at = int.from_bytes(raw, "big")
            age = int(time.time()) - signed_at
            if not any_age and (age > self._max_age or age < 0):
                return None, None
            vid = value.decode()
            if len(self._verified) >= VERIFIED_LIMIT:
                self._verified.clear()
            self._verified[(shop, token)] = (vid, signed_at)
            return vid, age
        except ValueError:  # bad base64, bad UTF-8 either way
            return None, None
