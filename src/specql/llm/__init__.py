"""Model backends behind one interface, local first (DESIGN §5 "llm").

- :mod:`specql.llm.base`: the :class:`Model` interface, capability flags, the backend
  registry (``llamacpp``, ``openai``, ``anthropic``, ``mock``);
- :mod:`specql.llm.config`: which model to use (built-ins < ``models.yaml`` in the specql home
  < environment < CLI flags);
- :mod:`specql.llm.structured`: bounded JSON Schemas of pydantic task outputs, validation;
- :mod:`specql.llm.prompts` and :mod:`specql.llm.tasks`: prompt templates and the tasks;
- :mod:`specql.llm.client`: running a task (cache, log, re-ask on invalid answers, escalation
  to the cloud model under a cost cap).

Layer 2: imports only ``specql.errors`` and ``specql.sqltext``; the store behind the cache and
log is passed in by the caller.
"""

from specql.llm.base import (
    BACKENDS,
    Capabilities,
    Completion,
    LLMError,
    Message,
    Model,
    ModelConfig,
    create_model,
    register_backend,
)
from specql.llm.client import CallRecord, CallStore, LLMClient, MemoryCallStore, TaskResult
from specql.llm.config import LLMSettings, load_settings, resolve_model, save_default

__all__ = [
    "BACKENDS",
    "CallRecord",
    "CallStore",
    "Capabilities",
    "Completion",
    "LLMClient",
    "LLMError",
    "LLMSettings",
    "MemoryCallStore",
    "Message",
    "Model",
    "ModelConfig",
    "TaskResult",
    "create_model",
    "load_settings",
    "register_backend",
    "resolve_model",
    "save_default",
]
