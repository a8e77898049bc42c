"""Manage → Settings: every threshold and amount of the SPEC, as this store's own setting."""
from datetime import timedelta

import phonenumbers
from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_date, gettext as _
from flask_login import current_user

from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.scoping import current_store
from kq.services import ServiceError
from kq.services import settings as service


def _readable(phone):
    """+862162345678 → 021 6234 5678: as it is dialled, with the area code's 0."""
    try:
        number = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL
                                      if number.country_code == 86 else
                                      phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _page(store, entered=None, errors=None, status=200):
    now = service.current(store)
    waiting, start = service.pending(store)
    shown = {s.name: s.shown(waiting.get(s.name, now[s.name])) for s in service.SETTINGS}
    if now["phone"]:
        shown["phone"] = _readable(now["phone"])
    errors = {k: [v] for k, v in (errors or {}).items()}
    fields = [{"s": s, "value": (entered or shown)[s.name], "errors": errors.get(s.name),
               "now": s.shown(now[s.name]) if s.name in waiting else None}
              for s in service.SETTINGS]
    sections = [(key, title, hint, [f for f in fields if f["s"].section == key])
                for key, (title, hint) in service.SECTIONS.items()]
    return render_template("manager/settings.html", store=store, sections=sections,
                           wrong=[f["s"] for f in fields if f["errors"]],
                           timezones=service.timezones(), start=start,
                           tomorrow=store.today() + timedelta(days=1)), status


@bp.route("/settings", methods=["GET", "POST"])
@manager_required
def settings():
    store = current_store()
    if request.method == "GET":
        return _page(store)
    try:
        changed, start = service.save_settings(store, request.form, current_user)
    except ServiceError as error:
        entered = {s.name: request.form.get(s.name, "") for s in service.SETTINGS}
        return _page(store, entered, error.message, 422)
    if not changed:
        flash(_("Nothing changed."), "info")
    elif start and any(name in service.WAITING for name in changed):
        flash(_("Saved. The new thresholds take effect on %(day)s, at the daily run.",
                day=format_date(start, "medium")), "success")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for("manager.settings"))
