"""Assignments and handover (SPEC §7): a bulk change is shown first — how many, to whom, from
whom — then made, and can be undone for a while (kq.services.assignments)."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from kq import labels
from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.extensions import db
from kq.formtools import flash_refusal
from kq.models import Assignment, Customer
from kq.scoping import current_store, scoped
from kq.services import ServiceError
from kq.services.assignments import (KEEP, UNDO_MINUTES, give, hand_over, plan, undo,
                                     undo_until, undoable)
from kq.services.reports import dormant_now, staff_of

BULK_LIMIT = 2000
PAGE = 50


def _customer_filter(store, args):
    """The same filters as the customer list (one code path), scoped to this store."""
    from kq.blueprints.customers.routes import _filters

    return _filters(store, args)


def _chosen_staff(store, ids):
    wanted = {int(i) for i in ids if str(i).isdigit() and len(str(i)) < 10}
    return [s for s in staff_of(store) if s.id in wanted]


def _format_n(n):
    from flask_babel import format_decimal

    return format_decimal(n)


def join_names(names):
    """Names as the reader's language lists them (李小美、刘雪和张芳; A, B and C)."""
    from babel.lists import format_list
    from flask_babel import get_locale

    return format_list(list(names), locale=get_locale() or "zh_Hans") if names else ""


def _named(counts, staff):
    """[(name, n)] from {staff id or None: n}, most first; None reads "Unassigned"."""
    names = {s.id: s.display_name for s in staff}
    return [(names.get(k) or _("Unassigned"), n)
            for k, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n]


FILTERS = ("q", "status", "days", "staff", "key", "tier", "band", "tag", "window", "sort")


def _filter_args(form):
    """The list's filters carried through the form (the customers "all" stands for)."""
    return {k: v for k, v in form.items() if k in FILTERS and v}


def _assign_request(store, form):
    """(staff chosen, customers meant) from the list's form or its confirmation."""
    targets = _chosen_staff(store, form.getlist("to_staff"))
    if form.get("scope") == "all":
        query, _f = _customer_filter(store, form)
        customers = db.session.scalars(query.limit(BULK_LIMIT)).all()
    else:
        ids = [int(i) for i in form.getlist("customer") if i.isdigit() and len(i) < 10]
        customers = db.session.scalars(scoped(Customer).where(
            Customer.id.in_(ids), Customer.deleted_at.is_(None))).all() if ids else []
    return targets, customers


def _question(n, targets):
    if len(targets) == 1:
        return _("Give %(n)s customers to %(name)s?", n=_format_n(n),
                 name=targets[0].display_name)
    return _("Spread %(n)s customers evenly over %(names)s?", n=_format_n(n),
             names=join_names(s.display_name for s in targets))


def _review(store, customers, targets, *, exclude_current=False, status=200, **page):
    """The confirmation page of a bulk change: how many, to whom, from whom; nothing written.
    `page`: action, question, hidden, cancel, confirm_label; optional split (who gets or keeps
    how many), split_label, picker (staff to choose from), changed (the list moved since)."""
    staff = staff_of(store, include_inactive=True)
    outline = plan(customers, targets, exclude_current=exclude_current) if targets else None
    if outline:
        page.setdefault("split", _named(outline["to"], staff))
        page.setdefault("sources", _named(outline["from"], staff))
    return render_template("manager/confirm.html", outline=outline, minutes=UNDO_MINUTES,
                           expected=len(customers), **page), status


@bp.route("/assignments", methods=["GET", "POST"])
@manager_required
def assignments():
    store = current_store()
    if request.method == "POST":
        return _review_assignment(store)
    query, f = _customer_filter(store, request.args)
    page = db.paginate(query.options(joinedload(Customer.assigned_staff)), per_page=PAGE,
                       error_out=False)
    staff = staff_of(store)
    counts = dormant_now(store, store.dormant_after_days)
    key_counts = dict(db.session.execute(
        select(Customer.assigned_staff_id, func.count()).where(
            Customer.store_id == store.id, Customer.deleted_at.is_(None),
            Customer.is_key.is_(True)).group_by(Customer.assigned_staff_id)).all())
    args = {k: v for k, v in f.items() if v}
    return render_template("manager/assignments.html", store=store, page=page, f=f, args=args,
                           staff=staff, counts=counts, key_counts=key_counts, labels=labels,
                           today=store.today(), proposals=proposal_count(store),
                           batches=undoable(store), undo_until=undo_until,
                           join_names=join_names)


def _assign_hidden(form, customers):
    hidden = [("scope", form.get("scope") or "selected")]
    if form.get("scope") == "all":
        hidden += list(_filter_args(form).items())
    else:
        hidden += [("customer", str(c.id)) for c in customers]
    return hidden


def _back_to_list(form):
    return url_for("manager.assignments", **_filter_args(form))


def _review_assignment(store, changed=None):
    """Step one of a bulk assignment: say how many go to whom, and ask."""
    form = request.form
    targets, customers = _assign_request(store, form)
    if not customers:
        flash(_("Choose at least one customer."), "error")
        return redirect(_back_to_list(form))
    hidden = _assign_hidden(form, customers)
    if not targets:
        return _review(store, customers, [], action=url_for("manager.assignments"),
                       question=_("Give %(n)s customers to whom?", n=_format_n(len(customers))),
                       hidden=hidden, cancel=_back_to_list(form), confirm_label=_("Continue"),
                       picker=staff_of(store))
    hidden += [("to_staff", str(s.id)) for s in targets]
    return _review(store, customers, targets, action=url_for("manager.assign_confirm"),
                   question=_question(len(customers), targets), hidden=hidden,
                   cancel=_back_to_list(form), confirm_label=_("Yes, give them"),
                   changed=changed, status=409 if changed else 200)


@bp.post("/assignments/confirm")
@manager_required
def assign_confirm():
    """Step two: the same customers as shown (else ask again), spread, undoable for a while."""
    store = current_store()
    form = request.form
    targets, customers = _assign_request(store, form)
    if not targets or not customers:
        flash(_("Choose at least one member of staff.") if customers else
              _("Choose at least one customer."), "error")
        return redirect(_back_to_list(form))
    if str(len(customers)) != form.get("expected"):
        return _review_assignment(store, changed=_(
            "The list changed meanwhile: it now holds %(n)s customers.",
            n=_format_n(len(customers))))
    received, event = give(store, customers, targets, by=current_user)
    names = {s.id: s.display_name for s in targets}
    flash(_("%(n)d customers assigned: %(detail)s", n=sum(received.values()),
            detail=", ".join(f"{names[k]} {v}" for k, v in received.items())), "success")
    return redirect(_back_to_list(form))


@bp.post("/undo/<int:event_id>")
@manager_required
def undo_batch(event_id):
    store = current_store()
    back = {"proposals": "manager.proposals", "index": "manager.index"}.get(
        request.form.get("back"), "manager.assignments")
    try:
        result = undo(store, event_id, by=current_user)
    except LookupError:
        abort(404)
    except ServiceError as error:
        db.session.rollback()
        flash_refusal(error)
        return redirect(url_for(back))
    message = _("Undone: %(n)d customers are back as they were.", n=result["restored"])
    if result["action"] == KEEP:
        message = _("Undone: %(n)d customers are proposed for reassignment again.",
                    n=result["restored"])
    if result["skipped"]:
        message += " " + _("%(n)d were moved again since and stay where they are.",
                           n=result["skipped"])
    flash(message, "success")
    return redirect(url_for(back))


@bp.route("/handover", methods=["GET", "POST"])
@manager_required
def handover():
    """A leaving beautician's customers, spread evenly over the staff chosen, in one step
    (the form names her and how many she has); undoable for a while."""
    store = current_store()
    staff = staff_of(store)
    if request.method == "POST":
        leaving = next((s for s in staff if str(s.id) == request.form.get("leaving")), None)
        targets = [s for s in _chosen_staff(store, request.form.getlist("staff"))
                   if leaving is None or s.id != leaving.id]
        if leaving is None:
            flash(_("Choose who is leaving."), "error")
        elif not targets:
            flash(_("Choose at least one member of staff to take her customers."), "error")
        else:
            received, _event = hand_over(store, leaving, targets, by=current_user,
                                         deactivate=request.form.get("deactivate"))
            names = {s.id: s.display_name for s in targets}
            flash(_("%(n)d customers of %(name)s handed over: %(detail)s",
                    n=sum(received.values()), name=leaving.display_name,
                    detail=", ".join(f"{names[k]} {v}" for k, v in received.items())),
                  "success")
            return redirect(url_for("manager.assignments"))
    counts = dormant_now(store, store.dormant_after_days)
    return render_template("manager/handover.html", staff=staff, counts=counts), \
        422 if request.method == "POST" else 200


def proposal_count(store):
    return db.session.scalar(select(func.count(Assignment.id)).where(
        Assignment.store_id == store.id, Assignment.ended_at.is_(None),
        Assignment.proposed_for_reassignment.is_(True)))
