"""Writing audit events in the same transaction as the act they record."""
from flask import has_request_context, request
from flask_login import current_user

from kq.extensions import db
from kq.models import AuditEvent


def audit(action, *, store_id=None, target=None, detail=None, user=None):
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    event = AuditEvent(
        action=action,
        store_id=store_id if store_id is not None else getattr(target, "store_id", None),
        user_id=user.id if user is not None else None,
        target_type=type(target).__name__.lower() if target is not None else None,
        target_id=getattr(target, "id", None),
        detail=detail,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event
