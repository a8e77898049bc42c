"""The one place that decides which store a request sees; every query goes through it."""
from flask import abort, session
from flask_login import current_user

from kq.extensions import db
from kq.models import Store


def signed_in():
    """The signed-in user, or None when no one is (an anonymous visitor). current_user looks her
    up again through five proxies on each use: code asking several things of her calls this
    once. Outside a request it fails as current_user.is_authenticated does."""
    user = current_user._get_current_object()
    return user if user.is_authenticated else None


def current_store_id(user=False):
    """Staff see their own store; an owner sees the store she switched to (default: her own).
    `user`: signed_in() when the caller has it already."""
    if user is False:
        user = signed_in()
    if user is None:
        return None
    if user.is_owner:
        chosen = session.get("store_id")
        if chosen and db.session.get(Store, chosen) is not None:
            return chosen
    return user.store_id


def current_store(user=False):
    # session.get uses the identity map: after the first call in a request it costs no query.
    store_id = current_store_id(user)
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
