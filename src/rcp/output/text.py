"""Showing text that rcp did not write (tenant names, Render messages, imported records).

Such text is data, never presentation: it is not parsed as rich markup or emoji codes, and its
control characters are shown escaped, so a name or an error message cannot restyle, move the
cursor, retitle or clear an operator's terminal, nor forge extra lines of output.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# C0 controls, DEL, C1 controls (U+0080–U+009F: 8-bit CSI and friends), the line/paragraph
# separators some terminals and editors break on, and the bidirectional overrides/isolates that
# can make text read differently from what it is ("Trojan Source").
_OTHER_CONTROLS = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f{_OTHER_CONTROLS}]")
# The same without line feed and tab, for multi-line text (a template shown as written).
_CONTROL_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHER_CONTROLS}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    character = match.group()
    named = _NAMED.get(character)
    if named is not None:
        return named
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_control(text: str, *, multiline: bool = False) -> str:
    r"""``text`` with every control character written as a visible escape (``\x1b``, ``\n``,
    ``\u202e``); printable text, backslashes included, is unchanged. ``multiline`` leaves line
    feeds and tabs alone (carriage returns, which can overwrite a line, are still escaped)."""
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL
    return pattern.sub(_escape_one, text)


def safe_console(**options: Any) -> Console:
    """A rich Console that renders every plain string literally: no markup, no emoji codes,
    control characters escaped. Styling is given with ``style=`` or ``rich.text.Text``."""
    console: Console = _safe_console_class()(markup=False, emoji=False, **options)
    return console


@functools.cache
def _safe_console_class() -> type[Console]:
    from rich.console import Console
    from rich.text import Text

    class SafeConsole(Console):
        # Every str a renderable holds (print arguments, table cells and headers, live views)
        # becomes Text here, before it is measured, so escaping keeps column widths right.
        def render_str(self, text: str, **kwargs: Any) -> Text:
            kwargs["markup"] = False
            kwargs["emoji"] = False
            return super().render_str(escape_control(text, multiline=True), **kwargs)

    return SafeConsole
