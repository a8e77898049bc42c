"""The readable form of an access-request export: one workbook, her profile on the first sheet
and a sheet for each kind of record, in the reader's language and the store's clock."""
import io
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from kq import labels
from kq.services.exporting import neutral

SECTIONS = (
    ("consent_history", _l("Consent")), ("visits", _l("Visits")),
    ("care_notes", _l("Care notes")), ("contacts", _l("Contacts")),
    ("promises", _l("Promises")), ("complaints", _l("Complaints")), ("gifts", _l("Gifts")),
    ("points", _l("Points")), ("prepaid_cards", _l("Prepaid cards")),
    ("card_moves", _l("Card history")), ("assignments", _l("Looked after by")),
    ("ledger", _l("Rewards & penalties")), ("messages", _l("Bulk messages")),
)
COLUMNS = {
    "id": "#", "name": _l("Name"), "surname": _l("Surname"), "title": _l("Title"),
    "greeting_name": _l("Greeting name"), "gender": _l("Gender"), "phone": _l("Phone"),
    "wechat_id": _l("WeChat ID"), "birth_month": _l("Birth month"), "birth_day": _l("Day"),
    "birth_year": _l("Year"), "approx_age": _l("Approximate age"), "address": _l("Address"),
    "email": _l("Email"), "skin_type": _l("Skin type"), "source": _l("Source"),
    "occupation": _l("Work"), "family": _l("Family"), "hobbies": _l("Hobbies"),
    "lifestyle": _l("Lifestyle"), "notes": _l("Notes"), "note": _l("Note"),
    "marketing_consent": _l("Agrees to offers and messages"),
    "consent_at": _l("Consent given"), "consent_source": _l("How she agreed"),
    "consent_withdrawn_at": _l("Consent withdrawn"), "deleted_at": _l("Deleted"),
    "created_at": _l("Created"), "status": _l("Status"), "visited_at": _l("Visit"),
    "services": _l("Services"), "amount_fen": _l("Amount (fen)"), "staff_name": _l("Staff"),
    "service_done": _l("Done:"), "skin_condition": _l("Skin:"), "feedback": _l("She said:"),
    "contacted_at": _l("When"), "channel": _l("Channel"), "outcome": _l("Outcome"),
    "what": _l("Promise"), "due_on": _l("Due"), "summary": _l("Complaint"),
    "gift": _l("Gift"), "points": _l("Points"), "reason": _l("Reason"),
    "kind": _l("Kind"), "at": _l("When"), "action": _l("What"), "by": _l("By"),
    "total_spent_fen": _l("Total spent (fen)"), "visit_count": _l("Visits"),
    "points_balance": _l("Points"),
}


def _text(value, tz):
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (int, float)) or value is None:
        return value
    if isinstance(value, (list, dict)):
        value = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    return neutral(text) if text else None


def _label(key):
    return str(COLUMNS.get(key, key))


def workbook(data, store):
    """The export `data` (privacy.collect) as an .xlsx in a BytesIO, ready to send."""
    tz, bold = store.tz, Font(bold=True)
    book = Workbook()
    sheet = book.active
    sheet.title = _("Profile")[:31]
    sheet.append([_("Store"), data["store"]])
    for key, value in data["customer"].items():
        if key == "status":
            value = str(labels.STATUSES.get(value, value))
        sheet.append([_label(key), _text(value, tz)])
    sheet.append([_("Tags"), ", ".join(data["tags"])])
    for row in sheet.iter_rows(max_col=1):
        row[0].font = bold
    sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width = 24, 48
    for key, title in SECTIONS:
        rows = data.get(key) or []
        page = book.create_sheet(str(title)[:31])
        if not rows:
            page.append([_("None.")])
            continue
        keys = list(dict.fromkeys(k for row in rows for k in row if k != "steps"))
        page.append([_label(k) for k in keys])
        for cell in page[1]:
            cell.font = bold
        for row in rows:
            page.append([_text(row.get(k), tz) for k in keys])
            for step in row.get("steps") or ():
                page.append(["", _text(step.get("step"), tz), _text(step.get("done_at"), tz),
                             _text(step.get("note"), tz)])
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out
