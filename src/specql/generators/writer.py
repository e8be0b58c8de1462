"""Write generated files to an output directory, with a manifest.

``OUT/manifest.json``::

    {
      "version": 1,
      "files": [
        {"target": "postgres", "code": "010001", "name": "framework", "layer": "write_side",
         "path": "01_write_side/0_framework/00_framework/010001_framework.sql",
         "sha256": "..."},
        ...
      ]
    }

``files`` is in apply order (the order the generator returned them). Several targets can share
one output directory: writing one target replaces only that target's entries.

Writing is idempotent: a file whose content is unchanged is not rewritten (its mtime stays),
and a file that the previous manifest listed for the same target but the new one does not is
removed (with directories it leaves empty). Files the manifest never listed are left alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from specql.errors import SourcePos, SpecqlError
from specql.generators.base import FileSpec

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    code: str
    name: str
    layer: str
    path: str  # relative POSIX path inside the output directory
    sha256: str
    target: str = "postgres"

    def to_json(self) -> dict:
        return {
            "target": self.target,
            "code": self.code,
            "name": self.name,
            "layer": self.layer,
            "path": self.path,
            "sha256": self.sha256,
        }


@dataclass
class WriteResult:
    """What :func:`write_files` did, paths relative to the output directory."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    entries: list[ManifestEntry] = field(default_factory=list)


def sha256_text(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _safe_relpath(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or "\\" in path:
        raise SpecqlError(f"generated file path {path!r} is not a relative path inside the output")
    return rel


def read_manifest(out_dir: str | Path, target: str | None = None) -> list[ManifestEntry]:
    """The manifest's entries in apply order (only ``target``'s when given). No manifest ->
    empty list; an unreadable one -> SpecqlError."""
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = [
            ManifestEntry(
                code=str(item["code"]),
                name=str(item["name"]),
                layer=str(item["layer"]),
                path=str(_safe_relpath(str(item["path"]))),
                sha256=str(item["sha256"]),
                target=str(item.get("target", "postgres")),
            )
            for item in data["files"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise SpecqlError(f"unreadable manifest: {exc}", SourcePos(str(path), 0, 0)) from None
    if target is not None:
        entries = [e for e in entries if e.target == target]
    return entries


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def write_files(
    files: Iterable[FileSpec], out_dir: str | Path, target: str = "postgres"
) -> WriteResult:
    """Write ``files`` under ``out_dir`` and update ``manifest.json`` (see the module doc)."""
    out = Path(out_dir)
    specs = list(files)
    seen: dict[str, str] = {}
    for spec in specs:
        rel = str(_safe_relpath(spec.path))
        if rel == MANIFEST:
            raise SpecqlError(f"a generated file may not be called {MANIFEST}")
        if rel in seen:
            raise SpecqlError(
                f"two generated files share the path {rel} ({seen[rel]}, {spec.code})"
            )
        seen[rel] = spec.code

    previous = read_manifest(out)
    result = WriteResult()
    out.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        data = spec.content.encode("utf-8")
        if _write_if_changed(out / spec.path, data):
            result.written.append(spec.path)
        else:
            result.unchanged.append(spec.path)
        result.entries.append(
            ManifestEntry(
                code=spec.code,
                name=spec.name,
                layer=spec.layer,
                path=spec.path,
                sha256=hashlib.sha256(data).hexdigest(),
                target=target,
            )
        )

    for old in previous:
        if old.target != target or old.path in seen:
            continue
        stale = out / old.path
        if stale.is_file():
            stale.unlink()
            result.removed.append(old.path)
            _remove_empty_parents(stale.parent, out)

    # Other targets' entries keep their place; this target's entries replace its old ones
    # where the first of them was (or go at the end).
    merged: list[ManifestEntry] = []
    placed = False
    for old in previous:
        if old.target == target:
            if not placed:
                merged.extend(result.entries)
                placed = True
        else:
            merged.append(old)
    if not placed:
        merged.extend(result.entries)
    manifest = {"version": MANIFEST_VERSION, "files": [e.to_json() for e in merged]}
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    _write_if_changed(out / MANIFEST, text.encode("utf-8"))
    return result


def _remove_empty_parents(directory: Path, root: Path) -> None:
    root = root.resolve()
    current = directory.resolve()
    while current != root and root in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


def apply_order(out_dir: str | Path, target: str = "postgres") -> list[Path]:
    """The ``target``'s generated files as paths under ``out_dir``, in apply order."""
    return [Path(out_dir) / e.path for e in read_manifest(out_dir, target)]
