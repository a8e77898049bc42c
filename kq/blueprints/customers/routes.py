"""The customer list with search and filters, the card, and the audited phone reveal."""

from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from kq import labels
from kq.blueprints.customers import bp
from kq.extensions import db
from kq.masking import can_see_phone, masked_phone, national
from kq import policy
from kq.models import (BEAUTICIAN, CareNote, Complaint, Contact, Customer, CustomerTag,
                       GiftHandout, PrepaidCard, Promise, User, Visit)
from kq.scoping import current_store, get_or_404, scoped
from kq.scripts import message_for, sms_href, store_bodies, tel_href
from kq.services import exporting
from kq.services.audit import audit
from kq.services.customers import matching_ids, normalize_query, tags_of, whole_number
from kq.services.exporting import DATE, MONEY, NUMBER, Column
from kq.services.reports import not_seen_since

PAGE_SIZE = 30
# The lists a card is opened from, where its back control returns (else the Customers tab).
LISTS = {"tasks.today", "tasks.day", "customers.index", "customers.detail", "calls.index",
         "gifts.index", "gifts.detail", "manager.dormant", "manager.ledger",
         "manager.complaints", "manager.assignments", "manager.handover"}
WINDOWS = (30, 180, 365)
REVEALED = "revealed_customers"


def can_edit(user, customer):
    return policy.can(user, policy.EDIT, customer)


def can_contact(user, customer):
    return policy.can(user, policy.LOG_CONTACT, customer)


def shows_phone(user, customer):
    """Assigned staff always; managers and owners once they have revealed it (audited)."""
    if customer.assigned_staff_id == user.id:
        return policy.can(user, policy.VIEW_CONTACT, customer)
    return policy.can(user, policy.REVEAL_PHONE, customer) and \
        customer.id in session.get(REVEALED, [])


def _search(store, q):
    """The ids a search box string finds for her (policy: partial phone digits find only her
    own customers unless she manages the store). A search by a whole number is audited, with
    the number masked: trying numbers one by one leaves a trail."""
    own = None if policy.can(current_user, policy.SEARCH_PARTIAL) else current_user.id
    ids = matching_ids(store.id, q, own_staff_id=own)
    whole = whole_number(q)
    if whole is not None:
        audit("search_phone", store_id=store.id, detail={"phone": masked_phone(whole)})
        db.session.commit()
    return ids


def _filters(store, args):
    f = {k: (args.get(k) or "").strip() for k in
         ("q", "tier", "key", "band", "status", "tag", "staff", "window", "days", "sort")}
    query = scoped(Customer).where(Customer.deleted_at.is_(None))
    if f["q"]:
        ids = _search(store, f["q"][:64])
        if ids is not None:
            query = query.where(Customer.id.in_(ids))
    if f["tier"] in labels.TIERS:
        query = query.where(Customer.tier == f["tier"])
    if f["key"] in ("key", "general"):
        query = query.where(Customer.is_key.is_(f["key"] == "key"))
    if f["band"] in labels.BANDS:
        query = query.where(Customer.visit_band == f["band"])
    dormant = not_seen_since(store, store.dormant_after_days)
    if f["status"] == "dormant":
        query = query.where(dormant, Customer.do_not_contact.is_(False))
    elif f["status"] == "active":
        query = query.where(~dormant, Customer.do_not_contact.is_(False))
    elif f["status"] == "do_not_contact":
        query = query.where(Customer.do_not_contact.is_(True))
    if f["tag"]:
        query = query.where(exists().where(CustomerTag.customer_id == Customer.id,
                                           CustomerTag.name == f["tag"][:30]))
    staff = f["staff"] or default_staff(f["q"])
    if staff == "me":
        query = query.where(Customer.assigned_staff_id == current_user.id)
    elif staff == "none":
        query = query.where(Customer.assigned_staff_id.is_(None))
    elif staff.isdigit() and len(staff) < 10:  # an id a column can hold
        query = query.where(Customer.assigned_staff_id == int(staff))
    days = int(f["days"]) if f["days"].isdigit() and 0 < int(f["days"]) < 10000 else None
    if f["window"].isdigit() and int(f["window"]) in WINDOWS:
        days = int(f["window"])
    if days:
        query = query.where(not_seen_since(store, days))
    if f["sort"] == "recent":
        query = query.order_by(Customer.last_visit_at.desc().nulls_last(), Customer.id)
    elif f["sort"] == "name":
        query = query.order_by(Customer.name, Customer.id)
    else:  # longest unseen first: the ones to win back
        query = query.order_by(Customer.last_visit_at.asc().nulls_first(), Customer.id)
    return query, f


def default_staff(q):
    """Whose customers the list shows when she has not said: a beautician her own (the tab is
    her working list), a manager the store's; a search by name looks through the store."""
    return "all" if current_user.is_manager or q else "me"


@bp.route("/")
@login_required
def index():
    store = current_store()
    query, f = _filters(store, request.args)
    fmt = exporting.wanted_format(request.args)
    if fmt:
        return _export(fmt, store, query)
    page = db.paginate(query.options(joinedload(Customer.assigned_staff)), per_page=PAGE_SIZE,
                       error_out=False)
    staff = db.session.scalars(scoped(User).where(User.active.is_(True), User.role == BEAUTICIAN)
                               .order_by(User.username)).all()
    args = {k: v for k, v in f.items() if v}
    return render_template("customers/index.html", page=page, f=f, args=args, store=store,
                           whose=f["staff"] or default_staff(f["q"]),
                           staff=staff, labels=labels, today=store.today(), windows=WINDOWS,
                           tags=tags_of([c.id for c in page.items]), masked_phone=masked_phone,
                           national=national, shows_phone=shows_phone,
                           partial_phone=_partial_phone(f["q"]))


def _partial_phone(q):
    """She searched part of a number, which finds only her own customers (the page says so)."""
    digits = normalize_query(q[:64]) if q else ""
    return digits.isdigit() and whole_number(q[:64]) is None and \
        not policy.can(current_user, policy.SEARCH_PARTIAL)


def _export(fmt, store, query):
    """Every page of the list as a file, with its filters and order. A beautician exports only
    her own customers (a whole store's list is not hers to carry away); phones whole only where
    the reader may see them."""
    if not current_user.is_manager:
        query = query.where(Customer.assigned_staff_id == current_user.id)
    store = exporting.frozen(store)
    today, phone = store.today(), exporting.phone_for(current_user)
    key_or_not = {True: _("Key"), False: _("General")}

    def rows():
        for batch in exporting.batches(query.options(joinedload(Customer.assigned_staff)), fmt):
            tags = tags_of([c.id for c in batch])
            for c in batch:
                yield c, tags.get(c.id, ())

    columns = [
        Column(_("Name"), lambda r: r[0].name),
        Column(_("Greeting name"), lambda r: r[0].greeting_name),
        Column(_("Phone"), lambda r: phone(r[0].phone, r[0].assigned_staff_id)),
        Column(_("Status"), lambda r: labels.STATUSES[r[0].status(store, today)]),
        Column(_("Key customer"), lambda r: key_or_not[bool(r[0].is_key)]),
        Column(_("Tier"), lambda r: r[0].tier),
        Column(_("Visit frequency"), lambda r: labels.BANDS.get(r[0].visit_band)),
        Column(_("Looked after by"),
               lambda r: r[0].assigned_staff.display_name if r[0].assigned_staff else None),
        Column(_("Last visit"), lambda r: store.local_date(r[0].last_visit_at), DATE),
        Column(_("Days since last visit"), lambda r: r[0].days_since_visit(store, today), NUMBER),
        Column(_("Visits"), lambda r: r[0].visit_count, NUMBER),
        Column(_("Total spent (yuan)"), lambda r: r[0].total_spent_fen, MONEY),
        Column(_("Points"), lambda r: r[0].points_balance, NUMBER),
        Column(_("Tags"), lambda r: " ".join(r[1])),
    ]
    return exporting.send(fmt, store=store, list_name="customers", title=_("Customers"),
                          columns=columns, rows=rows(), count=exporting.count_of(query))


def came_from(customer):
    """The list this card was opened from (this site's page in the Referer, with its filters and
    page), for the header's back control; None when she came from elsewhere, from the card's own
    pages or from the card itself."""
    parts = urlsplit(request.referrer or "")
    if parts.netloc != request.host or parts.scheme not in ("http", "https"):
        return None
    root, path = request.script_root, parts.path
    if root and not path.startswith(root + "/"):
        return None
    try:
        endpoint, args = current_app.url_map.bind(request.host, script_name=root).match(
            path[len(root):], method="GET")
    except (HTTPException, RoutingException):
        return None
    if endpoint not in LISTS or args.get("customer_id") == customer.id:
        return None
    return path + ("?" + parts.query if parts.query else "")


def _offer(store, category):
    if not category:
        return None
    from kq.models import ReactivationOffer

    own = db.session.scalar(select(ReactivationOffer.text).where(
        ReactivationOffer.store_id == store.id, ReactivationOffer.category == category))
    return own or labels.REACTIVATION_OFFERS.get(category)


@bp.route("/<int:customer_id>")
@login_required
def detail(customer_id):
    customer = get_or_404(Customer, customer_id)
    store = current_store()
    today = store.today()
    visible = shows_phone(current_user, customer)
    links = None
    if visible and can_contact(current_user, customer) and not customer.do_not_contact:
        text = message_for(store_bodies(store)["relationship_touch"], customer, current_user,
                           store, today)
        links = {"tel": tel_href(customer.phone), "sms": sms_href(customer.phone, text)}
    recent = lambda model, order, n: db.session.scalars(  # noqa: E731
        select(model).where(model.customer_id == customer.id)
        .order_by(*(order if isinstance(order, tuple) else (order,))).limit(n)).all()
    return render_template(
        "customers/detail.html", customer=customer, store=store, today=today, labels=labels,
        back=came_from(customer),
        links=links, can_edit=can_edit(current_user, customer),
        phone=national(customer.phone) if visible else masked_phone(customer.phone),
        can_reveal=bool(customer.phone) and not visible and current_user.is_manager,
        cards=recent(PrepaidCard, ((PrepaidCard.status == "open").desc(),
                                   PrepaidCard.id.desc()), 10),  # open cards first
        care_notes=recent(CareNote, CareNote.created_at.desc(), 3),
        contacts=recent(Contact, Contact.contacted_at.desc(), 5),
        visits=recent(Visit, Visit.visited_at.desc(), 10),
        gifts=db.session.scalars(select(GiftHandout).where(
            GiftHandout.customer_id == customer.id, GiftHandout.status != "cancelled")
            .options(joinedload(GiftHandout.gift))
            .order_by((GiftHandout.status == "reserved").desc(), GiftHandout.id.desc())
            .limit(6)).all(),
        promises=db.session.scalars(select(Promise).where(Promise.customer_id == customer.id)
                                    .options(joinedload(Promise.staff))
                                    .order_by((Promise.status == "open").desc(),
                                              Promise.due_on.desc()).limit(6)).all(),
        complaints=db.session.scalars(select(Complaint).where(Complaint.customer_id == customer.id)
                                      .order_by((Complaint.status == "open").desc(),
                                                Complaint.received_at.desc()).limit(5)).all(),
        can_contact=can_contact(current_user, customer),
        offer=_offer(store, customer.reactivation_category),
        tags=tags_of([customer.id]).get(customer.id, []),
        referrer=db.session.get(Customer, customer.referred_by_id)
        if customer.referred_by_id else None)


@bp.post("/<int:customer_id>/reveal")
@login_required
def reveal(customer_id):
    """A manager or owner shows a number she is entitled to; each reveal is audited."""
    customer = get_or_404(Customer, customer_id)
    policy.require(current_user, policy.REVEAL_PHONE, customer)
    audit("reveal_phone", target=customer)
    db.session.commit()
    revealed = [i for i in session.get(REVEALED, []) if i != customer.id][-49:]
    session[REVEALED] = revealed + [customer.id]
    return redirect(url_for("customers.detail", customer_id=customer.id))


__all__ = ["can_edit", "can_see_phone"]
