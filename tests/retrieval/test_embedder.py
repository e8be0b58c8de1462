"""The embedding service: the real all-MiniLM-L6-v2 int8 model gives unit-length 384-dim
float32 rows that do not depend on how texts are batched or ordered; any text (empty, huge)
embeds; a missing or corrupt model or tokenizer is a SpecqlError naming the file; a model given
as a path is named after its content. The hashing embedder is checked as the test tool it is."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest

from specql.errors import SpecqlError
from specql.retrieval import (
    DEFAULT_EMBEDDER,
    EMBEDDERS,
    HashingEmbedder,
    MiniLMEmbedder,
    get_embedder,
)
from specql.retrieval.embedder import MAX_TEXT_CHARS, MODEL_ENV, TOKENIZER_ENV

TEXTS = [
    "writes old and new row values to a history table",
    "x",
    "",
    "A soft delete marks rows as deleted instead of removing them; restore brings them back. " * 6,
    "ünïcödé テーブル名 größe",
    "SELECT count(*) FROM orders WHERE status = 'open'",
    "gapless per-year invoice numbers",
]


def close(a, b, atol: float = 1e-5) -> bool:
    return bool(np.allclose(a, b, atol=atol, rtol=0))


# --------------------------------------------------------------------------- the real model


def test_rows_are_unit_length_float32_with_384_dimensions(minilm) -> None:
    vectors = minilm.embed(TEXTS)
    assert minilm.dims == 384
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    assert close(np.linalg.norm(vectors, axis=1), np.ones(len(TEXTS)))
    assert minilm.embed([]).shape == (0, 384)


def test_batched_rows_equal_rows_embedded_one_by_one(minilm) -> None:
    alone = np.vstack([minilm.embed([text]) for text in TEXTS])
    assert close(minilm.embed(TEXTS), alone)
    # Small batches pad differently again (per batch, texts grouped by length).
    assert close(MiniLMEmbedder(batch_size=2).embed(TEXTS), alone)


def test_each_row_belongs_to_its_text_whatever_the_order_and_lengths(minilm) -> None:
    mixed = [TEXTS[i] for i in (3, 1, 6, 2, 0, 5, 4)]
    vectors = minilm.embed(mixed)
    for text, vector in zip(mixed, vectors, strict=True):
        assert close(vector, minilm.embed([text])[0]), text
    assert close(minilm.embed(mixed[::-1]), vectors[::-1])


def test_meaning_decides_similarity(minilm) -> None:
    history, audit, invoice = minilm.embed(
        [
            "writes old and new row values to a history table",
            "an audit log of every change made to a row",
            "gapless per-year invoice numbers",
        ]
    )
    assert history @ audit > history @ invoice + 0.1


def test_very_long_text_is_truncated_without_error(minilm) -> None:
    long = "salary history trigger " * 50_000  # ~1 MB
    first, with_tail = minilm.embed([long, long + " and a completely different ending"])
    # Only the first tokens count: what comes after them changes nothing.
    assert close(first, with_tail)
    assert close(first, minilm.embed([long[:MAX_TEXT_CHARS]])[0])
    assert abs(float(np.linalg.norm(first)) - 1.0) < 1e-5


def test_empty_and_blank_texts_embed(minilm) -> None:
    vectors = minilm.embed(["", "   ", "\n"])
    assert np.isfinite(vectors).all()
    assert close(np.linalg.norm(vectors, axis=1), np.ones(3))


def test_concurrent_first_use_loads_once_and_agrees(minilm) -> None:
    fresh = MiniLMEmbedder()
    results: list = [None] * 4
    errors: list[BaseException] = []

    def run(slot: int) -> None:
        try:
            results[slot] = fresh.embed(TEXTS[:3])
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    expected = minilm.embed(TEXTS[:3])
    assert all(close(r, expected) for r in results)


def test_the_packaged_model_has_a_fixed_name(minilm) -> None:
    assert minilm.packaged
    assert minilm.name == "all-MiniLM-L6-v2-onnx-int8"
    assert get_embedder().name == minilm.name
    assert DEFAULT_EMBEDDER == "minilm" and EMBEDDERS["minilm"] is MiniLMEmbedder


def test_a_model_given_as_a_path_is_named_after_its_content(minilm, tmp_path) -> None:
    linked = tmp_path / "my-model.onnx"
    linked.symlink_to(minilm.model_path)
    user = MiniLMEmbedder(linked)
    digest = hashlib.sha256(minilm.model_path.read_bytes()).hexdigest()
    assert not user.packaged
    assert user.name == f"minilm-onnx-{digest[:16]}" != minilm.name
    assert close(user.embed(TEXTS[:2]), minilm.embed(TEXTS[:2]))

    other = tmp_path / "other.onnx"
    other.write_bytes(b"other weights")
    same = tmp_path / "same.onnx"
    same.write_bytes(b"other weights")
    assert MiniLMEmbedder(other).name == MiniLMEmbedder(same).name != user.name


# --------------------------------------------------------------------------- bad files


@pytest.fixture
def tokenizer_file(minilm) -> Path:
    return minilm.tokenizer_path


def error_of(embedder: MiniLMEmbedder) -> str:
    with pytest.raises(SpecqlError) as caught:
        embedder.embed(["anything"])
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_missing_model_file_is_named(tmp_path, tokenizer_file) -> None:
    missing = tmp_path / "nowhere" / "model.onnx"
    message = error_of(MiniLMEmbedder(missing, tokenizer_file))
    assert str(missing) in message and "not found" in message
    with pytest.raises(SpecqlError, match="not found"):
        MiniLMEmbedder(missing, tokenizer_file).name  # noqa: B018


def test_a_corrupt_model_file_is_named(tmp_path, tokenizer_file) -> None:
    junk = tmp_path / "model.onnx"
    junk.write_bytes(np.random.default_rng(7).bytes(4096))
    message = error_of(MiniLMEmbedder(junk, tokenizer_file))
    assert str(junk) in message and "could not be loaded" in message


def test_an_empty_model_file_is_named(tmp_path, tokenizer_file) -> None:
    empty = tmp_path / "model.onnx"
    empty.write_bytes(b"")
    assert str(empty) in error_of(MiniLMEmbedder(empty, tokenizer_file))


@pytest.mark.parametrize(
    "content",
    ["{ this is not json", '{"version": "1.0", "model": {"type": "NoSuchModel"}}', ""],
    ids=["not-json", "not-a-tokenizer", "empty"],
)
def test_a_corrupt_tokenizer_file_is_named(minilm, tmp_path, content: str) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text(content)
    message = error_of(MiniLMEmbedder(minilm.model_path, bad))
    assert str(bad) in message and "not a valid tokenizer.json" in message


def test_a_missing_tokenizer_file_is_named(minilm, tmp_path) -> None:
    missing = tmp_path / "tokenizer.json"
    message = error_of(MiniLMEmbedder(minilm.model_path, missing))
    assert str(missing) in message and "not found" in message


def test_paths_from_the_environment_are_used(minilm, tmp_path, monkeypatch) -> None:
    junk = tmp_path / "env-model.onnx"
    junk.write_bytes(b"not a model")
    monkeypatch.setenv(MODEL_ENV, str(junk))
    monkeypatch.setenv(TOKENIZER_ENV, str(minilm.tokenizer_path))
    from_env = MiniLMEmbedder()
    assert (from_env.model_path, from_env.packaged) == (junk, False)
    assert str(junk) in error_of(from_env)


def test_empty_environment_variables_mean_the_packaged_model(minilm, monkeypatch) -> None:
    monkeypatch.setenv(MODEL_ENV, "")
    monkeypatch.setenv(TOKENIZER_ENV, "")
    unset = MiniLMEmbedder()
    # Same files, same name: vectors stored under the packaged name stay current.
    assert (unset.model_path, unset.tokenizer_path) == (minilm.model_path, minilm.tokenizer_path)
    assert (unset.packaged, unset.name) == (True, minilm.name)


# --------------------------------------------------------------------------- the registry


def test_unknown_embedder_names_the_known_ones() -> None:
    with pytest.raises(SpecqlError, match=r"unknown embedder 'bert'; one of hashing, minilm"):
        get_embedder("bert")


def test_hashing_embedder_is_deterministic_counts_and_relates_shared_words() -> None:
    embedder = get_embedder("hashing", dims=128)
    assert isinstance(embedder, HashingEmbedder)
    assert (embedder.name, embedder.dims) == ("hashing-128", 128)
    texts = ["salary history table", "history of salary", "gapless invoice numbers", ""]
    vectors = embedder.embed(texts)
    assert (embedder.calls, embedder.texts_embedded) == (1, 4)
    assert vectors.shape == (4, 128) and vectors.dtype == np.float32
    assert close(np.linalg.norm(vectors[:3], axis=1), np.ones(3))
    assert not vectors[3].any()  # no words, no direction
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert close(HashingEmbedder(128).embed(texts), vectors, atol=0)
    embedder.embed(texts[:1])
    assert (embedder.calls, embedder.texts_embedded) == (2, 5)
