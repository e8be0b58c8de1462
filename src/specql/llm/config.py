"""Which models exist and which one to use: built-in entries < the config file under the
specql home < environment variables < CLI flags.

The file is ``$SPECQL_HOME/models.yaml`` (``~/.specql/models.yaml``)::

    default: local            # the model every LLM feature uses
    cloud: cloud              # the model escalations go to
    use_cloud: false          # escalate at all (also --use-cloud / SPECQL_USE_CLOUD=1)
    min_confidence: 0.5       # a validated local answer below this is escalated (when allowed)
    max_cost_usd: 0.50        # per run; calls that would pass it are not made
    retries: 1                # re-asks with the validation errors after a failed answer
    models:
      local: {backend: llamacpp}                      # the packaged Gemma 3 270M
      big:   {backend: llamacpp, model: ~/.specql/models/llama-3.1-8b.gguf,
              n_ctx: 8192, n_threads: 8, n_batch: 512, n_gpu_layers: 35}
      team:  {backend: openai, model: llama3.1, base_url: http://gpu-box:11434/v1, timeout: 60}
      cloud: {backend: anthropic, model: claude-haiku-4-5, price_in: 1.0, price_out: 5.0}

Environment: ``SPECQL_MODEL`` (like ``--model``), ``SPECQL_CLOUD_MODEL``, ``SPECQL_USE_CLOUD``,
``SPECQL_MAX_COST``, ``SPECQL_LLM_RETRIES``. A model reference (``--model``, ``default``) is
a configured name, ``backend:model`` (``llamacpp:/models/x.gguf``, ``openai:llama3.1``), or a
path to a ``.gguf`` file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from specql.errors import SourcePos, SpecqlError
from specql.files import write_text_atomic
from specql.llm.base import BACKENDS, ModelConfig

CONFIG_FILE = "models.yaml"

BUILTIN_MODELS: dict[str, ModelConfig] = {
    "local": ModelConfig("local", "llamacpp", "", {"n_ctx": 4096}),
    "server": ModelConfig(
        "server", "openai", "default", {"base_url": "http://127.0.0.1:8080/v1", "timeout": 120}
    ),
    "cloud": ModelConfig(
        "cloud",
        "anthropic",
        "claude-haiku-4-5",
        {"api_key_env": "ANTHROPIC_API_KEY", "price_in": 1.0, "price_out": 5.0, "timeout": 60},
    ),
    "mock": ModelConfig("mock", "mock"),
}

ENV_MODEL = "SPECQL_MODEL"
ENV_CLOUD_MODEL = "SPECQL_CLOUD_MODEL"
ENV_USE_CLOUD = "SPECQL_USE_CLOUD"
ENV_MAX_COST = "SPECQL_MAX_COST"
ENV_RETRIES = "SPECQL_LLM_RETRIES"

_SETTINGS = ("default", "cloud", "use_cloud", "min_confidence", "max_cost_usd", "retries")
# The settings an environment variable can give.
_ENV_SETTINGS = (
    ("default", ENV_MODEL),
    ("cloud", ENV_CLOUD_MODEL),
    ("use_cloud", ENV_USE_CLOUD),
    ("max_cost_usd", ENV_MAX_COST),
    ("retries", ENV_RETRIES),
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class LLMSettings:
    models: dict[str, ModelConfig] = field(default_factory=lambda: dict(BUILTIN_MODELS))
    default: str = "local"
    cloud: str = "cloud"
    use_cloud: bool = False
    min_confidence: float = 0.5
    max_cost_usd: float = 0.50
    retries: int = 1
    # where each setting came from: builtin | file | env | cli (what `specql models list` shows)
    origin: dict[str, str] = field(default_factory=dict)
    home: str = ""  # the specql home: the packaged local model is assembled under it

    def model(self, ref: str | None = None) -> ModelConfig:
        """The model ``ref`` names (None: the default)."""
        return resolve_model(self, self.default if ref is None else ref)

    @property
    def cloud_model(self) -> ModelConfig:
        return resolve_model(self, self.cloud)


def config_path(home: str | Path) -> Path:
    """The config file in the specql home ``home`` (the caller resolves the home: this layer
    does not know the store's)."""
    return Path(home).expanduser() / CONFIG_FILE


def resolve_model(settings: LLMSettings, ref: str) -> ModelConfig:
    """A configured name, ``backend:model``, or a ``.gguf`` path (see the module docstring)."""
    config = _resolve(settings, ref.strip())
    if config.backend == "llamacpp" and settings.home:
        return replace(config, options={"home": settings.home, **config.options})
    return config


def _resolve(settings: LLMSettings, ref: str) -> ModelConfig:
    if not ref:
        raise SpecqlError("empty model name")
    if ref in settings.models:
        return settings.models[ref]
    backend, sep, model = ref.partition(":")
    if sep and backend in BACKENDS:  # before the .gguf test: llamacpp:/m/x.gguf is this form
        base = next(
            (m for m in BUILTIN_MODELS.values() if m.backend == backend),
            ModelConfig(ref, backend),
        )
        if backend == "llamacpp":
            model = str(Path(model).expanduser()) if model else ""
        return replace(base, name=ref, model=model or base.model)
    if ref.lower().endswith(".gguf"):
        return replace(BUILTIN_MODELS["local"], name=ref, model=str(Path(ref).expanduser()))
    known = ", ".join(sorted(settings.models))
    raise SpecqlError(
        f"unknown model {ref!r}: use a configured name ({known}), backend:model"
        f" ({', '.join(sorted(BACKENDS))}) or a .gguf path"
    )


def _bool(value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SpecqlError(f"{where}: expected true or false, got {value!r}")


def _number(value, where: str, kind=float, minimum: float = 0):
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise SpecqlError(f"{where}: expected a number, got {value!r}") from None
    if number < minimum:
        raise SpecqlError(f"{where}: must be at least {minimum}, got {number}")
    return number


def _read_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecqlError(f"cannot read: {exc}", SourcePos(str(path))) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = SourcePos(str(path), mark.line + 1, mark.column + 1) if mark else SourcePos(str(path))
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecqlError(f"invalid YAML: {problem}", pos) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecqlError("expected a mapping of settings", SourcePos(str(path), 1, 1))
    unknown = sorted(set(data) - set(_SETTINGS) - {"models"})
    if unknown:
        raise SpecqlError(
            f"unknown setting {unknown[0]!r}; known: {', '.join((*_SETTINGS, 'models'))}",
            SourcePos(str(path)),
        )
    return data


def _file_models(data: dict, path: Path) -> dict[str, ModelConfig]:
    models = data.get("models") or {}
    if not isinstance(models, dict):
        raise SpecqlError("models: expected a mapping of name -> settings", SourcePos(str(path)))
    found: dict[str, ModelConfig] = {}
    for name, entry in models.items():
        where = f"models.{name}"
        if not isinstance(entry, dict) or not isinstance(entry.get("backend"), str):
            raise SpecqlError(f"{where}: needs a backend", SourcePos(str(path)))
        options = {k: v for k, v in entry.items() if k not in {"backend", "model"}}
        backend = entry["backend"]
        if backend not in BACKENDS:
            raise SpecqlError(
                f"{where}: unknown backend {backend!r}; one of {', '.join(sorted(BACKENDS))}",
                SourcePos(str(path)),
            )
        model = str(entry.get("model") or "")
        if backend == "llamacpp" and model:
            model = str(Path(model).expanduser())
        found[str(name)] = ModelConfig(str(name), backend, model, options)
    return found


def load_settings(
    home: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    model: str | None = None,
    use_cloud: bool | None = None,
    max_cost_usd: float | None = None,
) -> LLMSettings:
    """The settings: built-ins, then the config file, then ``env`` (default: os.environ), then
    the CLI's values (None: not given). A bad file or value is a one-line SpecqlError."""
    env = os.environ if env is None else env
    path = config_path(home)
    data = _read_file(path)
    flags = {"default": model, "use_cloud": use_cloud, "max_cost_usd": max_cost_usd}
    layers = (  # lowest precedence first; the built-ins are the dataclass's defaults
        ("file", {key: data[key] for key in _SETTINGS if key in data}),
        ("env", {key: env[var] for key, var in _ENV_SETTINGS if env.get(var)}),
        ("cli", {key: value for key, value in flags.items() if value is not None}),
    )
    origin = dict.fromkeys(_SETTINGS, "builtin")
    values: dict = {}
    for layer, given in layers:
        values.update(given)
        origin.update(dict.fromkeys(given, layer))

    where = str(path)
    builtin = LLMSettings()  # the defaults live on the dataclass, once
    for key in _SETTINGS:
        values.setdefault(key, getattr(builtin, key))
    models = dict(BUILTIN_MODELS)
    models.update(_file_models(data, path))
    settings = LLMSettings(
        models=models,
        default=str(values["default"]),
        cloud=str(values["cloud"]),
        use_cloud=_bool(values["use_cloud"], f"{where}: use_cloud"),
        min_confidence=_number(values["min_confidence"], f"{where}: min_confidence"),
        max_cost_usd=_number(values["max_cost_usd"], "max_cost_usd"),
        retries=_number(values["retries"], "retries", int),
        origin=origin,
        home=str(Path(home).expanduser()),
    )
    if settings.min_confidence > 1:
        raise SpecqlError(f"{where}: min_confidence must be at most 1")
    settings.model()  # an unknown default is an error now, not at the first call
    return settings


def save_default(ref: str, home: str | Path) -> Path:
    """Make ``ref`` the default model in the config file (other settings kept); the file is
    replaced atomically, so a crash leaves the old one. ``ref`` must resolve."""
    path = config_path(home)
    data = _read_file(path)
    resolve_model(load_settings(home, env={}), ref)
    data["default"] = ref
    return write_text_atomic(path, yaml.safe_dump(data, sort_keys=False))


__all__ = [
    "BUILTIN_MODELS",
    "CONFIG_FILE",
    "ENV_MODEL",
    "LLMSettings",
    "config_path",
    "load_settings",
    "resolve_model",
    "save_default",
]
