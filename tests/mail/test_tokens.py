"""Signed link tokens: purpose binding, expiry, tamper detection, the development key."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.tokens import InvalidToken, Purpose, TokenSigner, nonce_digest, signing_key

KEY = b"k" * 16 + b"0123456789abcdef"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _signer(clock: FakeClock | None = None, key: bytes = KEY) -> TokenSigner:
    return TokenSigner(key, clock=clock or FakeClock())


@pytest.mark.parametrize("purpose", list(Purpose))
def test_a_token_verifies_for_its_purpose_only(purpose: Purpose) -> None:
    signer = _signer()
    token = signer.issue(purpose, "subscriber:42")
    claims = signer.verify(token, purpose)
    assert claims.purpose is purpose and claims.subject == "subscriber:42" and claims.issued_at == T0
    for other in Purpose:
        if other is not purpose:
            with pytest.raises(InvalidToken):
                signer.verify(token, other)


def test_a_payload_relabelled_to_another_purpose_does_not_verify() -> None:
    """Swap the purpose inside a valid unsubscribe token: per-purpose keys refuse it."""
    signer = _signer()
    version, body, signature = signer.issue(Purpose.UNSUBSCRIBE, "7").split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["p"] = Purpose.SIGN_IN.value
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken) as error:
        signer.verify(f"{version}.{forged}.{signature}", Purpose.SIGN_IN)
    assert not error.value.expired


def test_any_changed_character_is_detected() -> None:
    signer = _signer()
    token = signer.issue(Purpose.PREFERENCES, "subscriber:42")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, char in enumerate(token):
        if char == ".":
            continue
        replacement = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        with pytest.raises(InvalidToken):
            signer.verify(token[:index] + replacement + token[index + 1:], Purpose.PREFERENCES)


@pytest.mark.parametrize("bad", ["", "v1", "v1..", "v1.a.b.c", "v2.abc.def", "not a token", "v1.!!!.???", "x" * 5000,
                                 "v1.é.abc", "v1.abc.dé", "v1.a\x00b.c", "v1.abc.def\n"])
def test_malformed_tokens_are_invalid_not_errors(bad: str) -> None:
    with pytest.raises(InvalidToken) as error:
        _signer().verify(bad, Purpose.UNSUBSCRIBE)
    assert error.value.status == 400 and error.value.field == "token"


def test_stray_characters_and_other_spellings_of_the_signature_are_refused() -> None:
    """The stdlib decoder skips stray characters and ignores the last character's unused
    bits; strict decoding means exactly one spelling of a token verifies."""
    signer = _signer()
    token = signer.issue(Purpose.UNSUBSCRIBE, "7")
    head, signature = token.rsplit(".", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = signature[:-1] + alphabet[alphabet.index(signature[-1]) ^ 1]  # flips an unused bit
    stray = f"{signature[:10]}*{signature[10:]}"
    for variant in (respelled, stray):
        lenient = base64.urlsafe_b64decode(variant.replace("*", "") + "=" * (-len(variant.replace("*", "")) % 4))
        assert lenient == base64.urlsafe_b64decode(signature + "=")  # the same bytes to a lax decoder
        with pytest.raises(InvalidToken):
            signer.verify(f"{head}.{variant}", Purpose.UNSUBSCRIBE)
    with pytest.raises(InvalidToken):
        signer.verify(token + "=", Purpose.UNSUBSCRIBE)


def test_another_key_does_not_verify() -> None:
    token = _signer().issue(Purpose.CONFIRM, "1")
    with pytest.raises(InvalidToken):
        _signer(key=b"z" * 32).verify(token, Purpose.CONFIRM)


def test_magic_links_expire_after_15_minutes() -> None:
    clock = FakeClock()
    signer = _signer(clock)
    token = signer.issue(Purpose.SIGN_IN, "user:3")
    clock.now = T0 + timedelta(minutes=14, seconds=59)
    assert signer.verify(token, Purpose.SIGN_IN).expires_at == T0 + timedelta(minutes=15)
    clock.now = T0 + timedelta(minutes=15)
    with pytest.raises(InvalidToken) as error:
        signer.verify(token, Purpose.SIGN_IN)
    assert error.value.expired and "expired" in error.value.message and "new one" in error.value.hint


def test_confirmation_links_last_a_week_and_unsubscribe_links_do_not_expire() -> None:
    clock = FakeClock()
    signer = _signer(clock)
    confirm = signer.issue(Purpose.CONFIRM, "1")
    unsubscribe = signer.issue(Purpose.UNSUBSCRIBE, "1")
    clock.now = T0 + timedelta(days=7)
    with pytest.raises(InvalidToken):
        signer.verify(confirm, Purpose.CONFIRM)
    clock.now = T0 + timedelta(days=3650)
    assert signer.verify(unsubscribe, Purpose.UNSUBSCRIBE).expires_at is None


def test_single_use_purposes_carry_a_fresh_nonce_to_record() -> None:
    signer = _signer()
    first, second = (signer.verify(signer.issue(Purpose.SIGN_IN, "user:3"), Purpose.SIGN_IN) for _ in range(2))
    assert first.nonce and second.nonce and first.nonce != second.nonce
    assert len(nonce_digest(first)) == 64 and nonce_digest(first) != nonce_digest(second)
    assert first.nonce not in nonce_digest(first)
    unsubscribe = signer.verify(signer.issue(Purpose.UNSUBSCRIBE, "1"), Purpose.UNSUBSCRIBE)
    with pytest.raises(ValueError):
        nonce_digest(unsubscribe)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ConfigError):
        TokenSigner(b"short")


def _settings(tmp_path: Path, **env: str) -> Settings:
    environ = {"PAPERFEED_DATA_DIR": str(tmp_path / "data"), **env}
    return Settings.load(environ=environ, dotenv=tmp_path / ".env")


def test_the_configured_key_is_used(tmp_path: Path) -> None:
    key = "s" * 40
    assert signing_key(_settings(tmp_path, PAPERFEED_SECRET_KEY=key)) == key.encode()
    assert not (tmp_path / "data" / "secret_key").exists()


def test_development_without_a_key_keeps_one_random_private_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = signing_key(settings)
    path = tmp_path / "data" / "secret_key"
    assert len(first) >= 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert signing_key(_settings(tmp_path)) == first  # a restart (or `digest run`) signs alike
    assert signing_key(_settings(tmp_path / "other")) != first  # not a default shared by installs


def test_starting_together_everyone_agrees_on_the_development_key(tmp_path: Path) -> None:
    """The file is created whole or not at all (threads race like processes do here: the
    check and the link are file-system operations)."""
    barrier = threading.Barrier(8)

    def key() -> bytes:
        barrier.wait()
        return signing_key(_settings(tmp_path))

    with ThreadPoolExecutor(8) as pool:
        keys = {future.result() for future in [pool.submit(key) for _ in range(8)]}
    assert len(keys) == 1 and [p.name for p in (tmp_path / "data").iterdir()] == ["secret_key"]


def test_a_damaged_development_key_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret_key").write_text("abc\n", encoding="ascii")
    with pytest.raises(ConfigError) as error:
        signing_key(_settings(tmp_path))
    assert "secret_key" in error.value.message and "Delete it" in error.value.hint
