"""CSV formula-injection guard: spreadsheet apps execute cells that start with = + - @ (or tab/CR)."""

from __future__ import annotations

from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: Any) -> str:
    """``value`` as CSV cell text that Excel/LibreOffice show as text, never evaluate.

    Numbers stay as they are (a negative number is data, not a formula); any other text whose
    first character could start a formula is prefixed with an apostrophe (OWASP recommendation).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    if text.startswith(_TRIGGERS):
        return "'" + text
    return text
