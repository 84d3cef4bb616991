"""The process's logging: stderr with secrets masked, and the loggers log/main listens to."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from gunicorn import glogging

from core.redact import RedactingFilter, redact

# Debridge's own loggers: each app adds its log/main handler (the store's log sink) to them.
OPERATOR_LOGGERS = ("debridge", "core", "debrid", "qbit_compat", "store")


def operator_levels(level: str) -> dict[str, str]:
    """The operator loggers' levels for `server.log_level`: info at least, so that log/main
    (each app's store handler on them) gets adds and failures whatever stderr shows."""
    return dict.fromkeys(OPERATOR_LOGGERS, "DEBUG" if level == "debug" else "INFO")


def configure_logging(level: str) -> None:
    """Logs go to stderr, secrets masked; set up once, before the app exists (Flask's
    advice). The stderr handler, not the loggers, holds `level` back (see operator_levels)."""
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactingFilter}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                                "filters": ["redact"], "stream": "ext://sys.stderr",
                                "level": level.upper()}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {"werkzeug": {"level": "WARNING"}, "urllib3": {"level": "WARNING"},
                    **{name: {"level": operator} for name, operator in
                       operator_levels(level).items()}},
    })


def apply_log_level(level: str) -> None:
    """server.log_level changed while running: set the levels configure_logging set, without
    replacing a handler (each app's log/main handler stays on the operator loggers). The root
    logger is left alone where configure_logging did not run (tests, embedding)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if handler.get_name() == "stderr":
            handler.setLevel(level.upper())
            root.setLevel(level.upper())
    for name, operator in operator_levels(level).items():
        logging.getLogger(name).setLevel(operator)
    # gunicorn's own messages (its loglevel option is this setting at start)
    if "gunicorn.error" in logging.Logger.manager.loggerDict:
        logging.getLogger("gunicorn.error").setLevel(level.upper())


# Request headers whose whole value is a secret, in gunicorn's access-log atoms.
SECRET_ATOMS = frozenset({"{authorization}i", "{cookie}i", "{x-api-key}i", "{set-cookie}o",
                          "{http_authorization}e", "{http_cookie}e", "{http_x_api_key}e"})


class RedactingAccessLogger(glogging.Logger):
    """gunicorn's logger, whose access-log lines mask API keys, tokens and passwords in the
    request line, the query string, the Referer and any header logged (Authorization,
    Cookie and X-Api-Key whole)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any],
              request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if key in SECRET_ATOMS:
                atoms[key] = "***"
            elif isinstance(value, str):
                atoms[key] = redact(value)
        return atoms
