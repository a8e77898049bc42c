"""A customer's personal information (PIPL, SPEC §10): her consent on the card, and for managers
the access-request export of everything about her and delete-by-anonymising, each audited."""
import io
import json

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from kq.auth import manager_required
from kq.blueprints.customers import bp
from kq.blueprints.customers.routes import can_edit
from kq.extensions import db
from kq.models import Customer, Store
from kq.scoping import get_or_404
from kq.services import ServiceError, exporting
from kq.services import privacy as service
from kq.services.privacy_files import workbook


@bp.app_template_global()
def consent_sources():
    """The ways consent is given, for the card's consent form: {code: label}."""
    return service.CONSENT_SOURCES


@bp.app_template_filter("person")
def person(name):
    """{{ customer.greeting_name|person }}: a deleted customer's placeholder name, localised."""
    return service.display_name(name)


def _live(customer_id):
    customer = get_or_404(Customer, customer_id)
    if customer.deleted_at is not None:
        abort(404)
    return customer


@bp.post("/<int:customer_id>/consent")
@login_required
def consent(customer_id):
    """She gives consent (with how) or takes it back. Anyone of the store may record that she
    withdrew; giving it is for whoever may edit her card."""
    customer = _live(customer_id)
    given = request.form.get("given") == "yes"
    if given and not can_edit(current_user, customer):
        abort(403)
    try:
        changed = service.set_consent(customer, given, request.form.get("source") or None)
    except ServiceError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("customers.detail", customer_id=customer.id) + "#consent"), 303
    db.session.commit()
    if changed == "consent_given":
        flash(_("Consent recorded."), "success")
    elif changed == "consent_withdrawn":
        flash(_("Consent withdrawn: she gets no more offers or bulk messages."), "success")
    return redirect(url_for("customers.detail", customer_id=customer.id) + "#consent"), 303


@bp.route("/<int:customer_id>/privacy")
@manager_required
def privacy(customer_id):
    customer = get_or_404(Customer, customer_id)
    return render_template("customers/privacy.html", customer=customer,
                           history=service.consent_history(customer),
                           sources=service.CONSENT_SOURCES)


def _file_name(customer, ext):
    store = db.session.get(Store, customer.store_id)
    return exporting.file_name(store, _("Customer %(id)d", id=customer.id), store.today(), ext)


@bp.post("/<int:customer_id>/privacy/export")
@manager_required
def export(customer_id):
    """Her data as JSON or as a readable workbook; audited before the file leaves. A deleted
    customer's export shows what is left of her (nothing personal)."""
    customer = get_or_404(Customer, customer_id)
    fmt = request.form.get("format", "")
    if fmt not in ("json", "xlsx"):
        abort(400)
    data = service.collect(customer)
    store = db.session.get(Store, customer.store_id)
    if fmt == "json":
        body = io.BytesIO(json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))
        mimetype = "application/json"
    else:
        body = workbook(data, store)
        mimetype = exporting.XLSX_TYPE
    service.record_export(customer, fmt)
    db.session.commit()
    return send_file(body, mimetype=mimetype, as_attachment=True,
                     download_name=_file_name(customer, fmt))


@bp.route("/<int:customer_id>/privacy/delete", methods=["GET", "POST"])
@manager_required
def delete(customer_id):
    """The confirm step (what goes, what stays, a box to tick), then the anonymising."""
    customer = _live(customer_id)
    if request.method == "POST":
        if request.form.get("confirm") != "yes":
            return render_template("customers/privacy_delete.html", customer=customer,
                                   error=_("Tick the box to confirm."),), 422
        service.anonymise(customer, by=current_user)
        flash(_("The customer was deleted: her personal information is gone; visits and "
                "amounts stay for the books."), "success")
        return redirect(url_for("customers.privacy", customer_id=customer.id)), 303
    return render_template("customers/privacy_delete.html", customer=customer, error=None)
