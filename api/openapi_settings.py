"""The settings' part of the OpenAPI document (GET and POST /api/config), made from the
settings schema (core/schema.py): a component per setting (`setting.<key>`, and
`provider.<key>` for a provider's), the mapping GET shows (Settings, ProviderShown,
ArrShown) and the update POST takes in its three forms (SettingsUpdate, ProviderUpdate,
ArrUpdate), so that the document names every setting, its type and its bounds as the server
checks them."""

from __future__ import annotations

import copy
from typing import Any

from core.arrs import ARR_KEYS, MAX_KEY, MAX_URL
from core.config_update import ARRS, BY_NAME, CATEGORIES, MASK, PROVIDERS, SECTIONS
from core.ports.arr import ArrKind
from core.provider_kinds import KINDS
from core.schema import PROVIDER_NAME, PROVIDER_SETTINGS, SETTINGS, Setting

REF = "#/components/schemas/"
NO_NUL = "^[^\\u0000]*$"
# What each `check` of core/schema.py asks, in JSON Schema's words (a string setting's own
# pattern also keeps NUL out, as the server does before its check). A setting whose check
# is missing here fails the document: a new check must be said here too.
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4_NETWORK = f"^{_OCTET}(?:\\.{_OCTET}){{3}}(?:/(?:3[0-2]|[12]?[0-9]))?$"
_IPV6_NETWORK = "^(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9])$"
CHECKS: dict[str, dict[str, Any]] = {
    "auth.username": {"pattern": "^[^\\s:\\u0000]{1,64}$"},
    # an address, or a network in CIDR form (the server also takes IPv6 networks written
    # short, and netmasks: this says the plain forms)
    "server.trusted_proxies": {"items": {"anyOf": [
        {"pattern": _IPV4_NETWORK}, {"format": "ipv6"}, {"pattern": _IPV6_NETWORK}]}},
    "selection.extensions": {"items": {"pattern": "^\\.[A-Za-z0-9]{1,10}$"}},
    # a regular expression in Python's syntax, which JSON Schema cannot check (its `regex`
    # format is ECMA 262's): said in words
    "selection.extra_patterns": {},
    "hooks.on_complete": {"items": {"$ref": REF + "CompletionHook"}},
    # qBittorrent's category rule (the add routes' `category` format), or empty
    "api.announce_category": {"anyOf": [{"const": ""}, {"format": "category"}]},
    "provider.name": {"pattern": PROVIDER_NAME.pattern},
    "provider.type": {},        # filled from the provider registry when the document is built
    "provider.base_url": {"pattern": "^(?:https?://[^\\s/\\u0000]+(?:/[^\\s\\u0000]*)?)?$"},
}
FORMATS = {"server.trusted_proxies": "an IP address or CIDR network (IPv4 or IPv6)",
           "selection.extra_patterns": "a regular expression (Python's syntax)"}


def _value(setting: Setting, name: str) -> dict[str, Any]:
    """What a setting takes, as JSON (a value POST takes; GET shows one, secrets masked)."""
    schema: dict[str, Any]
    if setting.kind == "bool":
        schema = {"type": "boolean"}
    elif setting.kind in ("int", "float"):
        schema = {"type": "integer" if setting.kind == "int" else "number"}
        if setting.minimum is not None:
            schema["minimum"] = setting.minimum
        if setting.maximum is not None:
            schema["maximum"] = setting.maximum
    elif setting.kind == "choice":
        schema = {"type": "string", "enum": list(setting.choices)}
    elif setting.kind == "list":
        schema = {"type": "array", "items": {"type": "string", "minLength": 1,
                                             "pattern": NO_NUL}}
    elif setting.kind == "objects":
        schema = {"type": "array", "items": {"type": "object"}}
    else:
        schema = {"type": "string", "pattern": NO_NUL}
    check = CHECKS.get(name)
    if setting.check is not None and check is None:
        raise KeyError(f"{name} has a check that api/openapi_settings.CHECKS does not say")
    for field, value in copy.deepcopy(check or {}).items():
        if field == "items":
            schema["items"].update(value)
        else:
            schema[field] = value
    help_text = setting.help
    if name in FORMATS:
        help_text += f" Each entry is {FORMATS[name]}."
    if setting.secret:
        help_text += f" A secret: GET shows {MASK!r} when it is set; posted back, {MASK!r} " \
                     "keeps it."
    schema["description"] = help_text
    schema["default"] = setting.default
    return schema


def _shown(setting: Setting, ref: str) -> dict[str, Any]:
    """A setting as GET shows it: a secret masked ("" when it is not set)."""
    if not setting.secret:
        return {"$ref": ref}
    if setting.kind == "list":
        return {"type": "array", "items": {"const": MASK}}
    return {"enum": ["", MASK]}


def _sections() -> dict[str, dict[str, Setting]]:
    found: dict[str, dict[str, Setting]] = {}
    for setting in SETTINGS:
        section, name = setting.key.split(".", 1)
        found.setdefault(section, {})[name] = setting
    return found


def _provider_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    update: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for setting in PROVIDER_SETTINGS:
        name = f"provider.{setting.key}"
        schemas[name] = _value(setting, name)
        if setting.key == "type":
            schemas[name]["enum"] = list(KINDS.names())
        update[setting.key] = {"$ref": REF + name}
        shown[setting.key] = _shown(setting, REF + name)
    schemas["ProviderUpdate"] = {
        "description": "A provider of the list POST replaces (`name` and `type` required; a "
                       "real provider needs its `api_key`).",
        "type": "object", "required": ["name", "type"], "additionalProperties": False,
        "properties": update,
        "if": {"required": ["type"], "properties": {"type": {
            "enum": [k.type for k in KINDS if k.needs_key]}}},
        "then": {"required": ["api_key"], "properties": {"api_key": {"minLength": 1}}}}
    schemas["ProviderShown"] = {
        "description": "A provider as configured (secrets masked).",
        "type": "object", "required": list(shown), "additionalProperties": False,
        "properties": shown}
    return schemas


def _arr_schemas() -> dict[str, Any]:
    """An entry of `arrs` as POST takes it (core/arrs.py parse_arrs's rules) and as GET shows
    it (its key masked)."""
    flag = {"type": "boolean", "default": True}
    update: dict[str, Any] = {
        "name": {"description": "The Arr's name (repair's `arrs` name it; unique).",
                 "type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"},
        "type": {"$ref": REF + "ArrType"},
        "url": {"description": "The Arr's http:// or https:// address, with its URL base if "
                               "any (no credentials, query or fragment; a trailing '/' is "
                               "dropped).",
                "type": "string", "maxLength": MAX_URL,
                "pattern": "^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$"},
        "api_key": {"description": f"The Arr's API key. A secret: GET shows {MASK!r}; posted "
                                   f"back, {MASK!r} keeps the key of the Arr of the same "
                                   "name in the config file.",
                    "type": "string", "maxLength": MAX_KEY, "pattern": "\\S"},
        "categories": {"description": "The categories it adds into: a download failed or "
                                      "completed there is reported to it, and repair hands "
                                      "its broken torrents back to it.",
                       "type": "array", "items": {"type": "string", "pattern": "\\S"},
                       "default": []},
        "mark_failed": {**flag, "description": "Mark a failed download's grab failed there "
                                               "(blocklist and search again)."},
        "refresh_on_complete": {**flag, "description": "Ask it to look at its downloads "
                                                       "(RefreshMonitoredDownloads) when one "
                                                       "completes."},
    }
    if sorted(update) != sorted(ARR_KEYS):
        raise KeyError("api/openapi_settings._arr_schemas does not say every key of an Arr")
    shown = {**copy.deepcopy(update), "api_key": {"enum": ["", MASK]}}
    return {
        "ArrType": {"type": "string", "enum": [k.value for k in ArrKind]},
        "ArrUpdate": {"description": "An Arr of the list POST replaces (applied at the next "
                                     "start).",
                      "type": "object", "required": ["name", "type", "url", "api_key"],
                      "additionalProperties": False, "properties": update},
        "ArrShown": {"description": "An Arr as configured (its key masked).",
                     "type": "object", "required": list(ARR_KEYS),
                     "additionalProperties": False, "properties": shown}}


def _symlink(form: str) -> dict[str, Any]:
    """downloads.action `symlink` needs a downloads.mount_path: posted with it, this says
    (the server also takes one the config file has)."""
    action: dict[str, Any] = {"const": "symlink"}
    mount: dict[str, Any] = {"type": "string", "minLength": 1}
    if form == "nested":
        return {"if": {"required": ["downloads"], "properties": {"downloads": {
                    "required": ["action"], "properties": {"action": action}}}},
                "then": {"properties": {"downloads": {
                    "required": ["mount_path"], "properties": {"mount_path": mount}}}}}
    prefix = "downloads." if form == "dotted" else ""
    return {"if": {"required": [prefix + "action"], "properties": {prefix + "action": action}},
            "then": {"required": [prefix + "mount_path"],
                     "properties": {prefix + "mount_path": mount}}}


def add_settings(schemas: dict[str, Any]) -> None:
    """Fill in the document's Settings, SettingsUpdate and SettingKey, and add a component
    per setting and the providers' schemas."""
    shown: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    for section, settings in _sections().items():
        values = {}
        for name, setting in settings.items():
            schemas[f"setting.{setting.key}"] = _value(setting, setting.key)
            values[name] = {"$ref": f"{REF}setting.{setting.key}"}
        shown[section] = {"type": "object", "required": list(settings),
                          "additionalProperties": False,
                          "properties": {name: _shown(setting, values[name]["$ref"])
                                         for name, setting in settings.items()}}
        nested[section] = {"type": "object", "additionalProperties": False,
                           "properties": values}
    dotted = {setting.key: {"$ref": f"{REF}setting.{setting.key}"} for setting in SETTINGS}
    # a bare name naming one setting (a section's name is the section, not the setting)
    named = {name: {"$ref": f"{REF}setting.{keys[0]}"} for name, keys in BY_NAME.items()
             if len(keys) == 1 and name not in SECTIONS
             and name not in (PROVIDERS, CATEGORIES, ARRS)}
    schemas.update(_provider_schemas())
    schemas.update(_arr_schemas())
    shown[PROVIDERS] = {"type": "array", "items": {"$ref": REF + "ProviderShown"}}
    shown[ARRS] = {"type": "array", "items": {"$ref": REF + "ArrShown"}}
    arrs = {"description": "The whole list of Arrs (it replaces the configured one; applied "
                           "at the next start).",
            "type": "array", "items": {"$ref": REF + "ArrUpdate"}}
    schemas["CategoryRules"] = {
        "description": "What one category's adds do: `providers`, the accounts they may use, "
                       "in order (each a configured provider's name).",
        "type": "object", "additionalProperties": False, "properties": {
            "providers": {"type": "array", "items": {"$ref": REF + "provider.name"}}}}
    shown[CATEGORIES] = categories = {
        "description": "Per-category rules keyed by category name (it replaces the whole "
                       "mapping; applied at the next start).",
        "type": "object", "propertyNames": {"format": "category"},
        "additionalProperties": {"$ref": REF + "CategoryRules"}}
    providers = {"description": "The whole list of providers (it replaces the configured "
                                "one).",
                 "type": "array", "items": {"$ref": REF + "ProviderUpdate"}}
    schemas["Settings"].update(required=list(shown), additionalProperties=False,
                               properties=shown)
    schemas["SettingsUpdate"]["anyOf"] = [
        {"title": title, "type": "object", "additionalProperties": False,
         "properties": {**form, PROVIDERS: providers, CATEGORIES: categories, ARRS: arrs},
         **_symlink(title)}
        for title, form in (("nested", nested), ("dotted", dotted), ("by name", named))]
    schemas["SettingKey"]["enum"] = [setting.key for setting in SETTINGS] + [
        PROVIDERS, CATEGORIES, ARRS]
