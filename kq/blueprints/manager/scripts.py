"""Manage → Scripts (话术, SPEC §5): the store's scripts per channel, an editor with a live
preview on a real customer, and the SMS rules enforced on save (422 with the field's message).
Today's one text per checklist kind stays at /manager/templates, reached from here."""
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from kq import labels, scripts
from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.extensions import db
from kq.models import Customer, MessageTemplate, User
from kq.models.messaging import (CAMPAIGN_PHASES, SCRIPT_CHANNELS, SPOKEN_CHANNELS,
                                 MessageScript)
from kq.scoping import current_store, get_or_404
from kq.services import messaging

CHANNEL_LABELS = {
    "sms": _l("SMS"), "wechat": _l("WeChat"), "phone": _l("Phone script"),
    "moments": _l("Moments post"), "broadcast": _l("Store broadcast"),
    "voice": _l("Voice message"),
}
PHASE_LABELS = {
    "campaign_notice": _l("Campaign: notice"), "campaign_reminder": _l("Campaign: reminder"),
    "campaign_gift": _l("Campaign: gift to collect"), "campaign_thanks": _l("Campaign: thank you"),
}
LOCALE_LABELS = {"zh_Hans": "简体中文", "zh_Hant": "繁體中文", "en": "English"}
MAX_NAME = 80
PREVIEW_CUSTOMERS = 30


def purpose_labels():
    return {**{k: v for k, v in labels.KINDS.items()}, **PHASE_LABELS, "custom": _l("Other")}


def _preview_customers(store):
    """Real customers to preview on: the longest greeting names first (the worst case), then
    the most recent ones."""
    alive = (Customer.store_id == store.id, Customer.deleted_at.is_(None))
    longest = db.session.scalars(select(Customer).where(*alive).order_by(
        func.length(Customer.greeting_name).desc(), Customer.id).limit(5)).all()
    recent = db.session.scalars(select(Customer).where(*alive).order_by(
        Customer.id.desc()).limit(PREVIEW_CUSTOMERS)).all()
    seen, out = set(), []
    for c in longest + recent:
        if c.id not in seen:
            seen.add(c.id)
            out.append(c)
    return out


def _sample_values(store):
    worst = scripts.longest_values(store)
    return {"gift": worst["gift"] or _("face mask"), "date": store.today(),
            "pickup_date": store.today()}


def analyse(store, channel, body, customer=None):
    """What the editor shows for a text: the preview on a customer, its length, the rules."""
    staff = current_user
    sample = _sample_values(store)
    text = messaging.render(body, customer, staff=staff, store=store, **sample) if body else ""
    out = {"text": text, "length": len(text), "worst": None, "limit": None, "over": False,
           "seconds": None,
           "voice_limit": store.voice_limit_seconds, "problems": []}
    unknown = scripts.unknown_placeholders(body or "")
    if unknown:
        out["problems"].append(scripts.problem_text(
            "unknown", {"names": "、".join("{" + u + "}" for u in unknown)}))
    if channel == "sms":
        out["limit"] = store.text_limit
        # The counter shows what the server judges on save (the longest names of the store,
        # the longest sender), not the previewed customer, so the two never disagree.
        out["worst"] = messaging.sms_worst_length(body, store)
        out["over"] = out["worst"] > store.text_limit
        out["problems"] = [scripts.problem_text(code, params)
                           for code, params in messaging.check_sms(body, store)]
    if channel in SPOKEN_CHANNELS:
        out["seconds"] = messaging.speaking_seconds(text)
    return out


def _form_values():
    f = request.form
    return {"channel": f.get("channel") or "", "purpose": f.get("purpose") or "custom",
            "locale": f.get("locale") or "", "name": (f.get("name") or "").strip(),
            "body": (f.get("body") or "").strip(), "active": f.get("active") == "1",
            "today": f.get("today") == "1"}


def _validate(store, v):
    errors = {}
    if v["channel"] not in SCRIPT_CHANNELS:
        errors["channel"] = _("Choose a channel.")
    if v["purpose"] not in purpose_labels():
        errors["purpose"] = _("Choose what the script is for.")
    if v["locale"] not in LOCALE_LABELS:
        errors["locale"] = _("Choose a language.")
    if not v["name"]:
        errors["name"] = _("Give the script a name.")
    elif len(v["name"]) > MAX_NAME:
        errors["name"] = _("At most %(n)d characters.", n=MAX_NAME)
    if not v["body"]:
        errors["body"] = _("The text is empty.")
    elif len(v["body"]) > messaging.MAX_BODY:
        errors["body"] = _("At most %(n)d characters.", n=messaging.MAX_BODY)
    else:
        if v["channel"] == "sms":
            problems = messaging.check_sms(v["body"], store)
        else:
            unknown = scripts.unknown_placeholders(v["body"])
            problems = [("unknown", {"names": "、".join("{" + u + "}" for u in unknown)})] \
                if unknown else []
        if problems:
            errors["body"] = " ".join(scripts.problem_text(c, p) for c, p in problems)
    if v["today"] and not (v["channel"] == "sms" and v["purpose"] in scripts.DEFAULTS):
        errors["today"] = _("Only a text message for a checklist reason can be used on Today.")
    return errors


def _editor(store, script, values, errors, status=200):
    customers = _preview_customers(store)
    chosen = customers[0] if customers else None
    return render_template(
        "manager/scripts_edit.html", script=script, v=values, errors=errors, store=store,
        channels=CHANNEL_LABELS, purposes=purpose_labels(), locales=LOCALE_LABELS,
        customers=customers, spoken=SPOKEN_CHANNELS, rate=scripts.SPEAKING_RATE,
        checklist_kinds=list(scripts.DEFAULTS),
        analysis=analyse(store, values["channel"], values["body"], chosen)), status


@bp.route("/scripts")
@manager_required
def scripts_index():
    store = current_store()
    channel = request.args.get("channel") if request.args.get("channel") in SCRIPT_CHANNELS else ""
    # The scripts in the language she reads the app in, unless she asks for another or all.
    wanted = request.args.get("locale")
    if wanted == "all":
        locale = ""
    elif wanted in LOCALE_LABELS:
        locale = wanted
    else:
        from kq.i18n import select_locale

        locale = select_locale() if select_locale() in LOCALE_LABELS else ""
    query = select(MessageScript).where(MessageScript.store_id == store.id)
    if channel:
        query = query.where(MessageScript.channel == channel)
    if locale:
        query = query.where(MessageScript.locale == locale)
    order = list(purpose_labels())
    rows = sorted(db.session.scalars(query).all(), key=lambda r: (
        SCRIPT_CHANNELS.index(r.channel) if r.channel in SCRIPT_CHANNELS else 99,
        order.index(r.purpose) if r.purpose in order else 99, r.locale, r.id))
    today_bodies = scripts.store_bodies(store)
    return render_template("manager/scripts.html", rows=rows, channel=channel, locale=locale,
                           channels=CHANNEL_LABELS, purposes=purpose_labels(),
                           locales=LOCALE_LABELS, today_bodies=today_bodies, store=store)


@bp.route("/scripts/new", methods=["GET", "POST"])
@manager_required
def script_new():
    store = current_store()
    if request.method == "GET":
        channel = request.args.get("channel")
        values = {"channel": channel if channel in SCRIPT_CHANNELS else "sms",
                  "purpose": "custom", "locale": "zh_Hans", "name": "",
                  "body": "{greeting}您好，—{staff}", "active": True, "today": False}
        return _editor(store, None, values, {})
    values = _form_values()
    errors = _validate(store, values)
    if errors:
        return _editor(store, None, values, errors, 422)
    script = MessageScript(store_id=store.id)
    db.session.add(script)
    _save(store, script, values)
    flash(_("Saved."), "success")
    return redirect(url_for("manager.scripts_index", channel=script.channel) + f"#s-{script.id}")


@bp.route("/scripts/<int:script_id>", methods=["GET", "POST"])
@manager_required
def script_edit(script_id):
    store = current_store()
    script = get_or_404(MessageScript, script_id)
    if request.method == "GET":
        values = {"channel": script.channel, "purpose": script.purpose,
                  "locale": script.locale, "name": script.name, "body": script.body,
                  "active": script.active,
                  "today": script.channel == "sms" and script.purpose in scripts.DEFAULTS
                  and scripts.store_bodies(store).get(script.purpose) == script.body}
        return _editor(store, script, values, {})
    values = _form_values()
    errors = _validate(store, values)
    if errors:
        return _editor(store, script, values, errors, 422)
    _save(store, script, values)
    flash(_("Saved."), "success")
    return redirect(url_for("manager.scripts_index", channel=script.channel) + f"#s-{script.id}")


def _save(store, script, v):
    script.channel, script.purpose, script.locale = v["channel"], v["purpose"], v["locale"]
    script.name, script.body, script.active = v["name"], v["body"], v["active"]
    script.updated_by_id = current_user.id
    if v["today"]:
        # Today's text for this checklist kind is this script's text (one system: Today reads
        # the store's text per kind, which this sets).
        row = db.session.scalar(select(MessageTemplate).where(
            MessageTemplate.store_id == store.id, MessageTemplate.kind == v["purpose"],
            MessageTemplate.channel == "sms"))
        if row is None:
            row = MessageTemplate(store_id=store.id, kind=v["purpose"], channel="sms")
            db.session.add(row)
        row.body, row.updated_by_id = v["body"], current_user.id
    db.session.commit()


@bp.route("/scripts/preview", methods=["POST"])
@manager_required
def script_preview():
    """JSON: {channel, body, customer_id} → the text for that customer, its length against the
    store's limit, the spoken seconds, and the rules it breaks (checked on the longest names).
    Reads only (POST for the CSRF token and the body's size)."""
    store = current_store()
    data = request.get_json(silent=True) or {}
    channel = data.get("channel")
    if channel not in SCRIPT_CHANNELS:
        return jsonify(error=_("Choose a channel.")), 422
    body = str(data.get("body") or "")[:messaging.MAX_BODY]
    customer = None
    try:
        customer_id = int(data.get("customer_id") or 0)
    except (TypeError, ValueError):
        customer_id = 0
    if customer_id:
        customer = db.session.scalar(select(Customer).where(
            Customer.id == customer_id, Customer.store_id == store.id,
            Customer.deleted_at.is_(None)))
        if customer is None:
            abort(404)
    db.session.rollback()  # nothing to keep
    return jsonify(analyse(store, channel, body, customer))


def staff_names(store):
    return dict(db.session.execute(select(User.id, User.display_name).where(
        User.store_id == store.id)).all())


__all__ = ["CHANNEL_LABELS", "PHASE_LABELS", "LOCALE_LABELS", "purpose_labels", "staff_names",
           "CAMPAIGN_PHASES"]
