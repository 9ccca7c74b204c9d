"""Signed anonymous visitor tokens, bound to one shop.

The token is itsdangerous' `TimestampSigner(secret, salt="cartback.visitor:<shop>")` format,
`<vid>.<timestamp>.<signature>`. The shop is part of the salt, so a token minted for one shop does
not verify for another, and the shop id need not be carried in the token. A token that fails in
any way yields a fresh visitor, never an error.
"""

from __future__ import annotations

import secrets
import time

from itsdangerous import BadData, TimestampSigner

from .cache import BoundedCache

PURPOSE = "cartback.visitor"
MAX_TOKEN_LENGTH = 200
# A valid token younger than this is handed back as it came; an older one is signed again, so an
# active visitor's token never reaches the age limit.
RENEW_AFTER = 86_400
# Tokens that verified, with their vid and signing time: a visitor sends the same token with every
# call, and a lookup is cheaper than checking the signature again.
VERIFIED_LIMIT = 50_000


class VisitorTokens:
    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._secret = secret
        self._max_age = max_age_seconds
        self._signers: BoundedCache[str, TimestampSigner] = BoundedCache(10_000)
        self._verified: BoundedCache[tuple[str, str], tuple[str, int]] = BoundedCache(VERIFIED_LIMIT)

    def _signer(self, shop: str) -> TimestampSigner:
        signer = self._signers.get(shop)
        if signer is None:
            signer = TimestampSigner(self._secret, salt=f"{PURPOSE}:{shop}")
            self._signers.put(shop, signer)
        return signer

    def new_visitor(self) -> str:
        return secrets.token_urlsafe(12)

    def sign(self, shop: str, vid: str) -> str:
        return self._signer(shop).sign(vid).decode()

    def verify(self, shop: str, token: object, *, any_age: bool = False) -> str | None:
        """The visitor id inside a valid token for this shop, else None.

        `any_age` skips the age limit: a merchant erasing an old visitor still names them by token.
        """
        return self.check(shop, token, any_age=any_age)[0]

    def renewed(self, shop: str, token: object) -> tuple[str | None, str | None]:
        """(vid, the token to hand back) for a token a visitor sent: the same token while it is
        younger than RENEW_AFTER, a fresh one after; (None, None) when it does not verify."""
        vid, age = self.check(shop, token)
        if vid is None or not isinstance(token, str):
            return None, None
        if age is not None and age < RENEW_AFTER:
            return vid, token
        return vid, self.sign(shop, vid)

    def check(self, shop: str, token: object, *, any_age: bool = False) -> tuple[str | None, int | None]:
        """(vid, age in seconds) of a valid token for this shop, else (None, None)."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None, None
        known = self._verified.get((shop, token))
        if known is None:
            try:
                value, when = self._signer(shop).unsign(token, return_timestamp=True)
                known = (value.decode(), int(when.timestamp()))
            # A bad signature or timestamp; bad base64 or UTF-8; a signed moment no clock can hold.
            except (BadData, ValueError, OverflowError, OSError):
                return None, None
            self._verified.put((shop, token), known)
        vid, signed_at = known
        age = int(time.time()) - signed_at
        if not any_age and (age > self._max_age or age < 0):
            return None, None
        return vid, age
