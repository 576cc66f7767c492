"""Mail addresses from users and settings: one usable address or a clear InvalidInput."""

from __future__ import annotations

import random
from email.headerregistry import HeaderRegistry

import pytest

from paperfeed.addresses import parse_address
from paperfeed.errors import InvalidInput


@pytest.mark.parametrize(("value", "addr_spec", "name"), [
    ("reader@example.org", "reader@example.org", ""),
    ("Ada Lovelace <ada@example.org>", "ada@example.org", "Ada Lovelace"),
    ('"Lovelace, Ada" <ada@example.org>', "ada@example.org", "Lovelace, Ada"),
    ("Zoë <zoe@mail.example.co.uk>", "zoe@mail.example.co.uk", "Zoë"),
])
def test_usable_addresses(value: str, addr_spec: str, name: str) -> None:
    address = parse_address(value)
    assert (address.addr_spec, address.display_name) == (addr_spec, name)


@pytest.mark.parametrize("value", ["", "reader", "reader@", "@example.org", "reader@localhost", "reader@example.",
                                   "a@example.org, b@example.org", "a@example.org\nBcc: b@example.org",
                                   "zoë@example.org", "a@exämple.org", "a" * 400 + "@example.org"])
def test_unusable_addresses_name_the_field(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_address(value, field="email")
    assert error.value.field == "email" and error.value.status == 400


def test_junk_never_escapes_as_another_exception() -> None:
    """The stdlib header parser raises IndexError, TypeError, AttributeError... on some
    junk (found by this loop); a form field must get a 400, never a 500."""
    rng = random.Random(1)
    alphabet = "abc@.<>\"\\()[],;: \t=?_-é'"
    for _ in range(1000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
        try:
            parse_address(value)
        except InvalidInput:
            pass
    for junk in ["'<", "\\@[ ", ":_]>@:a],?aé;\\'", ' .,.)?\'é-)?.a[<""é:']:
        with pytest.raises(InvalidInput):
            parse_address(junk)


@pytest.mark.parametrize("value", ["reader@example.org", "a.b-c+tag@sub.example.co.uk", "x!#$%&'*+/=?^_`{|}~-@a-b.org",
                                   "UPPER.case@Example.ORG", "1@2.3"])
def test_the_plain_address_shortcut_agrees_with_the_header_parser(value: str) -> None:
    [parsed] = HeaderRegistry()("to", value).addresses
    fast = parse_address(value)
    assert (fast.username, fast.domain, fast.display_name, fast.addr_spec) == (
        parsed.username, parsed.domain, parsed.display_name, parsed.addr_spec)
    assert str(fast) == str(parsed)
