"""Shared strings, and text as the XML of a cell or note: what xlsxwriter writes, in one piece."""

from __future__ import annotations

import re

import xlsxwriter.sharedstrings
import xlsxwriter.xmlwriter
from xlsxwriter.utility import _preserve_whitespace

# What XMLwriter._escape_control_characters changes: _xHHHH_ escapes, control characters
# and the two non-characters.
_NEEDS_CONTROL_ESCAPE = re.compile("_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f\ufffe\uffff]")
# What makes text need an escape or xml:space: all that `escape_controls`, `_escape_data`
# (& < >) and `_preserve_whitespace` look for, in one search. Most text has none of it.
NOT_PLAIN = re.compile(r"^\s|\s$|[&<>]|" + _NEEDS_CONTROL_ESCAPE.pattern)


class Strings(xlsxwriter.sharedstrings.SharedStrings):  # type: ignore[misc]
    """Shared strings written in one piece, each as plain text.

    The XML `SharedStrings._write_si` writes, except that xlsxwriter writes a string that
    starts with `<r>` and ends with `</r>` unescaped, as rich text: a comment `<r>x</r>`
    in a return would come out as `x`, or break the file. This workbook has no rich text.
    """

    def _write_sst_strings(self) -> None:
        self.fh.write(
            "".join([f"<si>{text_element(s)}</si>" for s in self.string_table.string_array])
        )


def text_element(text: str) -> str:
    """`text` as the `<t>` element of a shared string (`SharedStrings._write_si`)."""
    if NOT_PLAIN.search(text) is None:
        return f"<t>{text}</t>"
    text = escape_controls(text)
    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<t{space}>{escaped}</t>"


def escape_controls(text: str) -> str:
    """XMLwriter._escape_control_characters, skipped for the text (nearly all) it leaves alone."""
    if _NEEDS_CONTROL_ESCAPE.search(text):
        return str(xlsxwriter.xmlwriter.XMLwriter._escape_control_characters(text))
    return text
