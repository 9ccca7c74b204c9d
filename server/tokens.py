"""Signed anonymous visitor tokens, bound to one shop.

The token is `<vid>.<timestamp>.<signature>` (itsdangerous TimestampSigner). The shop is part of
the salt, so a token minted for one shop does not verify for another, and the shop id need not be
carried in the token. A token that fails in any way yields a fresh visitor, never an error.
"""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, TimestampSigner

PURPOSE = "cartback.visitor"
MAX_TOKEN_LENGTH = 200


class VisitorTokens:
    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._secret = secret
        self._max_age = max_age_seconds
        self._signers: dict[str, TimestampSigner] = {}

    def _signer(self, shop: str) -> TimestampSigner:
        signer = self._signers.get(shop)
        if signer is None:
            # Deriving the key costs an HMAC; shops are few, so keep one signer per shop.
            signer = TimestampSigner(self._secret, salt=f"{PURPOSE}:{shop}")
            self._signers[shop] = signer
        return signer

    def new_visitor(self) -> str:
        return secrets.token_urlsafe(12)

    def sign(self, shop: str, vid: str) -> str:
        return self._signer(shop).sign(vid).decode()

    def verify(self, shop: str, token: object, *, any_age: bool = False) -> str | None:
        """The visitor id inside a valid token for this shop, else None.

        `any_age` skips the age limit: a merchant erasing an old visitor still names them by token.
        """
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            return self._signer(shop).unsign(token, max_age=None if any_age else self._max_age).decode()
        except (BadSignature, UnicodeDecodeError, ValueError):
            return None
