"""Writing generated files: manifest in apply order, idempotent, stale files removed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specql.errors import SpecqlError
from specql.generators.base import FileSpec
from specql.generators.writer import (
    MANIFEST,
    apply_order,
    read_manifest,
    sha256_text,
    write_files,
)


def _spec(code: str, name: str, content: str, layer: str = "write_side") -> FileSpec:
    return FileSpec(code, name, content, layer, f"{code[:2]}_{layer}/x/{code}_{name}.sql")


FILES = [
    _spec("010001", "framework", "CREATE SCHEMA app;\n"),
    _spec("012101", "tb_b", "CREATE TABLE b();\n"),
    _spec("012001", "tb_a", "CREATE TABLE a();\n"),
    _spec("022001", "tv_a", "CREATE VIEW a AS SELECT 1;\n", "read_side"),
]


def test_writes_files_and_manifest_in_the_given_order(tmp_path: Path) -> None:
    result = write_files(FILES, tmp_path)
    assert result.written == [f.path for f in FILES] and not result.unchanged
    for f in FILES:
        assert (tmp_path / f.path).read_text() == f.content
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["version"] == 1
    assert manifest["files"][1] == {
        "target": "postgres",
        "code": "012101",
        "name": "tb_b",
        "layer": "write_side",
        "path": "01_write_side/x/012101_tb_b.sql",
        "sha256": sha256_text("CREATE TABLE b();\n"),
    }
    entries = read_manifest(tmp_path)
    assert [e.code for e in entries] == ["010001", "012101", "012001", "022001"]
    assert apply_order(tmp_path) == [tmp_path / f.path for f in FILES]


def test_second_write_changes_nothing(tmp_path: Path) -> None:
    write_files(FILES, tmp_path)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()}
    result = write_files(FILES, tmp_path)
    assert not result.written and not result.removed
    assert result.unchanged == [f.path for f in FILES]
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_only_changed_files_are_rewritten_and_stale_ones_removed(tmp_path: Path) -> None:
    write_files(FILES, tmp_path)
    untouched = tmp_path / FILES[0].path
    mtime = untouched.stat().st_mtime_ns
    foreign = tmp_path / "01_write_side" / "x" / "notes.txt"  # never in a manifest: kept
    foreign.write_text("mine")
    new = [FILES[0], _spec("012101", "tb_b", "CREATE TABLE b(x int);\n"), FILES[3]]
    result = write_files(new, tmp_path)
    assert result.written == [new[1].path]
    assert result.removed == [FILES[2].path]
    assert untouched.stat().st_mtime_ns == mtime
    assert not (tmp_path / FILES[2].path).exists()
    assert foreign.exists()
    assert [e.name for e in read_manifest(tmp_path)] == ["framework", "tb_b", "tv_a"]


def test_empty_directories_of_stale_files_are_removed(tmp_path: Path) -> None:
    write_files(FILES, tmp_path)
    write_files(FILES[:3], tmp_path)
    assert not (tmp_path / "02_read_side").exists()
    assert (tmp_path / "01_write_side").is_dir()


def test_targets_share_an_output_directory(tmp_path: Path) -> None:
    write_files(FILES, tmp_path)
    django = [FileSpec("040001", "models", "# models\n", "models", "django/models.py")]
    write_files(django, tmp_path, target="django")
    write_files(FILES[:2], tmp_path)  # rewriting postgres keeps django's entries and files
    assert [e.name for e in read_manifest(tmp_path)] == ["framework", "tb_b", "models"]
    assert [e.name for e in read_manifest(tmp_path, "django")] == ["models"]
    assert (tmp_path / "django" / "models.py").exists()
    assert not (tmp_path / FILES[2].path).exists()


def test_no_manifest_reads_as_empty(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) == []
    assert apply_order(tmp_path / "missing") == []


def test_broken_manifest_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(SpecqlError, match="unreadable manifest"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("path", ["../escape.sql", "/abs.sql", MANIFEST])
def test_paths_must_stay_inside_the_output(tmp_path: Path, path: str) -> None:
    with pytest.raises(SpecqlError):
        write_files([FileSpec("010001", "x", "", "write_side", path)], tmp_path / "out")


def test_duplicate_paths_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecqlError, match="share the path"):
        write_files([FILES[0], FILES[0]], tmp_path)
