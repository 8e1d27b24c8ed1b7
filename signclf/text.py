"""Text for a person's terminal: file and class names made safe to print, and cut to fit a column.

File names and class names come from the user's disk; printed raw, a name holding ESC sequences
can clear the screen or rewrite earlier lines, and a newline breaks a table row. Human output goes
through `printable`; JSON output does not need to (json.dumps escapes control characters itself).
"""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# Bidirectional controls reorder what follows them: "abc\u202egnp.exe" displays as "abcexe.png".
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(ch: str) -> bool:
    # Cc: C0/C1 controls and DEL (ESC starts terminal sequences); Zl/Zp: Unicode line breaks.
    return ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def printable(text: str) -> str:
    """`text` with every control character shown as a visible escape (\\x1b, \\n, \\u202e, ...)."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in text)


def cut_end(text: str, width: int) -> str:
    """`text` if it fits in `width` characters, else its start and "…" (at most width characters)."""
    return text if len(text) <= width else text[:max(width - 1, 0)].rstrip() + ELLIPSIS


def cut_path(path: str, width: int) -> str:
    """A path shortened to `width` characters without losing its file name: the folder part is cut
    in the middle ("data/…/test/00012.png"); a name longer than `width` alone keeps its end."""
    if len(path) <= width:
        return path
    folder, sep, name = path.rpartition("/")
    room = width - len(name) - len(sep) - 1  # characters of the folder part that fit beside "…"
    if not sep or room < 2:
        return ELLIPSIS + path[-(width - 1):]
    head = room // 2
    return folder[:head] + ELLIPSIS + folder[len(folder) - (room - head):] + sep + name
