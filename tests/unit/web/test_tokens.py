"""The tokens file: named tokens stored hashed, each with one role; a bad file is refused saying where."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.web.tokens import LOCAL, ApiRole, Callers, hash_token, load_tokens, new_token

GOOD = f"""
[[token]]
name = "maria@es-ncc"
role = "analyst"
sha256 = "{hash_token("t-maria")}"

[[token]]
name = "jon"
role = "operator"
sha256 = "{hash_token("t-jon")}"
"""


def test_a_tokens_file_names_each_holder_with_one_role(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(GOOD)
    callers = Callers("local-token", load_tokens(path))
    maria, jon = callers.of("t-maria"), callers.of("t-jon")
    assert maria and maria.name == "maria@es-ncc" and maria.roles == {ApiRole.ANALYST}
    assert jon and jon.may("/erase") and not jon.may("/sql")
    assert callers.of("local-token") is LOCAL and LOCAL.may("/erase") and LOCAL.may("/sql")
    assert callers.of("") is None and callers.of("t-mari") is None
    assert len(new_token()) >= 43 and new_token() != new_token()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "is not TOML"),  # and the rows below: a wrong role, hash, name, an unknown key
        ("", "token: Field required"),
        ('[[token]]\nname = "a"\nrole = "admin"\nsha256 = "' + "0" * 64 + '"', "token.0.role"),
        ('[[token]]\nname = "a"\nrole = "analyst"\nsha256 = "abc"', "token.0.sha256"),
        ('[[token]]\nname = "a b"\nrole = "analyst"\nsha256 = "' + "0" * 64 + '"', "token.0.name"),
        (
            '[[token]]\nname = "a"\nrole = "analyst"\nsha256 = "' + "0" * 64 + '"\ntoken = "plain"',
            "token.0.token",
        ),
        (GOOD + GOOD, "two tokens have the same name"),
    ],
)
def test_a_bad_tokens_file_is_refused_saying_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_tokens(path)


def test_a_missing_tokens_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the tokens file"):
        load_tokens(tmp_path / "absent.toml")
