"""What search sees of a library entry: its retrieval document.

A document is a list of chunks: a summary (name, category, description, fields, actions) and
then each legacy SQL example of the entry (a domain pattern's ``tests.matches``) as words.
Each chunk is embedded on its own and an entry scores as its best chunk, so a function that
looks like one of the examples is found even when the summary is worded differently; the
full-text index gets all chunks as one text. The library writes the document with every change
of the entry (``pattern_documents``); the retrieval layer indexes it.
"""

from __future__ import annotations

import hashlib
import json
import re

from specql.patterns.definitions import LANGUAGES, DomainPattern, EntityTemplate, Entry, Primitive
from specql.sqltext import identifier_words, sql_words

# Bump when the way documents are made changes: the library rewrites every document then.
DOCUMENT_FORMAT = "3"
# Words of one legacy example kept (the embedding model reads about 256 tokens).
EXAMPLE_WORDS = 160


# Template syntax in a name (a field ``{{ 'street' if config.with_address else '' }}``, an
# action ``transition_{{ entity.snake }}_{{ field }}``): only the string literals of an
# expression are words of the name; its code (entity.snake, config, if/else) is not.
_TEMPLATE_PART = re.compile(r"\{\{(.*?)\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_STRING = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def _plain(name: str) -> str:
    def literals(part: re.Match) -> str:
        return f" {' '.join(a or b for a, b in _STRING.findall(part.group(1) or ''))} "

    return identifier_words(_TEMPLATE_PART.sub(literals, name))


def _names(items) -> str:
    return ", ".join(words for words in (_plain(str(i)) for i in items) if words)


def _listing(label: str, items) -> str:
    """``Label: a, b.``, or nothing when there is nothing to list (no empty "Fields: .")."""
    names = _names(items)
    return f"{label}: {names}." if names else ""


def summary_text(entry: Entry) -> str:
    """Name, category, description and what the entry is made of, as prose-like text."""
    parts = [f"{identifier_words(entry.name)} ({entry.category}): {entry.description.strip()}"]
    if isinstance(entry, Primitive):
        parts.append(_listing("Parameters", entry.parameters.get("properties", {})))
    elif isinstance(entry, DomainPattern):
        impl = entry.implementation
        parts.append(_listing("Fields", impl.get("fields", {})))
        parts.append(_listing("Actions", (a.get("name", "") for a in impl.get("actions", []))))
        parts.append(_listing("Entities", (e.get("entity", "") for e in impl.get("entities", []))))
        parts.append(_listing("Parameters", entry.parameters.get("properties", {})))
    elif isinstance(entry, EntityTemplate):
        parts.append(f"Entity {entry.entity}.")
        parts.append(_listing("Fields", entry.body.get("fields", {})))
        # Sorted: the store gives dependencies back in its own order, not the definition's.
        parts.append(_listing("Uses", sorted(entry.depends_on)))
    return " ".join(p for p in parts if p)


def legacy_examples(entry: Entry) -> list[str]:
    """The entry's legacy SQL examples as words (domain patterns only have them)."""
    if not isinstance(entry, DomainPattern):
        return []
    return [
        " ".join(sql_words(sql, limit=EXAMPLE_WORDS))
        for sql in entry.tests.get("matches", [])
        if isinstance(sql, str)
    ]


def document_chunks(entry: Entry) -> list[str]:
    return [summary_text(entry), *(e for e in legacy_examples(entry) if e)]


def languages(entry: Entry) -> list[str]:
    """Languages the entry compiles to: a primitive's templates; every language otherwise."""
    if isinstance(entry, Primitive):
        return sorted(entry.implementations)
    return sorted(LANGUAGES)


def chunks_hash(chunks: list[str]) -> str:
    return hashlib.sha256(json.dumps(chunks, ensure_ascii=False).encode()).hexdigest()
