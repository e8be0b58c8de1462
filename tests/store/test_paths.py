"""Where specql's files live: SPECQL_HOME, else ~/.specql; --library overrides the library."""

from __future__ import annotations

from pathlib import Path

from specql.store import library_path, specql_home


def test_home_is_specql_home_with_tilde_expanded(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SPECQL_HOME", "~/elsewhere")
    assert specql_home() == tmp_path / "elsewhere"


def test_home_defaults_to_dot_specql_when_unset_or_empty(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SPECQL_HOME")
    assert specql_home() == tmp_path / ".specql"
    monkeypatch.setenv("SPECQL_HOME", "")
    assert specql_home() == tmp_path / ".specql"


def test_library_is_library_db_in_home_unless_given(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SPECQL_HOME", str(tmp_path / "home"))
    assert library_path() == tmp_path / "home" / "library.db"
    assert library_path("~/team.db") == tmp_path / "team.db"
    assert library_path(Path("rel/lib.db")) == Path("rel/lib.db")
