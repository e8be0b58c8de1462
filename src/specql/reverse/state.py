"""Resume state of a reverse run: a journal of finished files in the output directory.

``<out_dir>/.specql-reverse-state.jsonl`` holds one JSON line per input file the run finished,
appended (and flushed) as soon as the file is done, so an interruption loses at most the
file being worked on; a torn last line is ignored when the journal is read. A run starts by
rewriting the journal with only the records it keeps (to a temporary name, then renamed), so
it never holds stale lines, and ends by syncing it to disk.

A line::

    {"v": 1, "path": "...", "size": 1234, "mtime_ns": ..., "sha256": "...",
     "fingerprint": "<hash of every table and type of the run>",
     "module": <the file's parse result without its functions, before cross-file linking>,
     "outcomes": [<FunctionOutcome>...], "entry": <FileEntry fields>}

A file is skipped by ``--resume`` when its path, size and modification time match (or, if the
time changed, its content hash does) and the run's tables are the same as when it was done
(``fingerprint``): a function's steps depend on every table of the run.

The values are encoded by :func:`encode` / :func:`decode`, a JSON form of the plain dataclasses
that cross stages (parse results, spec nodes, outcomes). Decoding builds only the classes of
:data:`_CLASSES` (no pickle: the state file is data, never code).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from specql.dsl import model as m
from specql.errors import ErrorLevel, SourcePos, SpecqlError
from specql.reverse import source as src

STATE_NAME = ".specql-reverse-state.jsonl"
STATE_VERSION = 1


def _classes() -> dict[str, type]:
    from specql.reverse.assemble import FunctionOutcome

    classes: list[type] = [
        SourcePos,
        src.ColumnInfo,
        src.TableInfo,
        src.ForeignKeyInfo,
        src.TypeInfo,
        src.PendingStatement,
        src.ArgInfo,
        src.TriggerInfo,
        src.FunctionInfo,
        src.SqlModule,
        src.Unconverted,
        src.PatternFinding,
        m.TypeRef,
        m.Field,
        m.Variable,
        m.Param,
        m.Action,
        m.PatternUse,
        m.Entity,
        *m.STEP_TYPES.values(),
        FunctionOutcome,
    ]
    return {cls.__name__: cls for cls in classes}


_CLASSES: dict[str, type] = {}
_MARKERS = frozenset({"$", "$t", "$d", "$e"})
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        _FIELDS[cls] = names
    return names


def encode(value):
    """A JSON-ready form of ``value`` (dataclasses of :data:`_CLASSES`, errors, containers)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    coder = _CODERS.get(kind)
    if coder is not None:
        return coder(value)
    return _encode_any(value)


# Values of these exact types are their own JSON form (subclasses take the long way).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _encode_list(value: list) -> list:
    return [v if type(v) in _PLAIN else encode(v) for v in value]


def _encode_tuple(value: tuple) -> dict:
    return {"$t": [v if type(v) in _PLAIN else encode(v) for v in value]}


def _encode_dict(value: dict) -> dict:
    if all(isinstance(k, str) for k in value) and not _MARKERS.intersection(value):
        return {k: v if type(v) in _PLAIN else encode(v) for k, v in value.items()}
    return {"$d": [[encode(k), encode(v)] for k, v in value.items()]}


def _dataclass_coder(cls: type):
    """The encoder of one dataclass (its field names looked up once)."""
    name, fields = cls.__name__, _fields(cls)
    plain = _PLAIN

    def coder(value) -> dict:
        data = {"$": name}
        for field_name in fields:
            v = getattr(value, field_name)
            data[field_name] = v if type(v) in plain else encode(v)
        return data

    return coder


_CODERS: dict[type, object] = {list: _encode_list, tuple: _encode_tuple, dict: _encode_dict}


def _encode_any(value):
    """:func:`encode` for what has no coder yet (dataclasses get one) or never will."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list):
        return _encode_list(value)
    if isinstance(value, tuple):
        return _encode_tuple(value)
    if isinstance(value, dict):
        return _encode_dict(value)
    if isinstance(value, SpecqlError):
        pos = value.pos
        return {"$e": [value.message, pos.file, pos.line, pos.col, value.level.value]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        coder = _CODERS[type(value)] = _dataclass_coder(type(value))
        return coder(value)
    raise TypeError(f"cannot encode {type(value).__name__} in the reverse state")


def decode(data):
    """The value :func:`encode` was given (only known classes are built)."""
    if data is None or isinstance(data, str | int | float | bool):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        if "$" in data:
            if not _CLASSES:
                _CLASSES.update(_classes())
            cls = _CLASSES.get(data["$"])
            if cls is None:
                raise ValueError(f"unknown class {data['$']!r} in the reverse state")
            names = _fields(cls)
            return cls(**{k: decode(v) for k, v in data.items() if k != "$" and k in names})
        if "$t" in data:
            return tuple(decode(v) for v in data["$t"])
        if "$d" in data:
            return {decode(k): decode(v) for k, v in data["$d"]}
        if "$e" in data:
            message, file, line, col, level = data["$e"]
            return SpecqlError(message, SourcePos(file, line, col), ErrorLevel(level))
        return {k: decode(v) for k, v in data.items()}
    raise ValueError(f"cannot decode {type(data).__name__} from the reverse state")


# --------------------------------------------------------------------------- file keys


def file_key(path: str | os.PathLike) -> dict:
    """What identifies a file's content cheaply: size and modification time."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def same_file(record: dict, path: str, key: dict) -> bool:
    """``record`` (a journal line) was made from the file now at ``path``."""
    if record.get("size") != key["size"]:
        return False
    if record.get("mtime_ns") == key["mtime_ns"]:
        return True
    want = record.get("sha256")  # touched but maybe unchanged: compare the content
    try:
        return bool(want) and file_hash(path) == want
    except OSError:
        return False


# --------------------------------------------------------------------------- the journal


class Journal:
    """The append-only state file of one output directory."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.path = Path(out_dir) / STATE_NAME
        self._fh = None

    def read(self) -> dict[str, dict]:
        """Finished files by path (the last record of a path wins; torn lines are skipped)."""
        records: dict[str, dict] = {}
        try:
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut by the interruption
                    if isinstance(record, dict) and record.get("v") == STATE_VERSION:
                        records[record.get("path", "")] = record
        except (OSError, UnicodeDecodeError):
            return {}
        return records

    def start(self, keep: list[dict]) -> None:
        """Begin a run: the journal holds ``keep`` (records still valid) and nothing else."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._rewrite(keep)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for appends

    def append(self, record: dict) -> None:
        assert self._fh is not None, "Journal.start() first"
        # One line per finished file, flushed: a killed run keeps every line it wrote (a torn
        # last line is skipped on reading). The compacted journal at the end is fsynced.
        self._fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def finish(self) -> None:
        """End of a complete run. The journal already holds exactly this run's records (the
        ones kept by :meth:`start` and the ones appended since): make them durable."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        self.close()

    def _rewrite(self, records: list[dict]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


__all__ = [
    "STATE_NAME",
    "STATE_VERSION",
    "Journal",
    "decode",
    "encode",
    "file_hash",
    "file_key",
    "same_file",
]
