"""Reading a spreadsheet as it comes: .xlsx through openpyxl (read-only), or CSV in UTF-8 (with
or without BOM) or GBK/GB18030, the encoding found, not asked. Every table comes out as rows of
(spreadsheet row number, [cell values]), numbered as the spreadsheet numbers them (1-based, the
title and header rows counted), so that every problem can name the row the manager sees."""
import csv
import io
import zipfile
from dataclasses import dataclass, field

MAX_ROWS = 300_000
MAX_COLUMNS = 80


class UnreadableFile(ValueError):
    """The file is not a spreadsheet we can read; `code` names why (shown translated)."""

    def __init__(self, code, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class Table:
    name: str  # the sheet's name, or "" for a CSV
    rows: list = field(default_factory=list)  # [(row_number, [values])]


def sniff_kind(head):
    """'xlsx', 'xls', 'csv' by the first bytes, or None for what is certainly not a table."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"  # the old binary Excel format: openpyxl can't read it
    if head.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b")):
        return None
    if b"\x00" in head[:4096] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    return "csv"


def decode(data):
    """UTF-8 (BOM or not), UTF-16 with BOM, else GB18030 (a superset of GBK and GB2312)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise UnreadableFile("encoding") from None


def _clean(value):
    if isinstance(value, str):
        value = value.replace("\x00", "").strip()
        return value or None
    return value


def _delimiter(sample):
    """Comma, semicolon, tab or bar: whichever splits the first lines most evenly. Only the
    delimiter is guessed; quoting is always Excel's double quote (a cell like '138… is text)."""
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    best, score = ",", 0
    for candidate in (",", ";", "\t", "|"):
        counts = [line.count(candidate) for line in lines]
        if counts and min(counts) > 0:
            value = min(counts) * 10 + (counts.count(counts[0]) == len(counts))
            if value > score:
                best, score = candidate, value
    return best


def read_csv(data):
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text[:20000]))
    table = Table(name="")
    try:
        for number, row in enumerate(reader, start=1):
            values = [_clean(v) for v in row[:MAX_COLUMNS]]
            if any(v is not None for v in values):
                table.rows.append((number, values))
                if len(table.rows) > MAX_ROWS:
                    raise UnreadableFile("too_many_rows", limit=MAX_ROWS)
    except csv.Error:
        raise UnreadableFile("not_a_table") from None
    return [table]


def read_xlsx(data):
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError):
        raise UnreadableFile("not_a_table") from None
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds on a damaged workbook
        raise UnreadableFile("not_a_table") from None
    tables = []
    try:
        for sheet in book.worksheets:
            table = Table(name=sheet.title)
            # min_row=1: numbering follows the sheet even when its data starts lower down.
            for number, row in enumerate(sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS,
                                                         values_only=True), start=1):
                values = [_clean(v) for v in row]
                if any(v is not None for v in values):
                    table.rows.append((number, values))
                    if len(table.rows) > MAX_ROWS:
                        raise UnreadableFile("too_many_rows", limit=MAX_ROWS)
            tables.append(table)
    except UnreadableFile:
        raise
    except Exception:  # noqa: BLE001
        raise UnreadableFile("not_a_table") from None
    finally:
        book.close()
    return tables


def read_tables(data, file_name=""):
    """Every non-empty table in the file, in order. Raises UnreadableFile."""
    if not data:
        raise UnreadableFile("empty")
    kind = sniff_kind(data[:8192])
    if kind is None:
        raise UnreadableFile("not_a_table")
    if kind == "xls":
        raise UnreadableFile("xls")
    tables = read_xlsx(data) if kind == "xlsx" else read_csv(data)
    tables = [t for t in tables if t.rows]
    if not tables:
        raise UnreadableFile("empty")
    return tables
