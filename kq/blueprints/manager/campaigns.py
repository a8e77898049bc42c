"""Manage → Campaigns (客情活动, SPEC §8): the list, a campaign's page with its figures, and the
editor (segment with its live count, phases, touches, gifts, launch). Managers and the owner
only; to anyone else these pages do not exist (404, as the contract says)."""
from functools import wraps

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from kq.blueprints.manager import bp
from kq.extensions import db
from kq.formtools import flash_refusal
from kq.models import MANAGER, OWNER, Gift, User
from kq.models.campaign import AUDIENCES, TOUCH_CHANNELS, TOUCH_WHO
from kq.scoping import current_store
from kq.services import ServiceError
from kq.services import campaigns as svc


def campaigns_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role not in (MANAGER, OWNER):
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def _campaign(campaign_id):
    if not 1 <= campaign_id <= 2 ** 31 - 1:
        abort(404)
    try:
        return svc.get(current_store(), campaign_id)
    except LookupError:
        abort(404)


def _staff(store):
    return db.session.scalars(select(User).where(
        User.store_id == store.id, User.active.is_(True)).order_by(User.display_name)).all()


def _spec_from(form):
    """The segment fields of the editor as a spec (kq.services.segments)."""
    tags = [t.strip() for t in form.get("segment_tags", "").replace("，", ",").split(",")
            if t.strip()]
    return {"tiers": form.getlist("segment_tiers"), "key": form.get("segment_key") or "all",
            "status": form.get("segment_status") or "", "tags": tags,
            "dormant_min_days": form.get("segment_dormant_min_days") or None,
            "dormant_max_days": form.get("segment_dormant_max_days") or None,
            "staff_ids": [s for s in form.getlist("segment_staff_ids") if s.isdigit()]}


def _phases_from(form):
    return [(form.get(f"phase_name_{i}", ""), form.get(f"phase_start_{i}", ""),
             form.get(f"phase_end_{i}", "")) for i in range(svc.MAX_PHASES)]


def labels():
    return {
        "channel": {"sms": _("Text message"), "wechat": _("WeChat"), "phone": _("Phone call"),
                    "voice": _("Voice message"), "moments": _("Moments post"),
                    "broadcast": _("Store broadcast")},
        "who": {"broadcast": _("Store broadcast"), "staff": _("Her beautician, one-to-one"),
                "owner": _("The owner in person (key customers)")},
        "audience": {"all": _("Everyone in the campaign"), "key": _("Key customers only")},
        "state": {"upcoming": _("Upcoming"), "today": _("Today"), "past": _("Made")},
    }


@bp.route("/campaigns/")
@campaigns_required
def campaigns():
    store = current_store()
    rows = [(c, svc.counts(store, c)) for c in svc.for_store(store)]
    return render_template("manager/campaigns.html", rows=rows, today=store.today(),
                           store=store)


def _scripts_for_reader(scripts):
    """(scripts to list, how many more there are): the scripts in the reader's language, unless
    she asked for all (?scripts=all) or there are none in it."""
    from flask_babel import get_locale

    locale = str(get_locale() or "")
    mine = [s for s in scripts if s.locale == locale]
    if request.args.get("scripts") == "all" or not mine:
        return scripts, 0
    return mine, len(scripts) - len(mine)


def _editor(store, campaign, form=None, errors=None, status=200):
    from kq.services import segments
    from kq.services.messaging import store_scripts

    spec = _spec_from(form) if form is not None else (campaign.segment if campaign else {}) or {}
    try:
        live = segments.segment_counts(store, spec)
    except segments.SegmentError:
        live = None
    if campaign is not None and campaign.launched:
        live = svc.counts(store, campaign)
    phases = _phases_from(form) if form is not None else (
        [(p.name, p.starts_on.isoformat(), p.ends_on.isoformat()) for p in campaign.phases]
        if campaign else [])
    phases = (phases + [("", "", "")] * svc.MAX_PHASES)[:max(3, len([p for p in phases
                                                                     if any(p)]) + 1)]
    scripts, other_scripts = _scripts_for_reader(store_scripts(store))
    return render_template(
        "manager/campaign_edit.html", store=store, campaign=campaign, form=form, spec=spec,
        live=live, phases=phases, errors=errors or {}, staff=_staff(store),
        scripts=scripts, other_scripts=other_scripts, gifts=db.session.scalars(select(Gift).where(
            Gift.store_id == store.id, Gift.active.is_(True)).order_by(Gift.name)).all(),
        needs=svc.gift_needs(store, campaign, live) if campaign and live else [],
        progress=svc.touch_progress(store, campaign) if campaign else [],
        labels=labels(), channels=TOUCH_CHANNELS, whos=TOUCH_WHO, audiences=AUDIENCES,
        today=store.today()), status


@bp.route("/campaigns/new")
@campaigns_required
def campaign_new():
    return _editor(current_store(), None)


@bp.post("/campaigns/")
@campaigns_required
def campaign_create():
    store = current_store()
    try:
        campaign = svc.save(store, None, name=request.form.get("name"),
                            goal=request.form.get("goal"), segment=_spec_from(request.form),
                            phases=_phases_from(request.form),
                            kickoff_notes=request.form.get("kickoff_notes"),
                            review_notes=request.form.get("review_notes"), by=current_user)
    except ServiceError as error:
        return _editor(store, None, request.form, error.message, 422)
    flash(_("Campaign saved as a draft. Add its touches and gifts, then launch it."), "success")
    return redirect(url_for("manager.campaign_edit", campaign_id=campaign.id)), 303


@bp.route("/campaigns/<int:campaign_id>")
@campaigns_required
def campaign(campaign_id):
    from kq.services import segments

    store = current_store()
    campaign = _campaign(campaign_id)
    size = svc.counts(store, campaign)
    numbers = svc.figures(store, campaign)
    return render_template(
        "manager/campaign.html", store=store, campaign=campaign, size=size, numbers=numbers,
        progress=svc.touch_progress(store, campaign), needs=svc.gift_needs(store, campaign, size),
        describe=segments.describe(campaign.segment or {}, {u.id: u.display_name
                                                             for u in _staff(store)}),
        labels=labels(), today=store.today(), window=svc.window(campaign)
        if campaign.starts_on else None)


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@campaigns_required
def campaign_edit(campaign_id):
    store = current_store()
    campaign = _campaign(campaign_id)
    if request.method == "GET":
        return _editor(store, campaign)
    try:
        svc.save(store, campaign, name=request.form.get("name"), goal=request.form.get("goal"),
                 segment=_spec_from(request.form), phases=_phases_from(request.form),
                 kickoff_notes=request.form.get("kickoff_notes", campaign.kickoff_notes),
                 review_notes=request.form.get("review_notes", campaign.review_notes),
                 by=current_user)
    except ServiceError as error:
        db.session.rollback()
        return _editor(store, _campaign(campaign_id), request.form, error.message, 422)
    flash(_("Saved."), "success")
    return redirect(url_for("manager.campaign_edit", campaign_id=campaign.id)), 303


@bp.route("/campaigns/count")
@campaigns_required
def campaign_count():
    """The segment's live size, split key/general, as the editor's fields change."""
    from kq.services import segments

    store = current_store()
    try:
        counts = segments.segment_counts(store, _spec_from(request.args))
    except segments.SegmentError:
        return jsonify(error="invalid", message=_("Check the segment's values.")), 422
    return jsonify(counts)


def _act(campaign_id, action, success, anchor=""):
    store = current_store()
    campaign = _campaign(campaign_id)
    try:
        result = action(store, campaign)
    except ServiceError as error:
        db.session.rollback()
        flash_refusal(error)
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=error.code, message=str(error.message)), 422
    except LookupError:
        abort(404)
    else:
        if callable(success):
            success = success(store, campaign, result)
        if isinstance(success, tuple):
            flash(*success)
        elif success:
            flash(success, "success")
    return redirect(url_for("manager.campaign_edit", campaign_id=campaign_id) + anchor), 303


@bp.post("/campaigns/<int:campaign_id>/touches")
@campaigns_required
def campaign_touch_add(campaign_id):
    f = request.form
    return _act(campaign_id, lambda store, c: svc.add_touch(
        store, c, day=f.get("day"), channel=f.get("channel"), who=f.get("who"),
        audience=f.get("audience") or "all", script_id=f.get("script_id") or None,
        body=f.get("body")), _("Touch added."), "#touches")


@bp.post("/campaigns/<int:campaign_id>/touches/<int:touch_id>/delete")
@campaigns_required
def campaign_touch_delete(campaign_id, touch_id):
    return _act(campaign_id, lambda store, c: svc.remove_touch(store, c, touch_id),
                _("Touch removed."), "#touches")


@bp.post("/campaigns/<int:campaign_id>/touches/<int:touch_id>/prepare")
@campaigns_required
def campaign_touch_prepare(campaign_id, touch_id):
    """Today's store broadcast as a bulk message draft, if the daily run has not made it."""
    store = current_store()
    campaign = _campaign(campaign_id)
    touch = next((t for t in campaign.touches if t.id == touch_id), None)
    if touch is None or touch.who != "broadcast":
        abort(404)
    if touch.batch_id is None:
        if touch.day > store.today():
            flash(_("This message is prepared on its day."), "error")
            return redirect(url_for("manager.campaign", campaign_id=campaign.id)), 303
        svc.draft_broadcasts(store, touch.day, by=current_user)
        db.session.commit()
    if touch.batch_id is None:
        flash(_("The text breaks a rule for texts (greeting first, signed, within the limit): "
                "change its script first."), "error")
        return redirect(url_for("manager.campaign", campaign_id=campaign.id)), 303
    return redirect(_batch_url(touch.batch_id)), 303


def _batch_url(batch_id):
    from flask import current_app

    for rule in current_app.url_map.iter_rules():
        if rule.endpoint.startswith("manager.") and "batch_id" in rule.arguments \
                and "GET" in rule.methods and rule.endpoint.endswith(("bulk_show", "batch",
                                                                     "bulk_batch", "bulk")):
            return url_for(rule.endpoint, batch_id=batch_id)
    return url_for("manager.campaigns")


@bp.post("/campaigns/<int:campaign_id>/gifts")
@campaigns_required
def campaign_gift_add(campaign_id):
    f = request.form
    return _act(campaign_id, lambda store, c: svc.add_gift(
        store, c, gift_id=f.get("gift_id"), audience=f.get("audience") or "key",
        pickup_after=f.get("pickup_after")), _gift_added, "#gifts")


def _gift_added(store, campaign, row):
    """One message: added, or added but short of stock (and so the launch waits)."""
    short = next((r for r in svc.gift_needs(store, campaign) if r["row"].id == row.id
                  and r["short"]), None)
    if short is None:
        return _("Gift added.")
    return (_("Gift added, but %(n)d short of stock: restock it or hold it for the key "
              "customers only before launching.", n=short["short"]), "error")


@bp.post("/campaigns/<int:campaign_id>/gifts/<int:row_id>/delete")
@campaigns_required
def campaign_gift_delete(campaign_id, row_id):
    return _act(campaign_id, lambda store, c: svc.remove_gift(c, row_id), _("Gift removed."),
                "#gifts")


@bp.post("/campaigns/<int:campaign_id>/launch")
@campaigns_required
def campaign_launch(campaign_id):
    store = current_store()
    campaign = _campaign(campaign_id)
    try:
        svc.launch(store, campaign, by=current_user)
    except ServiceError as error:
        db.session.rollback()
        flash_refusal(error)
        return redirect(url_for("manager.campaign_edit", campaign_id=campaign_id)
                        + "#launch"), 303
    flash(_("Launched: the customers are fixed and the gifts reserved."), "success")
    return redirect(url_for("manager.campaign", campaign_id=campaign_id)), 303


@bp.post("/campaigns/<int:campaign_id>/notes")
@campaigns_required
def campaign_notes(campaign_id):
    campaign = _campaign(campaign_id)
    try:
        svc.save_notes(campaign, kickoff_notes=request.form.get("kickoff_notes"),
                       review_notes=request.form.get("review_notes"))
    except ServiceError as error:
        db.session.rollback()
        flash_refusal(error)
    else:
        flash(_("Saved."), "success")
    return redirect(url_for("manager.campaign", campaign_id=campaign_id) + "#notes"), 303


@bp.post("/campaigns/<int:campaign_id>/delete")
@campaigns_required
def campaign_delete(campaign_id):
    campaign = _campaign(campaign_id)
    try:
        svc.delete(campaign)
    except ServiceError as error:
        db.session.rollback()
        flash_refusal(error)
        return redirect(url_for("manager.campaign", campaign_id=campaign_id)), 303
    flash(_("Draft deleted."), "success")
    return redirect(url_for("manager.campaigns")), 303
