"""A partial settings update (POST /api/config): parsed, merged into the config file's
mapping, validated as at start-up, and sorted into applied, restart-required and overridden."""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.arrs import ArrConfigError, parse_arrs
from core.errors import ConfigFileError, InvalidInput
from core.hooks import MASK as HOOK_MASK
from core.schema import (
    BY_KEY,
    DEFAULT_PROVIDERS,
    LIVE_KEYS,
    PROVIDER_BY_KEY,
    PROVIDER_SETTINGS,
    SETTINGS,
    Setting,
)
from core.settings import (
    ENV_PREFIX,
    Settings,
    SettingsError,
    convert_value,
    settings_from_mapping,
)

MASK = "********"          # GET's stand-in for a secret that is set; posted back: keep it
PROVIDERS = "providers"
CATEGORIES = "categories"
ARRS = "arrs"
REQUEST = "the request"
UPDATED = "the updated config"
SECTIONS = frozenset(s.key.split(".", 1)[0] for s in SETTINGS)


def _keys_by_name() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for setting in SETTINGS:
        found.setdefault(setting.key.split(".", 1)[1], []).append(setting.key)
    return {name: tuple(keys) for name, keys in found.items()}


BY_NAME = _keys_by_name()     # "log_level" -> ("server.log_level",); "port" -> two keys


@dataclass(frozen=True)
class Update:
    """What a request asks to change: dotted keys to raw JSON values, and maybe the whole
    providers list."""

    values: dict[str, Any]
    providers: list[Any] | None
    categories: dict[str, Any] | None = None
    arrs: list[Any] | None = None


@dataclass(frozen=True)
class ConfigPlan:
    """A validated update: the config file's new mapping, the settings it gives (environment
    overrides included), and where each changed key stands. Every changed key is in exactly
    one of applied (running now), restart_required, overridden_by_environment."""

    data: dict[str, Any]
    settings: Settings
    changed: tuple[str, ...]
    applied: tuple[str, ...]
    restart_required: tuple[str, ...]
    overridden_by_environment: tuple[str, ...]

    def answer(self) -> dict[str, list[str]]:
        return {"changed": list(self.changed), "applied": list(self.applied),
                "restart_required": list(self.restart_required),
                "overridden_by_environment": list(self.overridden_by_environment)}


def masked_config(settings: Settings) -> dict[str, Any]:
    """The settings shaped like config.json, every secret masked ("" when it is empty, so
    'not set' still shows); providers as configured, not as start-up resolved them."""
    tree: dict[str, Any] = {}
    for setting in SETTINGS:
        section, name = setting.key.split(".", 1)
        tree.setdefault(section, {})[name] = _masked(setting, settings[setting.key])
    tree[PROVIDERS] = [{s.key: _masked(s, getattr(p, s.key)) for s in PROVIDER_SETTINGS}
                       for p in settings.configured_providers]
    tree[CATEGORIES] = {name: {"providers": list(c.providers)}
                        for name, c in settings.categories.items()}
    tree[ARRS] = [{**arr.shown(), "api_key": MASK if arr.api_key else ""}
                  for arr in settings.arrs]
    return tree


def _masked(setting: Setting, value: Any) -> Any:
    if setting.mask is not None:       # objects holding secrets (hooks.on_complete)
        return setting.mask(list(value) if isinstance(value, tuple) else value)
    if isinstance(value, list | tuple):
        value = list(value)
        return [MASK for _ in value] if setting.secret else value
    if not setting.secret:
        return value
    return MASK if value else ""


def _shown(name: str) -> str:
    """A key as an error names it (a key of any length may be posted)."""
    return repr(name if len(name) <= 80 else name[:60] + "...")


def _unknown(name: str) -> InvalidInput:
    close = difflib.get_close_matches(name, [*BY_KEY, *BY_NAME], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return InvalidInput(f"unknown setting {_shown(name)}{hint}")


def parse_update(body: object) -> Update:
    """Read the three forms a request may use, mixed: config.json's nested sections
    ({"server": {"log_level": "debug"}}), dotted keys ({"server.log_level": "debug"}) and a
    bare name that names one setting ({"log_level": "debug"}, Decypharr's example)."""
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object of settings, e.g. '
                           '{"server.log_level": "debug"}')
    values: dict[str, Any] = {}
    providers: list[Any] | None = None
    categories: dict[str, Any] | None = None
    arrs: list[Any] | None = None

    def put(key: str, value: Any) -> None:
        if key in values:
            raise InvalidInput(f"{key!r} is given twice")
        values[key] = value

    for name, value in body.items():
        if name == PROVIDERS:
            if not isinstance(value, list):
                raise InvalidInput("invalid value for 'providers': must be a list of "
                                   "provider objects (it replaces the whole list)")
            providers = value
        elif name == CATEGORIES:
            if not isinstance(value, dict):
                raise InvalidInput("invalid value for 'categories': must be an object keyed "
                                   "by category name (it replaces the whole mapping)")
            categories = value
        elif name == ARRS:
            if not isinstance(value, list):
                raise InvalidInput("invalid value for 'arrs': must be a list of Arr objects "
                                   "(it replaces the whole list)")
            arrs = value
        elif name in SECTIONS:
            if not isinstance(value, dict):
                bare = f" (the setting named {name!r} is {BY_NAME[name][0]!r})" \
                    if name in BY_NAME else ""
                raise InvalidInput(f"{name!r} is a section: send an object of its settings, "
                                   f"or name a setting as '{name}.<key>'{bare}")
            for sub, sub_value in value.items():
                key = f"{name}.{sub}"
                if key not in BY_KEY:
                    raise _unknown(key)
                put(key, sub_value)
        elif "." in name:
            if name not in BY_KEY:
                raise _unknown(name)
            put(name, value)
        else:
            keys = BY_NAME.get(name, ())
            if not keys:
                raise _unknown(name)
            if len(keys) > 1:
                raise InvalidInput(f"{_shown(name)} is ambiguous: it names "
                                   f"{' and '.join(keys)}; give the whole key")
            put(keys[0], value)
    return Update(values, providers, categories, arrs)


def _checked(setting: Setting, raw: Any, key: str, source: str = REQUEST) -> Any:
    try:
        return convert_value(setting, raw, key, source)
    except SettingsError as exc:
        raise InvalidInput(str(exc)) from None


def _normal(setting: Setting, raw: Any) -> Any:
    """A value as the file holds it, converted, so 5 and 5.0 compare equal; an invalid one
    as it is (it differs from any valid new value)."""
    try:
        return convert_value(setting, raw, setting.key, "the config file")
    except SettingsError:
        return raw


def _unmasked(setting: Setting, raw: Any, old: Any, key: str) -> Any:
    """A posted secret with the mask in place of a value (or of list entries) keeps the
    value it stands for."""
    if setting.mask is not None:
        return _unmasked_objects(setting, raw, old, key)
    if not setting.secret:
        return raw
    if raw == MASK:
        return old
    if isinstance(raw, list) and MASK in raw:
        kept = old if isinstance(old, list) else []
        if any(v == MASK for v in raw[len(kept):]):
            raise InvalidInput(f"{key!r} holds more masked entries than it has values")
        return [kept[i] if v == MASK else v for i, v in enumerate(raw)]
    return raw


def _unmasked_objects(setting: Setting, raw: Any, old: Any, key: str) -> Any:
    """Entries posted back as GET showed them (their secrets masked) are the configured
    entries they show; any other entry is taken as posted."""
    if not isinstance(raw, list) or setting.mask is None:
        return raw
    configured = list(old) if isinstance(old, list | tuple) else []
    shown = setting.mask(configured)
    entries = []
    for entry in raw:
        if entry in shown:
            entries.append(configured[shown.index(entry)])
        elif HOOK_MASK in json.dumps(entry):
            raise InvalidInput(f"{key!r}: an entry with a masked secret matches no configured "
                               "entry; post its secrets in full")
        else:
            entries.append(entry)
    return entries


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    body = data.get(name, {})
    if not isinstance(body, Mapping):
        raise ConfigFileError(f"the config file's {name!r} is not an object: fix the file")
    return body


def _file_providers(data: Mapping[str, Any]) -> list[Any]:
    found = data.get(PROVIDERS)
    return list(found) if isinstance(found, list) else [dict(p) for p in DEFAULT_PROVIDERS]


def _posted_providers(posted: list[Any], data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The posted list checked field by field; a masked secret keeps the one of the
    configured provider of the same name (so entries may be reordered)."""
    by_name: dict[str, Mapping[str, Any]] = {}
    for configured in _file_providers(data):
        if isinstance(configured, Mapping) and isinstance(configured.get("name"), str):
            by_name.setdefault(configured["name"], configured)
    result = []
    for index, item in enumerate(posted):
        where = f"providers[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"invalid value for {where!r}: must be an object")
        name = item.get("name")
        old_entry = by_name.get(name) if isinstance(name, str) else None
        entry: dict[str, Any] = {}
        for field, raw in item.items():
            setting = PROVIDER_BY_KEY.get(field)
            key = f"{where}.{field}"
            if setting is None:
                raise _unknown(key)
            if setting.secret and MASK in (raw if isinstance(raw, list) else [raw]) \
                    and old_entry is None:
                raise InvalidInput(f"{key!r} is the mask {MASK!r}, but no configured "
                                   f"provider is named {name!r}: give the value itself")
            old = old_entry.get(field, setting.default) if old_entry is not None else None
            entry[field] = _checked(setting, _unmasked(setting, raw, old, key), key)
        result.append(entry)
    return result


def _normal_providers(entries: list[Any]) -> list[Any]:
    return [{**e, **{s.key: _normal(s, e.get(s.key, s.default)) for s in PROVIDER_SETTINGS}}
            if isinstance(e, Mapping) else e for e in entries]


def environment_keys(environ: Mapping[str, str]) -> set[str]:
    """The keys DEBRIDGE__ variables set (any provider field counts as 'providers')."""
    keys = set()
    for var in environ:
        if var.startswith(ENV_PREFIX):
            parts = var[len(ENV_PREFIX):].lower().split("__")
            keys.add(PROVIDERS if parts[0] == PROVIDERS else ".".join(parts))
    return keys


def _validated(new: Mapping[str, Any], data: Mapping[str, Any], running: Settings,
               environ: Mapping[str, str]) -> Settings:
    try:
        return settings_from_mapping(new, source=UPDATED, base_dir=running.base_dir,
                                     environ=environ)
    except SettingsError as exc:
        problem = str(exc)
    try:      # is it the change, or was the file broken before it?
        settings_from_mapping(data, source="the config file", base_dir=running.base_dir,
                              environ=environ)
    except SettingsError as exc:
        raise ConfigFileError(f"the config file is not valid now ({exc}); fix it, then "
                              f"try again") from None
    raise InvalidInput(problem)


def _posted_arrs(posted: list[Any], data: Mapping[str, Any]) -> list[Any]:
    """The posted `arrs`, a masked key standing for the file's key of the same name."""
    keys = {a["name"]: a.get("api_key") for a in data.get(ARRS, []) or []
            if isinstance(a, Mapping) and isinstance(a.get("name"), str)}
    entries = []
    for entry in posted:
        if isinstance(entry, Mapping) and entry.get("api_key") == MASK:
            name = entry.get("name")
            entry = {**entry, "api_key": keys.get(name, "") if isinstance(name, str) else ""}
        entries.append(entry)
    return entries


def _normal_arrs(entries: Any) -> Any:
    """`arrs` as the settings read it (defaults filled in), to tell a real change from the
    same list posted back; as it is when it does not parse (validation says why)."""
    try:
        return parse_arrs(entries)
    except ArrConfigError:
        return entries


def plan_update(update: Update, data: Mapping[str, Any], running: Settings,
                environ: Mapping[str, str]) -> ConfigPlan:
    """Merge `update` into the config file's mapping `data` and validate the result with
    the environment overrides, as a restart would; InvalidInput names the offending key."""
    new = copy.deepcopy(dict(data))
    changed: list[str] = []
    for key, raw in update.values.items():
        setting = BY_KEY[key]
        section, name = key.split(".", 1)
        old = _section(data, section).get(name, setting.default)
        value = _checked(setting, _unmasked(setting, raw, old, key), key)
        if _normal(setting, old) != value:
            changed.append(key)
            new.setdefault(section, {})[name] = value
    if update.providers is not None:
        entries = _posted_providers(update.providers, data)
        if _normal_providers(_file_providers(data)) != _normal_providers(entries):
            changed.append(PROVIDERS)
            new[PROVIDERS] = entries
    if update.categories is not None and update.categories != data.get(CATEGORIES, {}):
        changed.append(CATEGORIES)
        new[CATEGORIES] = update.categories
    if update.arrs is not None:
        entries = _posted_arrs(update.arrs, data)
        if _normal_arrs(entries) != _normal_arrs(data.get(ARRS, [])):
            changed.append(ARRS)
            new[ARRS] = entries
    settings = _validated(new, data, running, environ)

    from_env = environment_keys(environ)
    applied, restart, overridden = [], [], []
    for key in changed:
        if key == PROVIDERS:
            running_now = settings.providers == running.configured_providers
            live = False
        elif key == CATEGORIES:
            running_now = dict(settings.categories) == dict(running.categories)
            live = False
        elif key == ARRS:
            running_now = settings.arrs == running.arrs
            live = False
        else:
            running_now = settings[key] == running[key]
            live = key in LIVE_KEYS
        if key in from_env and running_now:
            overridden.append(key)          # the file changed; what runs cannot
        elif live or running_now:
            applied.append(key)
        else:
            restart.append(key)
    return ConfigPlan(new, settings, tuple(sorted(changed)), tuple(sorted(applied)),
                      tuple(sorted(restart)), tuple(sorted(overridden)))
