"""The settings schema, declared once: every setting's type, default and meaning.

``settings.json`` carries a format version; ``_MIGRATIONS`` upgrades older
files step by step, so a renamed or removed setting never breaks a user's
file. Values that fail validation fall back to the default with a logged
warning instead of stopping the app.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from app import paths
from app.errors import HearthError

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1


def _bounded(check: Callable[[Any], bool], lo, hi) -> Callable[[Any], bool]:
    check.bounds = (lo, hi)  # type: ignore[attr-defined]
    return check


def _auto_or_int(minimum: int, maximum: int) -> Callable[[Any], bool]:
    return _bounded(lambda v: v == "auto" or (isinstance(v, int) and not isinstance(v, bool)
                                              and minimum <= v <= maximum), minimum, maximum)


def _int_in(lo: int, hi: int) -> Callable[[Any], bool]:
    return _bounded(lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi, lo, hi)


def _float_in(lo: float, hi: float) -> Callable[[Any], bool]:
    return _bounded(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi, lo, hi)


def _optional_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _decimal_in(lo: float, hi: float) -> Callable[[Any], bool]:
    """A number written as a string (prices are exact decimals), within bounds."""
    from decimal import Decimal, InvalidOperation

    def valid(v: Any) -> bool:
        if not isinstance(v, str) or len(v) > 40:
            return False
        try:
            number = Decimal(v)
        except InvalidOperation:
            return False
        return number.is_finite() and Decimal(str(lo)) <= number <= Decimal(str(hi))
    return _bounded(valid, lo, hi)


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    valid: Callable[[Any], bool]
    description: str
    label: str = ""  # how widgets name it

    @property
    def bounds(self) -> tuple[float, float] | None:
        """(lowest, highest) accepted for a number setting: widgets offer exactly this range."""
        return getattr(self.valid, "bounds", None)


SCHEMA: tuple[Setting, ...] = (
    Setting("default_model", None, _optional_str,
            "Model id used when none is given; unset means the best installed chat model (the starter model on a fresh install)."),
    Setting("context_length", 4096, _int_in(256, 1 << 20),
            "Context window in tokens for newly loaded models (capped at what the model was trained for).",
            "Context length"),
    Setting("gpu_layers", "auto", _auto_or_int(-1, 1000),
            "Layers offloaded to the GPU: 'auto' offloads as many as fit, 0 runs on the CPU, -1 offloads all.",
            "GPU layers (auto, 0 = CPU, -1 = all)"),
    Setting("threads", "auto", _auto_or_int(1, 512),
            "CPU threads for generating tokens; 'auto' uses the cores other programs leave free, checked "
            "before and during every reply (see app/engine/threads.py).",
            "Generation threads"),
    Setting("batch_threads", "auto", _auto_or_int(1, 512),
            "CPU threads for reading the prompt; 'auto' uses every physical core.", "Prompt threads"),
    Setting("batch_size", 512, _int_in(16, 8192),
            "Tokens evaluated per step while reading the prompt.", "Batch size"),
    Setting("flash_attention", "auto", lambda v: v == "auto" or isinstance(v, bool),
            "Flash attention: 'auto' turns it on when layers run on a GPU and off on the CPU, where it "
            "measured 1.7x slower reading a new turn after a long history (scripts/bench_engine.py --flash).",
            "Flash attention"),
    Setting("prompt_lookup", True, _bool,
            "Guess the next tokens from earlier text in the conversation and check the guesses in one "
            "batch: the same reply, faster when it repeats code or text it was given "
            "(scripts/bench_engine.py measures it).", "Prompt-lookup drafts (faster code edits)"),
    Setting("temperature", 0.7, _float_in(0.0, 5.0), "Sampling temperature; 0 always picks the likeliest token.",
            "Temperature"),
    Setting("top_p", 0.95, _float_in(0.0, 1.0), "Nucleus sampling cut-off.", "Top-p"),
    Setting("top_k", 40, _int_in(0, 100_000), "Sample among the k likeliest tokens; 0 disables the cut.", "Top-k"),
    Setting("min_p", 0.05, _float_in(0.0, 1.0), "Drop tokens less likely than this fraction of the likeliest.",
            "Min-p"),
    Setting("repeat_penalty", 1.1, _float_in(0.0, 5.0),
            "Penalty on repeating recent tokens; 1.0 disables it. 1.1 (LM Studio's and Ollama's default) keeps "
            "small models such as the starter from looping.", "Repeat penalty"),
    Setting("max_tokens", 1024, _int_in(1, 1 << 20), "Longest reply in tokens.", "Max reply tokens"),
    Setting("offline", False, _bool, "Never touch the network, whatever a feature asks.",
            "Offline mode: never use the network"),
    Setting("embedding_model", "auto", lambda v: isinstance(v, str) and bool(v),
            "Model id (or path) that embeds documents; 'auto' picks an installed embedding model, "
            "else the starter model (it can embed, poorly)."),
    Setting("docs_passages", 5, _int_in(1, 50), "Passages from your documents given to the model per question."),
    Setting("comparison_model", "gpt-4o", lambda v: isinstance(v, str) and bool(v),
            "The paid API model the cost-avoided tally compares against (an id in the price table)."),
    Setting("electricity_usd_per_kwh", "0.17", _decimal_in(0, 10),
            "Electricity price in USD per kWh (US residential average is about 0.17)."),
    Setting("device_watts", "auto", lambda v: v == "auto" or _decimal_in(0, 5000)(v),
            "Power drawn while a model runs, used where the CPU's energy counter cannot be read; "
            "'auto' picks 30 W for a laptop, 65 W for a desktop, 200 W with GPU offload."),
)
_BY_NAME = {s.name: s for s in SCHEMA}


def setting(name: str) -> Setting:
    """A setting's schema entry (range, label, description), for widgets and the CLI."""
    return _BY_NAME[name]


def check_value(name: str, value: Any) -> None:
    """Raise a readable ``HearthError`` unless ``value`` is acceptable for the setting ``name``."""
    entry = _BY_NAME.get(name)
    if entry is None:
        raise HearthError(f"unknown setting {name!r}")
    if not entry.valid(value):
        raise HearthError(f"invalid value {value!r} for {name}: {entry.description}")


# Each function upgrades a settings dict from version N to N + 1.
_MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


class Settings:
    """Typed access to the settings; ``save()`` writes them atomically.

    ``reset``: the settings of the file that were not valid and now have their
    defaults; ``note`` says so in one line (the window shows it, the CLI prints it)."""

    def __init__(self, values: dict | None = None, path: Path | None = None):
        self._path = path
        self._values = {s.name: s.default for s in SCHEMA}
        self.__dict__["reset"] = []
        self.__dict__["note"] = None
        for name, value in (values or {}).items():
            try:
                check_value(name, value)
            except HearthError as exc:  # a damaged file: keep the default, say so
                log.warning("%s; using the default", exc)
                self.reset.append(str(name)[:60])
                continue
            self._values[name] = value

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(name)

    def set(self, name: str, value: Any) -> None:
        self.update({name: value})

    def update(self, values: dict) -> None:
        """Set several settings at once (all checked first: a bad value changes nothing), then
        tell every subscriber which ones changed, in one ``changed`` notification."""
        for name, value in values.items():
            check_value(name, value)
        changed = {name for name, value in values.items() if self._values[name] != value}
        for name in changed:
            self._values[name] = values[name]
        if changed:
            for listener in list(self.__dict__.get("_listeners", ())):
                listener(frozenset(changed))

    def subscribe(self, listener: Callable[[frozenset], None]) -> None:
        """``listener(names)`` hears every change, on the thread that made it. Snapshots
        (``copy()``) have no listeners: they are for other threads, which only read."""
        self.__dict__.setdefault("_listeners", []).append(listener)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self._values == other._values

    __hash__ = None  # mutable

    def as_dict(self) -> dict:
        return dict(self._values)

    def copy(self) -> "Settings":
        """A snapshot to hand to another thread (same file to save to)."""
        return Settings(self.as_dict(), path=self._path)

    def save(self) -> None:
        path = self._path or paths.settings_file()
        data = {"version": SETTINGS_VERSION, "settings": self._values}
        write_json_atomic(path, data)


def load_settings(path: Path | None = None) -> Settings:
    """The settings file, repaired: a setting that is not valid gets its default, the file as it
    was is kept beside it (``settings.json.broken``) and the note says which were reset."""
    path = path or paths.settings_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings(path=path)
    except OSError as exc:
        settings = Settings(path=path)
        settings.__dict__["note"] = f"settings: {path} cannot be read ({exc.strerror or exc}); using the defaults"
        return settings
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raw, problem = None, f"not valid JSON ({str(exc)[:80]})"
    else:
        problem = None if isinstance(raw, dict) else "not a JSON object"
    version = raw.get("version", 1) if isinstance(raw, dict) else None
    if problem is None and not (isinstance(version, int) and not isinstance(version, bool) and version >= 1):
        problem = f"unknown format version {str(version)[:20]}"
    if problem is not None:
        settings = Settings(path=path)
        settings.__dict__["note"] = f"settings: {path.name} is {problem}; all settings are back to their defaults"
        _keep_broken(path, settings)
        return settings
    values = raw.get("settings", {}) if isinstance(raw.get("settings"), dict) else {}
    while version < SETTINGS_VERSION:
        values = _MIGRATIONS[version](values)
        version += 1
    settings = Settings(values, path=path)
    if settings.reset:
        shown = ", ".join(settings.reset[:6]) + (" and others" if len(settings.reset) > 6 else "")
        settings.__dict__["note"] = f"settings: {shown} were not valid (out of range, or unknown) and are back to their defaults"
        _keep_broken(path, settings)
    return settings


def _keep_broken(path: Path, settings: Settings) -> None:
    """Keep the damaged file for the user, and write the repaired one so the note is said once."""
    backup = path.with_suffix(".json.broken")
    try:
        os.replace(path, backup)
        settings.save()
    except OSError as exc:
        log.warning("could not keep %s as %s: %s", path, backup, exc)
        return
    settings.__dict__["note"] += f" (the old file is kept as {backup.name})"
    log.warning(settings.note)


def read_json_rows(path: Path, key: str) -> list[dict]:
    """The list of objects under ``key`` in a versioned JSON file; [] if absent or unreadable
    (logged, never raised: a damaged data file must not stop the app)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("%s unreadable: %s", path, exc)
        return []
    rows = data.get(key, []) if isinstance(data, dict) else []
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a crash leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
