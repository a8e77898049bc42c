"""The one place that decides which store a request sees; every query goes through it."""
from flask import abort, session
from flask_login import current_user

from kq.extensions import db
from kq.models import Store


def current_store_id():
    """Staff see their own store; an owner sees the store she switched to (default: her own)."""
    if not current_user.is_authenticated:
        return None
    if current_user.is_owner:
        chosen = session.get("store_id")
        if chosen and db.session.get(Store, chosen) is not None:
            return chosen
    return current_user.store_id


def current_store():
    # session.get uses the identity map: after the first call in a request it costs no query.
    store_id = current_store_id()
    return db.session.get(Store, store_id) if store_id else None


def accessible_stores():
    if current_user.is_owner:
        return db.session.scalars(db.select(Store).order_by(Store.id)).all()
    return [current_user.store]


def scoped(model):
    """SELECT model WHERE store_id = the current store."""
    return db.select(model).where(model.store_id == current_store_id())


def get_or_404(model, ident):
    """A row of the current store, else 404 — another store's id looks like no row at all."""
    try:
        ident = int(ident)
    except (TypeError, ValueError):
        abort(404)
    if not 1 <= ident <= 2 ** 31 - 1:  # ids are 32-bit: larger ones would not even bind
        abort(404)
    row = db.session.scalar(scoped(model).where(model.id == ident))
    if row is None:
        abort(404)
    return row
