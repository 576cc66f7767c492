"""Signed, single-purpose link tokens for emailed links: confirm a subscription, open the
preferences page, unsubscribe, sign in by magic link.

A token is `v1.<payload>.<signature>`, both parts unpadded base64url, so it travels in a URL
path or query unescaped. The payload is compact JSON `{"p": purpose, "s": subject,
"i": issued_at, "e": expires_at, "n": nonce}` (times are Unix seconds; `e` and `n` only when
the purpose has them). The signature is HMAC-SHA256 under a key derived for that purpose
from PAPERFEED_SECRET_KEY, so a token for one purpose can never verify as another, even if
the payload check were forgotten. Tokens are not encrypted: put ids in them, not secrets.

What a token cannot do alone is be used once: purposes with a nonce (confirm, sign-in) are
meant to have it recorded by the store on use (`nonce_digest` is what to store, so a leaked
table holds no usable links). docs/email.md has the design.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Callable

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, InvalidInput

log = logging.getLogger(__name__)

VERSION = "v1"
KEY_FILE_NAME = "secret_key"
Clock = Callable[[], datetime]
_FROM_URLSAFE = str.maketrans("-_", "+/")
_TOKEN_PART = re.compile(r"[A-Za-z0-9_-]+")


class Purpose(str, Enum):
    CONFIRM = "confirm"  # double opt-in link in the confirmation mail
    PREFERENCES = "preferences"  # the preferences page, linked from every mail
    UNSUBSCRIBE = "unsubscribe"  # one-click unsubscribe (footer link and List-Unsubscribe)
    SIGN_IN = "sign-in"  # magic sign-in link


@dataclass(frozen=True)
class PurposeRules:
    lifetime: timedelta | None  # None: the link works until the store revokes it
    nonce: bool  # single use, recorded by the store


RULES: dict[Purpose, PurposeRules] = {
    Purpose.CONFIRM: PurposeRules(lifetime=timedelta(days=7), nonce=True),
    # Unsubscribe must keep working long after the mail was sent (RFC 8058 and the law in
    # most places); preferences links sit beside it in the same old mails.
    Purpose.PREFERENCES: PurposeRules(lifetime=None, nonce=False),
    Purpose.UNSUBSCRIBE: PurposeRules(lifetime=None, nonce=False),
    Purpose.SIGN_IN: PurposeRules(lifetime=timedelta(minutes=15), nonce=True),
}


class InvalidToken(InvalidInput):
    """A link that is malformed, tampered with, meant for something else, or expired.
    `reason` is for logs and tests; users are only told whether asking again will help."""

    code = "invalid_token"

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        message = "This link has expired." if expired else "This link is not valid."
        hint = "Ask for a new one." if expired else "Use the newest link you were sent, copied whole."
        super().__init__(message, hint=hint, field="token")
        self.reason = reason
        self.expired = expired


@dataclass(frozen=True)
class TokenClaims:
    purpose: Purpose
    subject: str  # e.g. a subscriber id or user id
    issued_at: datetime
    expires_at: datetime | None
    nonce: str | None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class TokenSigner:
    """Issues and verifies tokens with one secret key; the clock is injectable for tests."""

    def __init__(self, key: bytes, *, clock: Clock = utc_now) -> None:
        if len(key) < 32:
            raise ConfigError("The link-signing key is shorter than 32 bytes.", hint="Set PAPERFEED_SECRET_KEY.")
        self._key = key
        self._clock = clock

    def issue(self, purpose: Purpose, subject: str) -> str:
        rules = RULES[purpose]
        now = int(self._clock().timestamp())
        payload: dict[str, object] = {"p": purpose.value, "s": subject, "i": now}
        if rules.lifetime is not None:
            payload["e"] = now + int(rules.lifetime.total_seconds())
        if rules.nonce:
            payload["n"] = secrets.token_urlsafe(16)
        body = _b64encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode())
        return f"{VERSION}.{body}.{_b64encode(self._sign(purpose, body))}"

    def verify(self, token: str, purpose: Purpose) -> TokenClaims:
        """The token's claims if it was issued by this key for `purpose` and has not
        expired; InvalidToken otherwise. Signature first: nothing unsigned is parsed."""
        version, body, signature = _split(token)
        if version != VERSION:
            raise InvalidToken("unknown version")
        if not hmac.compare_digest(self._sign(purpose, body), _b64decode(signature)):
            raise InvalidToken("bad signature or other purpose")
        claims = _claims(_b64decode(body))
        if claims.purpose is not purpose:  # unreachable with per-purpose keys; kept as a second lock
            raise InvalidToken("other purpose")
        if claims.expires_at is not None and self._clock() >= claims.expires_at:
            raise InvalidToken("expired", expired=True)
        return claims

    def _sign(self, purpose: Purpose, body: str) -> bytes:
        purpose_key = hmac.new(self._key, b"paperfeed link token key\x00" + purpose.value.encode(), hashlib.sha256)
        return hmac.new(purpose_key.digest(), f"{VERSION}.{body}".encode("ascii"), hashlib.sha256).digest()


def nonce_digest(claims: TokenClaims) -> str:
    """What the store keeps to mark a single-use token as used (hex SHA-256 of the nonce)."""
    if claims.nonce is None:
        raise ValueError(f"{claims.purpose.value} tokens carry no nonce")
    return hashlib.sha256(claims.nonce.encode("ascii")).hexdigest()


def signing_key(settings: Settings) -> bytes:
    """PAPERFEED_SECRET_KEY when set. Unset in development: a random key created once in
    <data_dir>/secret_key (mode 0600) so links keep working across restarts and between
    `serve` and `digest run`. Unset in production never gets here: Settings refuses it."""
    if settings.secret_key:
        return settings.secret_key.reveal().encode("utf-8")
    if settings.production:
        raise ConfigError("PAPERFEED_SECRET_KEY is not set.", hint="Set it before sending mail in production.")
    return _development_key(settings.data_dir / KEY_FILE_NAME)


def _development_key(path: Path) -> bytes:
    """Read the key file, or create it whole: written to a private temporary file first and
    then hard-linked into place, which fails if another process got there first, so no
    process ever reads a half-written key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = secrets.token_urlsafe(32).encode("ascii")
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
        try:
            os.link(temporary, path)
            log.warning("PAPERFEED_SECRET_KEY is not set: signing links with a new development key in %s", path)
        except FileExistsError:
            pass  # another process created it first; use theirs
        finally:
            temporary.unlink()
    key = path.read_text(encoding="ascii").strip().encode("ascii")
    if len(key) < 32:
        raise ConfigError(f"{path} holds no usable key.", hint="Delete it to get a new one.")
    return key


def _split(token: str) -> tuple[str, str, str]:
    parts = token.strip().split(".") if isinstance(token, str) and len(token) < 2048 else []
    if len(parts) != 3 or not all(_TOKEN_PART.fullmatch(part) for part in parts):
        raise InvalidToken("malformed")
    return parts[0], parts[1], parts[2]


def _claims(raw: bytes) -> TokenClaims:
    try:
        data = json.loads(raw)
        expires = data.get("e")
        return TokenClaims(
            purpose=Purpose(data["p"]),
            subject=str(data["s"]),
            issued_at=datetime.fromtimestamp(int(data["i"]), timezone.utc),
            expires_at=None if expires is None else datetime.fromtimestamp(int(expires), timezone.utc),
            nonce=data.get("n"),
        )
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        raise InvalidToken(f"bad payload: {exc}") from None


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict: only the canonical unpadded base64url spelling of some bytes is accepted, so
    no two strings decode to the same signature (the stdlib decoder skips stray characters
    and ignores the unused low bits of the last one)."""
    try:
        data = base64.b64decode(text.translate(_FROM_URLSAFE) + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidToken("not base64url") from None
    if _b64encode(data) != text:
        raise InvalidToken("not canonical base64url")
    return data
