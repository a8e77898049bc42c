"""Lists as CSV or Excel files (SPEC §10, §11): the page's own rows and filters, phones as the
user may see them, cells a spreadsheet would run as formulas neutralised, and one audit event
per file, committed before the first byte leaves.

CSV is UTF-8 with a BOM (so Excel opens Chinese as Chinese) and streams row by row. An .xlsx
file cannot be written in pieces over the wire (it is a zip whose directory comes last), so it
is built in a spooled temporary file (memory up to 8 MB, then disk) and sent when complete.
"""
import csv
import io
import itertools
import re
import tempfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, NamedTuple
from urllib.parse import quote

from flask import (Response, abort, jsonify, make_response, render_template, request,
                   stream_with_context)
from flask_babel import gettext as _
from flask_babel.speaklater import LazyString
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func, inspect, select
from werkzeug.wsgi import wrap_file

from kq.db import write_intent
from kq.extensions import db
from kq.masking import masked_phone, national
from kq.models import Store
from kq.services.audit import audit

FORMATS = ("csv", "xlsx")
# Rows per file. An Excel sheet holds about a million, but a phone or a laptop opening one
# that large struggles; past this the file ends with a line saying what was left out.
MAX_ROWS = {"csv": 200_000, "xlsx": 50_000}
BATCH = 500
TEXT, NUMBER, MONEY, DATE, DATETIME = "text", "number", "money", "date", "datetime"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_FORMATS = {MONEY: "#,##0.00", DATE: "yyyy-mm-dd", DATETIME: "yyyy-mm-dd hh:mm"}
# What a spreadsheet reads as the start of a formula (OWASP "CSV injection"), with the
# full-width forms a Chinese input method types.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


class Column(NamedTuple):
    header: str  # already in the user's language
    value: Callable[[Any], Any]
    kind: str = TEXT


def wanted_format(args, required=False):
    """None for the page itself; "csv" or "xlsx"; anything else is refused with a message."""
    fmt = args.get("format")
    if fmt is None and not required:
        return None
    fmt = fmt or ""
    if fmt not in FORMATS:
        message = _("Unknown export format “%(format)s”: use csv or xlsx.", format=fmt[:20])
        if request.accept_mimetypes.best == "application/json":
            abort(make_response(jsonify(error="bad_format", message=message), 400))
        abort(make_response(render_template("errors/error.html", code=400,
                                            title=_("Bad request"), message=message), 400))
    return fmt


def filters_of(args, ignore=("format", "page")):
    """The query string as the audit records it: what the list was narrowed by."""
    return {k: v[:100] for k, v in args.items() if k not in ignore and v}


def phone_for(user):
    """A phone as this user may see it: whole for managers and the customer's own beautician
    (SPEC §10), else masked as on every list."""
    user_id, manager = user.id, user.is_manager

    def show(phone, assigned_staff_id):
        if not phone:
            return ""
        return national(phone) if manager or assigned_staff_id == user_id else masked_phone(phone)

    return show


def frozen(store):
    """The store's settings outside any session. A CSV file is written after the view has
    returned, under a fresh application context whose session never saw the store; columns
    that read the store (its clock, its dormant threshold) use this copy."""
    return Store(**{attr.key: getattr(store, attr.key) for attr in inspect(Store).column_attrs})


def count_of(query):
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def batches(query, fmt):
    """The query's ORM rows, a batch at a time, fetched as they are written (no more than the
    file holds)."""
    result = db.session.scalars(query.limit(MAX_ROWS[fmt]).execution_options(yield_per=BATCH))
    yield from result.partitions()


def rows_of(query, fmt):
    for batch in batches(query, fmt):
        yield from batch


def neutral(text):
    """A cell that would start a formula is kept as text: a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _cell(value, kind, store_tz, texts):
    """The value as it belongs in the file: numbers as numbers, money in yuan, moments on the
    store's clock (an Excel cell has no timezone), everything else as neutral text."""
    if value is None:
        return None
    if kind == NUMBER:
        return value
    if kind == MONEY:
        return Decimal(int(value)).scaleb(-2)
    if kind == DATETIME:
        return value.astimezone(store_tz).replace(tzinfo=None, second=0, microsecond=0)
    if kind == DATE:
        return value
    if isinstance(value, LazyString):  # a label: looked up in the catalogue once per file
        # (the label is kept with its text, so its id cannot be reused during the export)
        value = texts.setdefault(id(value), (value, str(value)))[1]
    # characters a workbook cannot hold go first, so that none can hide a formula's "="
    text = ILLEGAL_CHARACTERS_RE.sub("", value if isinstance(value, str) else str(value))
    return neutral(text) if text else None


def _csv_text(value, kind):
    if value is None:
        return ""
    if kind == MONEY:
        return f"{value:.2f}"
    if kind == DATETIME:
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def file_name(store, title, today, ext):
    name = UNSAFE_IN_NAME.sub(" ", f"{store.name} {title} {today.isoformat()}").strip()
    return f"{name[:120]}.{ext}"


def _disposition(name, list_name, today, ext):
    """An ASCII name for old clients and the real one, in the user's language (RFC 5987)."""
    fallback = f"keqing-{list_name}-{today.isoformat()}.{ext}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _audit(store_id, list_name, fmt, rows, count, filters):
    detail = {"list": list_name, "format": fmt, "rows": rows, "filters": filters}
    if count > rows:
        detail["truncated_from"] = count
    db.session.rollback()  # end the read; SQLite takes the write lock up front
    with write_intent():
        audit("export", store_id=store_id, detail=detail)
        db.session.commit()


def send(fmt, *, store, list_name, title, columns, rows, count=None, filters=None, day=None):
    """The response for one export: `rows` is a list, or an iterable (a generator fetching as
    it goes is best) of whatever the columns read, with `count`: how many before the cap.
    The file is named after the store, the title and `day` (default: today)."""
    count = len(rows) if count is None else count
    cap = MAX_ROWS[fmt]
    n = min(count, cap)
    tz, today, store_id = store.tz, day or store.today(), store.id
    name = file_name(store, title, today, fmt)
    filters = filters_of(request.args) if filters is None else filters
    note = (_("Only the first %(n)d of %(total)d rows are in this file; narrow the filters to "
              "export the rest.", n=cap, total=count) if count > cap else None)
    texts = {}
    values = ([_cell(c.value(row), c.kind, tz, texts) for c in columns]
              for row in itertools.islice(rows, cap))
    if isinstance(rows, (list, tuple)):
        values = list(values)  # rows already loaded: read them before the commit expires them
    if fmt == "xlsx":
        spool = _workbook(title, columns, values, note)
        _audit(store_id, list_name, fmt, n, count, filters)
        size = spool.seek(0, io.SEEK_END)
        spool.seek(0)
        response = Response(wrap_file(request.environ, spool), mimetype=XLSX_TYPE,
                            direct_passthrough=True)
        response.content_length = size
    else:
        _audit(store_id, list_name, fmt, n, count, filters)
        response = Response(stream_with_context(_csv(columns, values, note)),
                            content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = _disposition(name, list_name, today, fmt)
    response.headers["Cache-Control"] = "no-store"
    return response


def _csv(columns, values, note):
    kinds, values = [c.kind for c in columns], iter(values)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutral(c.header) for c in columns])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    while chunk := list(itertools.islice(values, BATCH)):
        buffer.seek(0)
        buffer.truncate()
        for row in chunk:
            writer.writerow([_csv_text(v, k) for v, k in zip(row, kinds)])
        yield buffer.getvalue().encode("utf-8")
    if note:
        yield ("\r\n" + neutral(note) + "\r\n").encode("utf-8")


def _workbook(title, columns, values, note):
    book = Workbook(write_only=True)
    sheet = book.create_sheet(UNSAFE_IN_NAME.sub(" ", title).replace("[", "(")
                              .replace("]", ")")[:31] or "Sheet")
    for i, column in enumerate(columns, start=1):
        width = 12 if column.kind in (NUMBER, MONEY, DATE) else \
            17 if column.kind == DATETIME else 18
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=neutral(column.header))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    formats = [XLSX_FORMATS.get(c.kind) for c in columns]
    for row in values:
        cells = []
        for value, number_format in zip(row, formats):
            if number_format and value is not None:
                value = WriteOnlyCell(sheet, value=value)
                value.number_format = number_format
            cells.append(value)
        sheet.append(cells)
    if note:
        sheet.append([])
        sheet.append([neutral(note)])
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    book.save(spool)
    return spool


def yes_no(flag):
    return _("Yes") if flag else _("No")
