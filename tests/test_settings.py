"""Manage → Settings: bounds, cross-field rules, thresholds that wait for the next daily run,
identity fields that apply at once, audit, the signature in messages, and who may see it."""
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import delete, func, select

from kq import scripts
from kq.extensions import db
from kq.models import AuditEvent, ChecklistRun, Store, Task, User
from kq.services import settings as service
from kq.services.assignments import assign
from kq.services.checklist import generate_day
from tests.factories import CustomerFactory
from tests.helpers import at, kinds_for, load


def form_of(store, **changes):
    """The page's form as a manager would send it untouched, with `changes` typed in."""
    values = {s.name: s.shown(getattr(store, s.name)) for s in service.SETTINGS}
    values["phone"] = store.phone or ""
    values.update({k: str(v) for k, v in changes.items()})
    return values


def post(app, login, world, user="manager", **changes):
    with app.app_context():
        data = form_of(load(Store, world.store1), **changes)
    return login(user).post("/manager/settings", data=data,
                            headers={"Accept-Language": "en"})


def store_row(app, world, store="store1"):
    with app.app_context():
        store = load(Store, getattr(world, store))
        return {s.name: getattr(store, s.name) for s in service.SETTINGS} | {
            "pending_settings": store.pending_settings}


def settings_events(app):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "settings")
                                  .order_by(AuditEvent.id)).all()


def test_page_shows_every_setting_with_its_default(app, login, world):
    page = login("manager").get("/manager/settings", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for s in service.SETTINGS:
        assert f'name="{s.name}"' in html, s.name
    assert "Default 30. From 7 to 365." in html  # dormant days
    assert "Default 500. From 0 to 1,000,000." in html  # key spend in yuan
    assert '<option value="Asia/Shanghai" selected>' in html
    assert html.index('value="Asia/Tokyo"') < html.index('value="Europe/London"')


@pytest.mark.parametrize("days, ok", [(6, False), (7, True), (365, True), (366, False)])
def test_dormant_days_from_7_to_365(app, login, world, days, ok):
    # The penalty period stays longer than the dormant threshold.
    response = post(app, login, world, dormant_after_days=days, penalty_after_days=400)
    assert response.status_code == (302 if ok else 422)
    pending = store_row(app, world)["pending_settings"]
    if ok:
        assert pending["values"] == {"dormant_after_days": days, "penalty_after_days": 400}
    if not ok:
        assert "Enter a number from 7 to 365." in response.get_data(as_text=True)
        assert pending is None and settings_events(app) == []


@pytest.mark.parametrize("changes, field, message", [
    ({"penalty_after_days": 30}, "penalty_after_days",
     "Must be more than the dormant threshold (30 days)."),
    ({"dormant_after_days": 90}, "penalty_after_days",
     "Must be more than the dormant threshold (90 days)."),
    ({"satisfaction_quota_min": 21}, "satisfaction_quota_min",
     "The minimum cannot be above the maximum (20)."),
    ({"key_touch_days": 31}, "key_touch_days", "at most 30 days"),
    ({"band_medium_visits": 6}, "band_medium_visits", "Must be fewer than the visits for high"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Choose a time zone from the list."),
    ({"timezone": ""}, "timezone", "Choose a time zone from the list."),
    ({"key_share_pct": 0}, "key_share_pct", "Enter a number from 1 to 100."),
    ({"key_share_pct": 101}, "key_share_pct", "Enter a number from 1 to 100."),
    ({"reward_fen": "12.345"}, "reward_fen", "Enter an amount in yuan"),
    ({"reward_fen": "abc"}, "reward_fen", "Enter an amount in yuan"),
    ({"points_rate_bp": "51"}, "points_rate_bp", "Enter a number from 0 to 50."),
    ({"text_limit": ""}, "text_limit", "Enter a value."),
    ({"text_limit": "70.5"}, "text_limit", "Enter a whole number."),
    ({"name": "  "}, "name", "Enter the store's name."),
    ({"phone": "12345"}, "phone", "Enter a valid phone number"),
])
def test_bad_input_is_refused_on_its_field_and_nothing_is_saved(app, login, world, changes,
                                                               field, message):
    before = store_row(app, world)
    # A valid change beside the bad one is not saved either.
    response = post(app, login, world, **{**changes, "daily_contact_target": 16})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    # The message sits in the field's own block, after its input.
    block = html[html.index(f'name="{field}"'):]
    assert block.index(message) < block.index('class="field')
    assert f'href="#s-{field}"' in html  # listed at the top, where the phone screen starts
    assert store_row(app, world) == before
    assert settings_events(app) == []


def test_amounts_are_entered_in_yuan_and_percent_and_stored_in_fen_and_basis_points(
        app, login, world):
    assert post(app, login, world, reward_fen="¥1,250.50", points_rate_bp="2.5%",
                key_spend_fen="800", key_share_pct="35").status_code == 302
    pending = store_row(app, world)["pending_settings"]["values"]
    assert pending == {"reward_fen": 125050, "points_rate_bp": 250, "key_spend_fen": 80000,
                       "key_share_pct": 35}


def test_full_width_digits_from_a_chinese_keyboard_are_read(app, login, world):
    assert post(app, login, world, dormant_after_days="４５").status_code == 302
    assert store_row(app, world)["pending_settings"]["values"] == {"dormant_after_days": 45}


def test_thresholds_wait_for_tomorrows_run_and_change_its_red_flags(app, login, world):
    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        tomorrow = today + timedelta(days=1)
        staff = load(User, world.users["beautician1"])

        def customer(days_before_tomorrow):
            c = CustomerFactory(store_id=store.id,
                                last_visit_at=at(tomorrow - timedelta(days=days_before_tomorrow)))
            assign(c, staff, commit=False, at=at(today - timedelta(days=200)))
            return c.id

        near, far = customer(35), customer(50)
        db.session.commit()
        generate_day(store, today)
        assert "red_flag" in kinds_for(near, today)  # 34 days ≥ 30

    manager = login("manager")
    with app.app_context():
        data = form_of(load(Store, world.store1), dormant_after_days=45)
    response = manager.post("/manager/settings", data=data, headers={"Accept-Language": "en"},
                            follow_redirects=True)
    assert "Saved. The new thresholds take effect on" in response.get_data(as_text=True)
    row = store_row(app, world)
    assert row["dormant_after_days"] == 30  # not yet
    assert row["pending_settings"]["from"] == tomorrow.isoformat()
    assert row["pending_settings"]["values"] == {"dormant_after_days": 45}
    assert row["pending_settings"]["by"] == world.users["manager"]

    page = login("manager").get("/manager/settings", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    block = html[html.index('name="dormant_after_days"'):]
    assert 'value="45"' in block[:200]
    assert "Pending — takes effect tomorrow · now 30" in block[:block.index('class="field')]

    with app.app_context():
        store = load(Store, world.store1)
        generate_day(store, today)  # today again: the old numbers still count
        db.session.refresh(store)
        assert store.dormant_after_days == 30 and store.pending_settings is not None
        generate_day(store, tomorrow)  # made early, today: today's figures keep today's numbers
        db.session.refresh(store)
        assert store.dormant_after_days == 30 and store.pending_settings is not None
        db.session.execute(delete(Task).where(Task.due_on == tomorrow))
        db.session.execute(delete(ChecklistRun).where(ChecklistRun.day == tomorrow))
        db.session.commit()
        with freeze_time(at(tomorrow, 5)):
            generate_day(store, tomorrow)  # the run of tomorrow morning
        db.session.refresh(store)
        assert store.dormant_after_days == 45 and store.pending_settings is None
        assert "red_flag" not in kinds_for(near, tomorrow)  # 35 days < 45
        assert "red_flag" in kinds_for(far, tomorrow)  # 50 days ≥ 45


def test_opening_today_applies_settings_that_are_due(app, login, world):
    """The first GET of Today generates the day under write intent; the pending values that
    start today take effect there, and the page still renders."""
    with app.app_context():
        store = load(Store, world.store1)
        store.pending_settings = {"from": store.today().isoformat(),
                                  "values": {"dormant_after_days": 40, "text_limit": 80},
                                  "by": world.users["manager"]}
        db.session.commit()
    response = login("beautician1").get("/tasks/today")
    assert response.status_code == 200
    row = store_row(app, world)
    assert (row["dormant_after_days"], row["text_limit"], row["pending_settings"]) == \
        (40, 80, None)


def test_a_later_save_changes_or_withdraws_what_waits(app, login, world):
    assert post(app, login, world, dormant_after_days=45, reward_fen=50).status_code == 302
    assert post(app, login, world, dormant_after_days=30, reward_fen=50,
                penalty_after_days=120).status_code == 302
    pending = store_row(app, world)["pending_settings"]["values"]
    assert pending == {"reward_fen": 5000, "penalty_after_days": 120}
    events = settings_events(app)
    assert len(events) == 2
    assert events[1].detail["before"] == {"dormant_after_days": 45, "penalty_after_days": 90}
    assert events[1].detail["after"] == {"dormant_after_days": 30, "penalty_after_days": 120}
    # Sending the page again untouched changes nothing and records nothing.
    with app.app_context():
        data = form_of(load(Store, world.store1), dormant_after_days=30, reward_fen=50,
                       penalty_after_days=120)
    again = login("manager").post("/manager/settings", data=data)
    assert again.status_code == 302 and len(settings_events(app)) == 2


def test_identity_applies_at_once_and_is_audited(app, login, world):
    response = post(app, login, world, name="丽颜美容会所", phone="021 6234 5678",
                    address="上海市静安区南京西路 1 号", signature="丽颜")
    assert response.status_code == 302
    row = store_row(app, world)
    assert (row["name"], row["phone"], row["address"], row["signature"]) == \
        ("丽颜美容会所", "+862162345678", "上海市静安区南京西路 1 号", "丽颜")
    assert row["pending_settings"] is None
    (event,) = settings_events(app)
    assert event.user_id == world.users["manager"] and event.store_id == world.store1
    assert event.detail["before"] == {"name": "一店", "phone": None, "address": None,
                                      "signature": None}
    assert event.detail["after"]["signature"] == "丽颜"
    page = login("manager").get("/manager/settings").get_data(as_text=True)
    assert 'value="021 6234 5678"' in page


def test_signature_signs_the_stores_messages_and_defaults_to_its_name(app, world):
    with app.app_context():
        store = load(Store, world.store1)
        body = "{greeting}您好，{store}会员日见。—{staff}"
        customer = CustomerFactory(store_id=store.id)
        staff = load(User, world.users["beautician1"])
        day = store.today()
        assert scripts.message_for(body, customer, staff, store, day) == \
            f"梁小姐您好，一店会员日见。—{staff.display_name}"
        store.signature = "丽颜"
        assert scripts.message_for(body, customer, staff, store, day) == \
            f"梁小姐您好，丽颜会员日见。—{staff.display_name}"
        assert "丽颜近期有会员活动" in scripts.message_for(
            scripts.DEFAULTS["campaign_touch"], customer, staff, store, day)
        assert scripts.longest_values(store)["store"] == "丽颜"


def test_a_signature_or_limit_that_breaks_a_text_is_refused(app, login, world):
    from kq.models import MessageTemplate

    with app.app_context():
        db.session.add(MessageTemplate(store_id=world.store1, kind="red_flag", channel="sms",
                                       body="{greeting}您好，{store}想您了，{store}等您。—{staff}"))
        db.session.commit()
    response = post(app, login, world, signature="丽" * 30)  # 2 × 30 + 17 > 70
    assert response.status_code == 422
    assert "choose a shorter signature" in response.get_data(as_text=True)
    low = post(app, login, world, text_limit=30)
    assert low.status_code == 422
    assert "keep the limit at" in low.get_data(as_text=True)
    assert store_row(app, world)["signature"] is None and settings_events(app) == []


def test_owner_changes_the_store_she_switched_to(app, login, world):
    owner = login("owner")
    owner.post("/store", data={"store_id": world.store2})
    with app.app_context():
        data = form_of(load(Store, world.store2), name="二店 · 新址")
    assert owner.post("/manager/settings", data=data).status_code == 302
    assert store_row(app, world, "store2")["name"] == "二店 · 新址"
    assert store_row(app, world)["name"] == "一店"


def test_beauticians_may_not_see_settings(app, login, world):
    client = login("beautician1")
    assert client.get("/manager/settings").status_code == 403
    with app.app_context():
        data = form_of(load(Store, world.store1), name="x")
    assert client.post("/manager/settings", data=data).status_code == 403
    assert store_row(app, world)["name"] == "一店"


def test_manager2_changes_only_her_own_store(app, login, world):
    client = login("manager2")
    with app.app_context():
        data = form_of(load(Store, world.store2), dormant_after_days=60)
    assert client.post("/manager/settings", data=data).status_code == 302
    assert store_row(app, world)["pending_settings"] is None
    assert store_row(app, world, "store2")["pending_settings"]["values"] == \
        {"dormant_after_days": 60}
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.store_id == world.store2, AuditEvent.action == "settings")) == 1


def test_apply_ignores_a_day_before_the_start(app, world):
    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        store.pending_settings = {"from": (today + timedelta(days=1)).isoformat(),
                                  "values": {"touch_days": 20}, "by": None}
        assert service.apply_pending_settings(store, today) == {}
        assert store.touch_days == 30
        assert service.apply_pending_settings(store, today + timedelta(days=2)) == \
            {"touch_days": 20}
        assert store.touch_days == 20 and store.pending_settings is None
