"""Print config.json at its defaults, the README's settings tables (from the schema), or its
provider table (from the provider registry).

    python tools/settings_doc.py config > config.json
    python tools/settings_doc.py readme     (paste between the README's settings markers)
    python tools/settings_doc.py providers  (paste between the README's provider markers)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.schema import PROVIDER_SETTINGS, SETTINGS, Setting, default_config
from debrid.registry import provider_table


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _extra(setting: Setting) -> str:
    extra = f" One of: {', '.join(setting.choices)}." if setting.choices else ""
    if setting.minimum is not None and setting.maximum is not None:
        extra += f" Range {_number(setting.minimum)}–{_number(setting.maximum)}."
    if setting.live:
        extra += " Changed by `POST /api/config`: applied at once, no restart."
    return extra


def readme() -> str:
    rows: list[str] = []
    section = None
    for setting in SETTINGS:
        name = setting.key.split(".")[0]
        if name != section:
            section = name
            rows.append(f"\n**{name}**\n\n| key | default | meaning |\n|---|---|---|")
        rows.append(f"| `{setting.key}` | `{json.dumps(setting.default)}` | "
                    f"{setting.help}{_extra(setting)} |")
    rows.append("\n**providers** (a list; each entry has these keys)\n\n"
                "| key | default | meaning |\n|---|---|---|")
    for setting in PROVIDER_SETTINGS:
        default = "(required)" if setting.key in ("name", "type") else \
            f"`{json.dumps(setting.default)}`"
        rows.append(f"| `providers[].{setting.key}` | {default} | "
                    f"{setting.help}{_extra(setting)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:] == ["config"]:
        print(json.dumps(default_config(), indent=2))
    elif sys.argv[1:] == ["readme"]:
        print(readme())
    elif sys.argv[1:] == ["providers"]:
        print(provider_table())
    else:
        sys.exit(__doc__)
