"""What the fast writer needs of xlsxwriter's internals, checked once.

The fast writer overrides or calls private parts of xlsxwriter 3.3 (cell records, the
row writer, note placement, the packager, the VML, comments and shared-strings writers).
`problem()` says, once per process, whether this xlsxwriter has them as expected; when it
does not, the dashboard is written by the plain writer and the run says so in an info note.
"""

from __future__ import annotations

import functools
import importlib

# xlsxwriter's minor series the fast writer is written against (pyproject pins it).
SERIES = "3.3."

# Module -> attributes (classes, and their methods as "Class.method") the fast writer uses.
NEEDED: dict[str, tuple[str, ...]] = {
    "xlsxwriter.worksheet": (
        "CellStringTuple",
        "CellNumberTuple",
        "CellBlankTuple",
        "RowInfo",
        "Worksheet._write_rows",
        "Worksheet._write_row",
        "Worksheet._write_cell",
        "Worksheet._write_empty_row",
        "Worksheet._check_dimensions",
        "Worksheet._size_row",
        "Worksheet._size_col",
        "Worksheet._comment_vertices",
        "Worksheet._button_vertices",
        "Worksheet._prepare_vml_objects",
        "Worksheet._calculate_spans",
    ),
    "xlsxwriter.packager": (
        "Packager._create_package",
        "Packager._filename",
        "Packager._write_comment_files",
        "Packager._write_shared_strings_file",
        "Packager._write_vml_files",
        "Packager._write_vml_drawing_rels_file",
    ),
    "xlsxwriter.vml": ("Vml._write_comment_shape", "Vml._assemble_xml_file"),
    "xlsxwriter.comments": (
        "CommentType",
        "Comments._write_comment_list",
        "Comments._assemble_xml_file",
    ),
    "xlsxwriter.sharedstrings": (
        "SharedStrings._write_sst_strings",
        "SharedStrings._assemble_xml_file",
        "SharedStringTable._get_shared_string_index",
    ),
    "xlsxwriter.xmlwriter": ("XMLwriter._escape_control_characters",),
    "xlsxwriter.utility": ("_preserve_whitespace", "xl_col_to_name", "xl_range"),
    "xlsxwriter.workbook": ("Workbook._get_packager",),
    "xlsxwriter.format": ("Format._get_xf_index",),
}


class InternalsChanged(RuntimeError):
    """xlsxwriter's internals are not what the fast writer expects (caught: plain writer)."""


@functools.cache
def problem() -> str | None:
    """Why the fast writer cannot be used with this xlsxwriter, or None when it can."""
    import xlsxwriter

    version = str(getattr(xlsxwriter, "__version__", ""))
    if not version.startswith(SERIES):
        return f"xlsxwriter {version} is not the {SERIES}x series the fast writer is made for"
    for module_name, names in NEEDED.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return f"xlsxwriter has no module {module_name}"
        for name in names:
            found: object = module
            for part in name.split("."):
                found = getattr(found, part, None)
                if found is None:
                    return f"xlsxwriter has no {module_name}.{name}"
    return None
