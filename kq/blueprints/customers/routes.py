"""Customer cards: the list and one card, scoped to the current store."""
from flask import render_template, request
from flask_login import current_user, login_required

from kq.blueprints.customers import bp
from kq.extensions import db
from kq.masking import can_see_phone, masked_phone, national
from kq.models import Customer
from kq.scoping import current_store, get_or_404, scoped
from kq.scripts import message_for, sms_href, store_bodies, tel_href
from kq.services.contacts import can_contact

PAGE_SIZE = 30


@bp.route("/")
@login_required
def index():
    q = (request.args.get("q") or "").strip()[:40]
    query = scoped(Customer).where(Customer.deleted_at.is_(None))
    if q:
        query = query.where(Customer.name.contains(q) | Customer.phone.contains(q))
    page = db.paginate(query.order_by(Customer.last_visit_at.asc().nulls_first(), Customer.id),
                       per_page=PAGE_SIZE, error_out=False)
    return render_template("customers/index.html", page=page, q=q, store=current_store(),
                           masked_phone=masked_phone, can_see_phone=can_see_phone)


@bp.route("/<int:customer_id>")
@login_required
def detail(customer_id):
    customer = get_or_404(Customer, customer_id)
    store = current_store()
    links = None
    if can_contact(current_user, customer) and not customer.do_not_contact:
        text = message_for(store_bodies(store)["relationship_touch"], customer, current_user,
                           store, store.today())
        links = {"tel": tel_href(customer.phone), "sms": sms_href(customer.phone, text)}
    return render_template("customers/detail.html", customer=customer, store=store, links=links,
                           phone=customer.phone and (national(customer.phone)
                                                     if can_see_phone(current_user, customer)
                                                     else masked_phone(customer.phone)))
