"""Codes of reading a registry file: the file as a whole, its header, and a cell of the wrong kind."""

from __future__ import annotations

from domain.codes import UserErrorCode


class ImportCode(UserErrorCode):
    """Codes of every import's file, header and cells (domain/imports/); row 0 of a report is the whole file."""

    UNSUPPORTED_FILE_TYPE = (
        "UNSUPPORTED_FILE_TYPE",
        "The file is not CSV or XLSX (an old .xls workbook included); save it as .csv (UTF-8) or .xlsx.",
    )
    WRONG_FILE_TYPE = (
        "WRONG_FILE_TYPE",
        "The file's content is not what its name says (a workbook named .csv, NUL bytes in a text file).",
    )
    FILE_TOO_LARGE = "FILE_TOO_LARGE", "The file has more bytes than an import accepts."
    EMPTY_FILE = "EMPTY_FILE", "The file is empty, or has no header row or no worksheet."
    UNSUPPORTED_ENCODING = (
        "UNSUPPORTED_ENCODING",
        "The text is UTF-16, or stops being UTF-8 part-way; save it as CSV UTF-8.",
    )
    LINE_TOO_LONG = "LINE_TOO_LONG", "A line is longer than any registry row; the file is not a table."
    MALFORMED_CSV = "MALFORMED_CSV", "A row cannot be read as CSV (an unclosed quote, for instance)."
    TOO_MANY_ROWS = "TOO_MANY_ROWS", "The file has more rows than one import takes; split it or use the command line."
    NO_ROWS = "NO_ROWS", "The file has a header but no data rows."
    MISSING_COLUMN = "MISSING_COLUMN", "The header has no column for a field the import needs (the message names it)."
    DUPLICATE_COLUMN = "DUPLICATE_COLUMN", "Two header columns mean the same field; keep one of them."
    INVALID_DATE = "INVALID_DATE", "A cell is not a date; write it as YYYY-MM-DD or DD/MM/YYYY, or format it as a date."
    INVALID_NUMBER = "INVALID_NUMBER", "A cell is not a whole number or a rupiah amount."
    INVALID_BOOLEAN = "INVALID_BOOLEAN", "A cell is not yes or no; write ya or tidak."
    INVALID_SEX = "INVALID_SEX", "A sex cell is not L/P (or M/F)."
    INVALID_SEGMENT = "INVALID_SEGMENT", "A segment cell is not PU, BPU, JAKON or PMI."
    INVALID_PROGRAMME = "INVALID_PROGRAMME", "A programmes cell names something other than JKK, JKM, JHT, JP or JKP."
    INVALID_FUNDING_SOURCE = "INVALID_FUNDING_SOURCE", "A funding source cell is not SELF, EMPLOYER, APBD, APBN or CSR."
    INVALID_PAYER = "INVALID_PAYER", "A payer cell is not SELF, EMPLOYER, APBD, APBN or CSR."
    NIK_STORED_AS_NUMBER = (
        "NIK_STORED_AS_NUMBER",
        "The NIK cell holds a number (or scientific notation), so a spreadsheet may have dropped digits; format "
        "the column as Text and re-export (numbers are never padded or guessed).",
    )
    KK_STORED_AS_NUMBER = (
        "KK_STORED_AS_NUMBER",
        "The family-card number cell holds a number, so a spreadsheet may have dropped digits; format the column "
        "as Text and re-export.",
    )
