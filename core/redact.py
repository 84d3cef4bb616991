"""Keep secrets out of logs: API keys, tokens, passwords and cookies, in text and URLs."""

from __future__ import annotations

import logging
import re

_PATTERNS = (
    # key=value in query strings, forms and log text
    (re.compile(r"(?i)\b(api_?key|apikey|api_?token|token|access_token|password|passwd|"
                r"ma_password|secret|sid|auth)=([^&\s;,'\"]+)"), r"\1=***"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (re.compile(r"(?i)(authorization|cookie|set-cookie|x-api-key)(['\"]?\s*[:=]\s*['\"]?)"
                r"[^'\"\n]+"), r"\1\2***"),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites every record's message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
