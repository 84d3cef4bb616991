"""Load settings from config.json and DEBRIDGE__ environment variables, validated by the schema."""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.arrs import ArrConfigError, ArrSettings, parse_arrs
from core.naming import category_is_valid
from core.provider_kinds import KINDS
from core.schema import (
    BY_KEY,
    DEFAULT_PROVIDERS,
    PROVIDER_BY_KEY,
    PROVIDER_SETTINGS,
    SETTINGS,
    Setting,
)

ENV_PREFIX = "DEBRIDGE__"
CONFIG_ENV = "DEBRIDGE_CONFIG"


class SettingsError(Exception):
    """A setting is unknown or invalid; the message names the key and where it came from."""


@dataclass(frozen=True)
class ProviderSettings:
    """One entry of `providers`: a field per PROVIDER_SETTINGS key, whose defaults are the
    schema's (filled in by settings_from_mapping), so none here."""

    name: str
    type: str
    api_key: str
    base_url: str
    timeout_seconds: float
    rate_limit_per_minute: int
    download_uncached: bool
    keep_on_delete: bool
    download_api_keys: tuple[str, ...]
    create_limit: int
    create_window_seconds: float
    allow_renew: bool


@dataclass(frozen=True)
class CategorySettings:
    """One entry of `categories`, keyed by category name: the provider accounts its adds
    may use, in order (empty: every account, in the order of `providers`)."""

    providers: tuple[str, ...] = ()


CATEGORY_KEYS = ("providers",)


class Settings(Mapping[str, Any]):
    """Validated settings, read by dotted key (`settings["server.port"]`); never mutated.
    `configured_providers` are the providers as configured, before start-up filled in
    runtime values (a built-in sandbox's address): what GET /api/config shows."""

    def __init__(self, values: dict[str, Any], providers: tuple[ProviderSettings, ...],
                 source: str, base_dir: Path,
                 configured_providers: tuple[ProviderSettings, ...] | None = None,
                 categories: Mapping[str, CategorySettings] | None = None,
                 arrs: tuple[ArrSettings, ...] = ()) -> None:
        self._values = dict(values)
        self.providers = providers
        self.categories: Mapping[str, CategorySettings] = dict(categories or {})
        self.arrs = arrs
        self.source = source
        self.base_dir = base_dir
        self.configured_providers = providers if configured_providers is None \
            else configured_providers

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def path(self, key: str) -> Path:
        """A path setting resolved against the config file's directory."""
        return (self.base_dir / str(self._values[key])).resolve()

    @property
    def data_dir(self) -> Path:
        return self.path("server.data_dir")

    @property
    def downloads_folder(self) -> Path:
        if self._values["downloads.folder"]:
            return self.path("downloads.folder")
        return self.data_dir / "downloads"

    @property
    def mount_path(self) -> Path | None:
        return self.path("downloads.mount_path") if self._values["downloads.mount_path"] else None

    def with_providers(self, providers: tuple[ProviderSettings, ...]) -> Settings:
        return Settings(self._values, providers, self.source, self.base_dir,
                        self.configured_providers, self.categories, self.arrs)

    def with_values(self, changes: Mapping[str, Any]) -> Settings:
        """A copy with some (already validated) values changed: a live update."""
        return Settings({**self._values, **changes}, self.providers, self.source,
                        self.base_dir, self.configured_providers, self.categories, self.arrs)

    def redacted(self) -> dict[str, Any]:
        """Every value, secrets (the schema's `secret` keys) masked: safe to log or return
        from an API."""
        out = {k: _masked(BY_KEY[k], v) for k, v in self._values.items()}
        out["providers"] = [{s.key: _masked(s, getattr(p, s.key)) for s in PROVIDER_SETTINGS}
                            for p in self.providers]
        if self.categories:
            out["categories"] = {name: {"providers": list(c.providers)}
                                 for name, c in self.categories.items()}
        if self.arrs:
            out["arrs"] = [arr.shown() for arr in self.arrs]
        return out


def _masked(setting: Setting, value: Any) -> Any:
    """A secret shown as '***' (a list: one per entry, so its length still shows); an empty
    one stays empty, so that 'not set' can still be told apart."""
    if setting.mask is not None:
        return setting.mask(value)
    if not setting.secret:
        return value
    if setting.kind == "list":
        return ["***" for _ in value]
    return "***" if value else value


def _convert(setting: Setting, raw: Any, key: str, source: str, *,
             from_text: bool = False) -> Any:
    """Convert and validate one value; `from_text` (an environment variable) is parsed by
    the setting's kind."""
    value = raw
    from_text = from_text and isinstance(raw, str)

    def fail(why: str) -> SettingsError:
        # a secret's value is never repeated (errors reach logs and API answers)
        if setting.mask is not None:
            # what was parsed, masked; text that did not parse may hold secrets anywhere
            masked = setting.mask(value) if isinstance(value, list) else "(text not shown)"
            return SettingsError(f"invalid value for {key!r} in {source}: {why} "
                                 f"(got {masked!r})")
        try:
            shown = repr(raw)
        except ValueError:   # an integer beyond Python's digit limit for str()
            shown = "a number too long to show"
        got = "" if setting.secret else \
            f" (got {shown if len(shown) <= 120 else shown[:100] + '...'})"
        return SettingsError(f"invalid value for {key!r} in {source}: {why}{got}")

    if setting.kind == "bool":
        if from_text and raw.lower() in ("true", "1", "yes", "false", "0", "no"):
            value = raw.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise fail("must be true or false")
    elif setting.kind in ("int", "float"):
        if from_text:
            try:
                value = int(raw) if setting.kind == "int" else float(raw)
            except ValueError:
                raise fail(f"must be {'an integer' if setting.kind == 'int' else 'a number'}") \
                    from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f"must be {'an integer' if setting.kind == 'int' else 'a number'}")
        if setting.kind == "int" and not isinstance(value, int):
            if not float(value).is_integer():
                raise fail("must be an integer")
            value = int(value)
        if setting.kind == "float":
            try:
                value = float(value)
            except OverflowError:          # an integer too large for a float
                raise fail("must be a finite number") from None
            if not math.isfinite(value):   # JSON's NaN and Infinity pass every bound
                raise fail("must be a finite number")
        if setting.minimum is not None and value < setting.minimum:
            raise fail(f"must be at least {setting.minimum:g}")
        if setting.maximum is not None and value > setting.maximum:
            raise fail(f"must be at most {setting.maximum:g}")
    elif setting.kind == "list":
        if from_text:
            value = _list_from_text(raw)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail("must be a list of strings")
        if any("\x00" in v or not v for v in value):
            raise fail("must not hold empty strings or NUL")
        value = list(value)
    elif setting.kind == "objects":
        if from_text:
            value = _list_from_text(raw) if raw.strip().startswith("[") else None
        if not isinstance(value, list):
            raise fail("must be a list of objects")
        bad = next((i for i, v in enumerate(value) if not isinstance(v, dict)), None)
        if bad is not None:
            raise fail(f"entry {bad} must be an object")
        value = copy.deepcopy(value)       # Settings are never changed: nor what they hold
    else:
        if not isinstance(value, str):
            raise fail("must be a string")
        if "\x00" in value:
            raise fail("must not contain NUL")
        if setting.kind == "choice" and value not in setting.choices:
            raise fail("must be one of " + ", ".join(setting.choices))
    if setting.check is not None:
        problem = setting.check(value)
        if problem:
            raise fail(problem)
    return value


def convert_value(setting: Setting, raw: Any, key: str, source: str) -> Any:
    """One value (as JSON gives it) converted and validated by its setting, or SettingsError
    naming `key` and `source`."""
    return _convert(setting, raw, key, source)


def _list_from_text(raw: str) -> Any:
    """An environment list: a JSON array, or comma-separated values."""
    text = raw.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _flatten(data: Mapping[str, Any], source: str) -> tuple[dict[str, Any], list[Any] | None]:
    if not isinstance(data, Mapping):
        raise SettingsError(f"{source}: the top level must be a JSON object")
    sections = {s.key.split(".")[0] for s in SETTINGS}
    flat: dict[str, Any] = {}
    providers = None
    for section, body in data.items():
        if section in ("categories", "arrs"):
            continue                # validated on their own
        if section == "providers":
            if not isinstance(body, list):
                raise SettingsError(f"invalid value for 'providers' in {source}: must be a list")
            providers = body
            continue
        if section not in sections:
            raise SettingsError(f"unknown key {section!r} in {source}")
        if not isinstance(body, Mapping):
            raise SettingsError(f"invalid value for {section!r} in {source}: must be an object")
        for name, value in body.items():
            key = f"{section}.{name}"
            if key not in BY_KEY:
                raise SettingsError(f"unknown key {key!r} in {source}")
            flat[key] = value
    return flat, providers


def _apply_env(flat: dict[str, Any], providers: list[dict[str, Any]],
               environ: Mapping[str, str]) -> dict[str, str]:
    """Apply DEBRIDGE__ variables; returns which variable set each key (for error messages)."""
    sources: dict[str, str] = {}
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX):
            continue
        parts = var[len(ENV_PREFIX):].lower().split("__")
        source = f"environment variable {var}"
        if parts[0] == "providers" and len(parts) == 3 and parts[1].isdigit():
            index = int(parts[1])
            if index > len(providers):
                raise SettingsError(f"{source}: providers index {index} skips entries")
            if index == len(providers):
                providers.append({})
            if parts[2] not in PROVIDER_BY_KEY:
                raise SettingsError(f"unknown key 'providers[{index}].{parts[2]}' in {source}")
            providers[index][parts[2]] = environ[var]
            sources[f"providers[{index}].{parts[2]}"] = source
            continue
        key = ".".join(parts)
        if len(parts) != 2 or key not in BY_KEY:
            raise SettingsError(f"unknown key {key!r} in {source}")
        flat[key] = environ[var]
        sources[key] = source
    return sources


def _providers(raw: list[Any], source: str, env_sources: Mapping[str, str],
               file_entries: int) -> tuple[ProviderSettings, ...]:
    """The provider entries; the first `file_entries` come from the config file."""
    result = []
    for index, item in enumerate(raw):
        where = f"providers[{index}]"
        if not isinstance(item, Mapping):
            raise SettingsError(f"invalid value for {where!r} in {source}: must be an object")
        # an entry that only environment variables made is theirs to complete
        mine = [v for k, v in env_sources.items() if k.startswith(f"{where}.")]
        entry_source = source if index < file_entries or not mine else \
            f"environment variables {ENV_PREFIX}PROVIDERS__{index}__*"
        values: dict[str, Any] = {}
        for setting in PROVIDER_SETTINGS:
            key = f"{where}.{setting.key}"
            if setting.key not in item:
                if setting.key in ("name", "type"):
                    raise SettingsError(f"missing key {key!r} in {entry_source}")
                values[setting.key] = setting.default
                if setting.default_from_kind:
                    declared = KINDS.get(values["type"])
                    values[setting.key] = getattr(declared, setting.key, setting.default)
                continue
            values[setting.key] = _convert(setting, item[setting.key], key,
                                           env_sources.get(key, source),
                                           from_text=key in env_sources)
        for name in item:
            if name not in PROVIDER_BY_KEY:
                raise SettingsError(f"unknown key '{where}.{name}' in {source}")
        kind = KINDS.get(values["type"])
        if kind is not None and kind.needs_key and not values["api_key"]:
            raise SettingsError(
                f"missing value for '{where}.api_key': {where}.type is {values['type']!r} (in "
                f"{env_sources.get(f'{where}.type', source)}), which needs its API key")
        values["download_api_keys"] = tuple(values["download_api_keys"])
        result.append(ProviderSettings(**values))
    names = [p.name for p in result]
    for index, name in enumerate(names):
        if names.count(name) > 1:
            key = f"providers[{max(i for i, n in enumerate(names) if n == name)}].name"
            raise SettingsError(f"duplicate provider name {name!r} (providers[{index}] and "
                                f"{key}, in {env_sources.get(key, source)})")
    return tuple(result)


def settings_from_mapping(data: Mapping[str, Any], *, source: str = "<settings>",
                          base_dir: Path | None = None,
                          environ: Mapping[str, str] | None = None) -> Settings:
    """Validate a nested mapping (the shape of config.json) plus environment overrides."""
    flat, raw_providers = _flatten(data, source)
    providers = [dict(p) if isinstance(p, Mapping) else p for p in
                 (raw_providers if raw_providers is not None else DEFAULT_PROVIDERS)]
    env_flat: dict[str, Any] = {}
    env_sources = _apply_env(env_flat, providers, environ or {})
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.key in env_flat:
            values[setting.key] = _convert(setting, env_flat[setting.key], setting.key,
                                           env_sources[setting.key], from_text=True)
        elif setting.key in flat:
            values[setting.key] = _convert(setting, flat[setting.key], setting.key, source)
        else:
            values[setting.key] = setting.default
    file_entries = len(raw_providers) if raw_providers is not None else len(DEFAULT_PROVIDERS)
    provider_settings = _providers(providers, source, env_sources, file_entries)
    if not provider_settings:
        # No provider configured at all: the built-in sandbox stands in (logged at start-up).
        provider_settings = _providers([dict(p) for p in DEFAULT_PROVIDERS], source, {},
                                       len(DEFAULT_PROVIDERS))
    if values["downloads.action"] == "symlink" and not values["downloads.mount_path"]:
        raise SettingsError(
            "missing value for 'downloads.mount_path': downloads.action is 'symlink' (in "
            f"{env_sources.get('downloads.action', source)}), which links into the mount; set "
            f"it in {source} or {ENV_PREFIX}DOWNLOADS__MOUNT_PATH")
    categories = _categories(data.get("categories"), provider_settings, source)
    try:
        arrs = parse_arrs(data.get("arrs"))
    except ArrConfigError as exc:
        raise SettingsError(f"invalid value in {source}: {exc}") from None
    return Settings(values, provider_settings, source, base_dir or Path.cwd(),
                    categories=categories, arrs=arrs)


def _categories(raw: Any, providers: tuple[ProviderSettings, ...],
                source: str) -> dict[str, CategorySettings]:
    """`categories`: {name: {"providers": [account names]}}; each name must be an account."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SettingsError(f"invalid value for 'categories' in {source}: must be an object "
                            "keyed by category name")
    names = [p.name for p in providers]
    result: dict[str, CategorySettings] = {}
    for category, body in raw.items():
        where = f"categories.{category}"
        if not isinstance(category, str) or not category_is_valid(category.strip()):
            raise SettingsError(f"invalid category name {category!r} in 'categories' in "
                                f"{source}")
        category = category.strip()         # as the add routes take a category
        if not isinstance(body, Mapping):
            raise SettingsError(f"invalid value for {where!r} in {source}: must be an object")
        for key in body:
            if key not in CATEGORY_KEYS:
                raise SettingsError(f"unknown key '{where}.{key}' in {source}")
        pinned = body.get("providers", [])
        if not isinstance(pinned, list) or not all(isinstance(n, str) for n in pinned):
            raise SettingsError(f"invalid value for '{where}.providers' in {source}: must be "
                                "a list of provider names")
        unknown = [n for n in pinned if n not in names]
        if unknown:
            raise SettingsError(f"invalid value for '{where}.providers' in {source}: no "
                                f"provider named {', '.join(map(repr, unknown))} (providers: "
                                f"{', '.join(names)})")
        result[category] = CategorySettings(tuple(dict.fromkeys(pinned)))
    return result


def config_path(cli_path: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """Which config file to read: --config, else $DEBRIDGE_CONFIG, else ./config.json."""
    environ = os.environ if environ is None else environ
    return Path(cli_path or environ.get(CONFIG_ENV) or "config.json")


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate a config file plus DEBRIDGE__ environment overrides."""
    environ = os.environ if environ is None else environ
    source = str(path.resolve())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"config file not found: {source}") from None
    except OSError as exc:
        raise SettingsError(f"cannot read config file {source}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                            f"{exc.msg})") from None
    return settings_from_mapping(data, source=source, base_dir=path.resolve().parent,
                                 environ=environ)


def replace_provider(settings: Settings, name: str, **changes: Any) -> Settings:
    """A copy of `settings` with one provider's fields changed (e.g. a resolved base_url)."""
    providers = tuple(replace(p, **changes) if p.name == name else p for p in settings.providers)
    return settings.with_providers(providers)
