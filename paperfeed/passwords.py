"""Optional account passwords, hashed with argon2id (argon2-cffi's defaults: 64 MiB, 3 passes).

Only the PHC-format hash is stored. Verification of an unknown account or one without a
password still runs one hash, so the time taken does not tell who has an account.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paperfeed.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 256  # hashing cost does not grow with length, but bound the request anyway

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("a password nobody has")  # checked against when there is no real hash


def check_new_password(password: str, confirm: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(f"A password has {MIN_LENGTH} to {MAX_LENGTH} characters.", field="password",
                           hint="A few unrelated words make a long password that is easy to remember.")
    if password != confirm:
        raise InvalidInput("The two passwords differ.", field="confirm", hint="Type the same password twice.")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; False for a wrong one, an unset one, or a damaged hash."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
