"""``Settings.environment()``: the settings given explicitly, as ``PAPERFEED_*`` variables that a child
process reads back into equal settings."""

from __future__ import annotations

import os
from typing import TypeVar

import pytest
from pydantic import Field, SecretStr

from paperfeed.settings import Settings

S = TypeVar("S", bound=Settings)


@pytest.fixture(autouse=True)
def no_paperfeed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read nothing but what a test gives (``make test`` exports PAPERFEED_DATABASE_URL and
    PAPERFEED_BASE_URL, which would otherwise count as given)."""
    for key in list(os.environ):
        if key.startswith("PAPERFEED_"):
            monkeypatch.delenv(key)


def read_back(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], kind: type[S]) -> S:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return kind()


def assert_equal_field_by_field(back: Settings, given: Settings) -> None:
    for name in type(given).model_fields:
        value, read = getattr(given, name), getattr(back, name)
        if isinstance(value, SecretStr):
            assert isinstance(read, SecretStr), name
            value, read = value.get_secret_value(), read.get_secret_value()
        assert read == value and type(read) is type(value), name


def test_a_mix_of_types_and_a_secret_read_back_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    given = Settings(
        database_url="postgresql://paperfeed:p%40ss@db.example.org:5432/papers",
        index_dir="/var/lib/paper feed/index",
        embed_in_web=False,
        embed_batch=1,
        port=8443,
        index_refresh_seconds=0.1 + 0.2,  # 0.30000000000000004: no short decimal form
        lease_seconds=1e-7,
        harvest_interval=float("inf"),
        rate_login="3/1",
        harvest_set="",  # an empty string given explicitly is still given
        secret_key=SecretStr('k=3y "quoted" ünïcode $HOME'),
        smtp_url=SecretStr("smtp://mailer:pa$$word@mail.example.org:587?starttls=require"),
        mail_from="Paper Feed <digest@papers.example.org>",
    )
    env = given.environment()
    assert set(env) == {f"PAPERFEED_{name.upper()}" for name in given.model_fields_set}
    assert len(env) == 13 and "PAPERFEED_HOST" not in env  # what was not given is left out
    # Secrets in the clear: the child process needs the value, not the mask.
    assert env["PAPERFEED_SECRET_KEY"] == 'k=3y "quoted" ünïcode $HOME'
    assert env["PAPERFEED_SMTP_URL"] == "smtp://mailer:pa$$word@mail.example.org:587?starttls=require"
    assert (env["PAPERFEED_EMBED_IN_WEB"], env["PAPERFEED_PORT"]) == ("False", "8443")
    back = read_back(monkeypatch, env, Settings)
    assert back.model_fields_set == given.model_fields_set
    assert back.index_refresh_seconds == 0.1 + 0.2 and back.harvest_interval == float("inf")
    assert_equal_field_by_field(back, given)


def test_every_setting_given_reads_back_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    given = Settings(**{name: getattr(defaults, name) for name in Settings.model_fields})
    env = given.environment()
    assert len(env) == len(Settings.model_fields)  # every field's type can be written
    assert_equal_field_by_field(read_back(monkeypatch, env, Settings), given)


class Extended(Settings):
    """Field types Settings has none of yet: lists and dicts go as JSON, None as no variable at all."""

    topics: list[str] = Field(default_factory=list)
    weights: dict[str, float] = Field(default_factory=dict)
    cap: int | None = None
    floor: float | None = 1.5


def test_lists_dicts_and_none_read_back_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    given = Extended(topics=["cs.LG", 'a "b", c'], weights={"votes": 0.5, "age": -2.0}, cap=None, port=9)
    env = given.environment()
    assert env["PAPERFEED_TOPICS"] == '["cs.LG","a \\"b\\", c"]'
    assert "PAPERFEED_CAP" not in env  # no variable reads back as the default, None
    assert_equal_field_by_field(read_back(monkeypatch, env, Extended), given)


def test_a_none_that_would_read_back_as_the_default_is_refused() -> None:
    with pytest.raises(ValueError, match="PAPERFEED_FLOOR: None cannot be read back"):
        Extended(floor=None).environment()
