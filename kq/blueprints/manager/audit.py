"""Manage → Audit log (PIPL, SPEC §10): who revealed, exported, imported, printed, messaged,
deleted or signed in, and when; filtered, paged and exported like every other list."""
from datetime import date, datetime, time, timedelta

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select

from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.extensions import db
from kq.models import AuditEvent, Customer, User
from kq.scoping import current_store
from kq.services import exporting
from kq.services.exporting import DATETIME, Column
from kq.services.privacy import CONSENT_SOURCES, display_name

PAGE_SIZE = 50
ACTIONS = {
    "reveal_phone": _l("Phone number shown"),
    "search_phone": _l("Searched by a whole phone number"),
    "duplicate_phone": _l("A phone already on a card was entered"),
    "export": _l("List exported"),
    "export_customer": _l("A customer's data exported"),
    "delete_customer": _l("Customer deleted"),
    "consent_given": _l("Marketing consent given"),
    "consent_withdrawn": _l("Marketing consent withdrawn"),
    "import": _l("Customers imported"),
    "print_cards": _l("Customer cards printed"),
    "bulk_message": _l("Bulk message"),
    "campaign_launch": _l("Campaign launched"),
    "sign_in": _l("Signed in"),
    "sign_in_failed": _l("Failed sign-in"),
    "sign_out_everywhere": _l("Signed out everywhere"),
    "settings": _l("Settings changed"),
    "staff": _l("Staff changed"),
    "assign_bulk": _l("Customers assigned"),
    "handover": _l("Customers handed over"),
    "reassign": _l("Customers reassigned"),
    "keep_proposals": _l("Reassignment proposals kept"),
    "assign_undo": _l("Assignment undone"),
    "ledger_run": _l("Rewards and penalties counted"),
    "ledger_void": _l("Ledger entry voided"),
    "ledger_unvoid": _l("Ledger entry restored"),
}


def action_label(code):
    return str(ACTIONS[code]) if code in ACTIONS else code


def _day(text):
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return None


def _filters(store, args):
    """The query for the chosen filters and the filters as read (bad values are ignored)."""
    f = {"action": (args.get("action") or "").strip()[:30],
         "staff": (args.get("staff") or "").strip(),
         "customer": (args.get("customer") or "").strip(),
         "from": _day(args.get("from")), "to": _day(args.get("to"))}
    where = AuditEvent.store_id == store.id
    if current_user.is_owner:  # a failed sign-in with an unknown name belongs to no store
        where = or_(where, AuditEvent.store_id.is_(None))
    query = select(AuditEvent).where(where)
    if f["action"]:
        query = query.where(AuditEvent.action == f["action"])
    if f["staff"].isdigit() and len(f["staff"]) < 10:
        query = query.where(AuditEvent.user_id == int(f["staff"]))
    else:
        f["staff"] = ""
    if f["customer"].isdigit() and len(f["customer"]) < 10:
        query = query.where(AuditEvent.target_type == "customer",
                            AuditEvent.target_id == int(f["customer"]))
    else:
        f["customer"] = ""
    if f["from"]:
        query = query.where(AuditEvent.created_at >= datetime.combine(f["from"], time(0),
                                                                      tzinfo=store.tz))
    if f["to"]:
        query = query.where(AuditEvent.created_at < datetime.combine(
            f["to"] + timedelta(days=1), time(0), tzinfo=store.tz))
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()), f


def _names(events):
    """{user id: display name} and {customer id: greeting name} for a page of events."""
    user_ids = {e.user_id for e in events if e.user_id} | {
        e.target_id for e in events if e.target_type == "user" and e.target_id}
    customer_ids = {e.target_id for e in events if e.target_type == "customer" and e.target_id}
    users = dict(db.session.execute(select(User.id, User.display_name)
                                    .where(User.id.in_(user_ids))).all()) if user_ids else {}
    customers = dict(db.session.execute(
        select(Customer.id, Customer.greeting_name).where(Customer.id.in_(customer_ids))
    ).all()) if customer_ids else {}
    return users, customers


def describe(event, users, customers):
    """What the event was about, in a few words."""
    if event.target_type == "customer":
        return str(display_name(customers.get(event.target_id, f"#{event.target_id}")))
    if event.target_type == "user":
        if event.target_id == event.user_id:
            return ""  # her own sign-in: the "by" says it
        return users.get(event.target_id, f"#{event.target_id}")
    if event.target_type:
        return f"{event.target_type} #{event.target_id}"
    return ""


# What a detail key means, for the log and its export; a key not here is shown as stored.
DETAIL_LABELS = {
    "had_consent": _l("Had marketing consent"),
    "format": _l("Format"),
    "list": _l("List"),
    "rows": _l("Rows"),
    "truncated_from": _l("Of"),
    "filters": _l("Filters"),
    "campaign_id": _l("Campaign"),
    "batch_id": _l("Batch"),
    "name": _l("Name"),
    "members": _l("Customers"),
    "customers": _l("Customers"),
    "count": _l("Messages"),
    "key": _l("Key customers"),
    "source": _l("Source"),
    "phone": _l("Phone"),
    "channel": _l("Channel"),
    "provider": _l("Provider"),
    "segment": _l("Who"),
    "skipped_do_not_contact": _l("Skipped (do not contact)"),
    "skipped_no_consent": _l("Skipped (no consent)"),
    "file": _l("File"),
    "new": _l("New"),
    "merged": _l("Merged"),
    "unchanged": _l("Unchanged"),
    "skipped": _l("Skipped"),
    "errors": _l("Errors"),
    "visits": _l("Visits"),
    "day": _l("Day"),
    "rewards": _l("Rewards"),
    "penalties": _l("Penalties"),
    "username": _l("Username"),
    "role": _l("Role"),
    "reason": _l("Reason"),
    "amount_fen": _l("Amount"),
    "staff_id": _l("Staff"),
    "changes": _l("Changes"),
    "before": _l("Before"),
    "after": _l("After"),
    "sha256": _l("File checksum"),
}


def _detail_value(action, key, value):
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key == "format" and isinstance(value, str):
        return value.upper()
    if key in ("campaign_id", "batch_id") and value is not None:
        return f"#{value}"
    if key == "amount_fen" and isinstance(value, int):
        return f"¥{value / 100:,.2f}"
    if key == "source" and action == "consent_given" and isinstance(value, str):
        return str(CONSENT_SOURCES.get(value, value))
    if isinstance(value, dict):
        return ", ".join(f"{DETAIL_LABELS[k] if k in DETAIL_LABELS else k}={v}"
                         for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value[:10])
    return value


def detail_text(detail, action=None):
    """The event's detail as "Label: value; …" in the reader's language: known keys get a
    translated label and a readable value (per action where it differs), unknown keys show
    plainly as stored."""
    if not detail:
        return ""
    if not isinstance(detail, dict):
        return str(detail)[:300]
    parts = []
    for key, value in detail.items():
        if value is None or value == "":
            continue
        label = DETAIL_LABELS[key] if key in DETAIL_LABELS else key
        parts.append(f"{label}: {_detail_value(action, key, value)}")
    return "; ".join(parts)[:300]


@bp.route("/audit")
@manager_required
def audit_log():
    store = current_store()
    query, f = _filters(store, request.args)
    fmt = exporting.wanted_format(request.args)
    staff = db.session.scalars(select(User).where(User.store_id == store.id)
                               .order_by(User.role.desc(), User.username)).all()
    if fmt:
        return _export(fmt, store, query)
    page = db.paginate(query, per_page=PAGE_SIZE, error_out=False)
    users, customers = _names(page.items)
    seen = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.store_id == store.id).distinct()).all()
    actions = {**ACTIONS, **{a: a for a in seen if a not in ACTIONS}}
    args = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in f.items() if v}
    return render_template("manager/audit.html", page=page, f=f, args=args, staff=staff,
                           actions=actions, users=users, customers=customers,
                           describe=describe, detail_text=detail_text,
                           action_label=action_label)


def _export(fmt, store, query):
    store = exporting.frozen(store)

    def rows():
        for batch in exporting.batches(query, fmt):
            users, customers = _names(batch)
            for event in batch:
                yield event, users, customers

    columns = [
        Column(_("When"), lambda r: r[0].created_at, DATETIME),
        Column(_("What"), lambda r: action_label(r[0].action)),
        Column(_("Code"), lambda r: r[0].action),
        Column(_("By"), lambda r: r[1].get(r[0].user_id, "")),
        Column(_("About"), lambda r: describe(*r)),
        Column(_("Details"), lambda r: detail_text(r[0].detail, r[0].action)),
        Column(_("IP address"), lambda r: r[0].ip),
    ]
    return exporting.send(fmt, store=store, list_name="audit", title=_("Audit log"),
                          columns=columns, rows=rows(), count=exporting.count_of(query))
