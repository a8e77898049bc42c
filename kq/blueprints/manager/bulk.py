"""Manage → Bulk messages (SPEC §5): a segment and a text → a draft with its counts (to send,
skipped do-not-contact, skipped without consent, without a mobile) → confirm → the send job,
whose progress the batch's page shows."""
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from kq import scripts
from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.blueprints.manager.scripts import CHANNEL_LABELS, purpose_labels
from kq.extensions import db
from kq.models import Customer, User
from kq.models.messaging import MessageBatch, MessageScript, OutboundMessage
from kq.scoping import current_store, get_or_404
from kq.services import ServiceError, messaging, segments

PRESETS = {  # quick picks on the form: (label, spec)
    "dormant_180": {"dormant_min_days": 180},
    "dormant_90": {"dormant_min_days": 90},
    "dormant": {"status": "dormant"},
    "key": {"key": "key"},
}
STATUS_LABELS = {"draft": _l("Draft"), "confirmed": _l("Waiting"), "running": _l("Sending"),
                 "done": _l("Done"), "failed": _l("Failed")}


def _spec_from(args):
    return {"tiers": args.getlist("tiers"), "key": args.get("key") or "all",
            "status": args.get("status") or "",
            "tags": [t for t in (args.get("tags") or "").replace("，", ",").split(",")],
            "dormant_min_days": args.get("dormant_min_days") or None,
            "dormant_max_days": args.get("dormant_max_days") or None,
            "staff_ids": args.getlist("staff_ids")}


def _segment_messages(errors):
    messages = {"invalid": _("Not a valid choice."),
                "below_min": _("The most days must not be below the least.")}
    return {field: messages.get(code, code) for field, code in errors.items()}


def _staff(store):
    return db.session.scalars(select(User).where(User.store_id == store.id,
                                                 User.active.is_(True))
                              .order_by(User.role, User.display_name)).all()


def _form(store, spec, values, errors, status=200):
    sms_scripts = db.session.scalars(select(MessageScript).where(
        MessageScript.store_id == store.id, MessageScript.active.is_(True),
        MessageScript.channel.in_(messaging.BULK_CHANNELS))
        .order_by(MessageScript.channel, MessageScript.purpose, MessageScript.locale)).all()
    try:
        counts = messaging.count_skips(store, segments.segment_ids(store, spec), "sms")
        split = segments.segment_counts(store, spec)
    except segments.SegmentError:
        counts, split = None, None
    recent = db.session.scalars(select(MessageBatch).where(MessageBatch.store_id == store.id)
                                .order_by(MessageBatch.id.desc()).limit(20)).all()
    return render_template("manager/bulk.html", spec=spec, v=values, errors=errors,
                           store=store, staff=_staff(store), scripts_=sms_scripts,
                           counts=counts, split=split, recent=recent, presets=PRESETS,
                           channels=CHANNEL_LABELS, purposes=purpose_labels(),
                           statuses=STATUS_LABELS), status


@bp.route("/bulk")
@manager_required
def bulk_index():
    store = current_store()
    preset = request.args.get("preset")
    spec = dict(PRESETS[preset]) if preset in PRESETS else _spec_from(request.args)
    try:
        spec = segments.clean(spec)
        errors = {}
    except segments.SegmentError as e:
        errors = _segment_messages(e.errors)
        spec = {}
    return _form(store, spec, {"script_id": request.args.get("script_id") or "", "body": ""},
                 errors, 422 if errors else 200)


@bp.route("/bulk/count")
@manager_required
def bulk_count():
    """JSON: the live count of a segment as the form is filled in."""
    store = current_store()
    try:
        spec = segments.clean(_spec_from(request.args))
    except segments.SegmentError as e:
        return jsonify(errors=_segment_messages(e.errors)), 422
    counts = messaging.count_skips(store, segments.segment_ids(store, spec), "sms")
    return jsonify(**counts, **{"key": segments.segment_counts(store, spec)["key"]},
                   describe=segments.describe(spec))


@bp.route("/bulk", methods=["POST"])
@manager_required
def bulk_start():
    store = current_store()
    form = request.form
    try:
        spec = segments.clean(_spec_from(form))
    except segments.SegmentError as e:
        return _form(store, {}, form, _segment_messages(e.errors), 422)
    script = None
    if form.get("script_id"):
        try:
            script = get_or_404(MessageScript, int(form["script_id"]))
        except ValueError:
            abort(404)
    body = (form.get("body") or "").strip() or None
    try:
        batch = messaging.start_batch(store, by=current_user, spec=spec, script=script,
                                      body=body, gift=(form.get("gift") or "").strip() or None)
    except ServiceError as e:
        db.session.rollback()
        if e.field in ("body", "channel"):
            params = getattr(e, "params", None) or {}
            message = scripts.problem_text(e.code, params) if e.code in (
                "empty", "unknown", "greeting_first", "unsigned", "too_long") else {
                "channel_not_bulk": _("Bulk messages go by SMS or WeChat."),
                "too_long_body": _("At most %(n)d characters.", n=messaging.MAX_BODY)}.get(
                e.code, e.code)
            if e.code == "unknown":
                names = "、".join("{" + u + "}" for u in scripts.unknown_placeholders(
                    body or script.body))
                message = scripts.problem_text("unknown", {"names": names})
            return _form(store, spec, form, {"body": message}, 422)
        return _form(store, spec, form, _segment_messages({e.field: e.code}), 422)
    db.session.commit()
    return redirect(url_for("manager.bulk_show", batch_id=batch.id))


def _sample(batch, store):
    """Three rendered messages, as the job will make them."""
    ids = messaging.batch_ids(batch)
    customers = db.session.scalars(select(Customer).where(
        Customer.id.in_(ids.scalar_subquery()), messaging.eligible_clause(batch.channel))
        .order_by(Customer.id).limit(3)).all()
    staff = messaging.store_staff(store)
    values = (batch.segment or {}).get("values") or {}
    return [(c, messaging.render(batch.body, c,
                                 staff=messaging.sender_for(c, batch.created_by_id, staff),
                                 store=store, **values)) for c in customers]


@bp.route("/bulk/<int:batch_id>")
@manager_required
def bulk_show(batch_id):
    store = current_store()
    batch = get_or_404(MessageBatch, batch_id)
    segment = batch.segment or {}
    names = dict(db.session.execute(select(User.id, User.display_name).where(
        User.store_id == store.id)).all())
    described = segments.describe(segment["spec"], names) if "spec" in segment else \
        _("%(n)d chosen customers", n=len(segment.get("customer_ids", [])))
    per_staff = db.session.execute(
        select(User.display_name, OutboundMessage.status, db.func.count())
        .join(User, User.id == OutboundMessage.staff_id)
        .where(OutboundMessage.batch_id == batch.id)
        .group_by(User.display_name, OutboundMessage.status)).all()
    quiet = messaging.in_quiet_hours(store)
    return render_template("manager/bulk_show.html", batch=batch, described=described,
                           sample=_sample(batch, store) if batch.status == "draft" else [],
                           per_staff=per_staff, store=store, quiet=quiet,
                           statuses=STATUS_LABELS, channels=CHANNEL_LABELS)


@bp.route("/bulk/<int:batch_id>/confirm", methods=["POST"])
@manager_required
def bulk_confirm(batch_id):
    batch = get_or_404(MessageBatch, batch_id)
    if batch.status != "draft":
        flash(_("This batch was confirmed already."), "success")
        return redirect(url_for("manager.bulk_show", batch_id=batch.id))
    flash(_("Confirmed: the messages are being prepared."), "success")
    target = url_for("manager.bulk_show", batch_id=batch_id)
    messaging.confirm_batch(batch, by=current_user)
    return redirect(target)


@bp.route("/bulk/<int:batch_id>/discard", methods=["POST"])
@manager_required
def bulk_discard(batch_id):
    batch = get_or_404(MessageBatch, batch_id)
    if batch.status != "draft":
        abort(409)
    db.session.delete(batch)
    db.session.commit()
    flash(_("Draft discarded."), "success")
    return redirect(url_for("manager.bulk_index"))
