"""Aware UTC storage, store-local days, birthdays, completeness, visit bookkeeping, assignments."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import StatementError

from kq.extensions import db
from kq.models import Assignment, Customer, PointsEntry, PrepaidCard, Store, User, Visit
from kq.services import ServiceError
from kq.services.assignments import assign
from kq.services.visits import points_for, record_visit

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_times_come_back_aware_utc_and_naive_is_refused(app, world):
    with app.app_context():
        customer = db.session.get(Customer, world.customers["mine"])
        moment = datetime(2026, 3, 1, 23, 59, tzinfo=SHANGHAI)
        customer.last_visit_at = moment
        db.session.commit()
        db.session.expire_all()
        stored = db.session.get(Customer, world.customers["mine"]).last_visit_at
        assert stored == moment and stored.tzinfo is not None
        assert stored.utcoffset() == timedelta(0)
        db.session.get(Customer, world.customers["mine"]).last_visit_at = datetime(2026, 3, 1)
        with pytest.raises(StatementError, match="naive datetime"):
            db.session.commit()
        db.session.rollback()


def test_days_since_counts_store_local_calendar_days(app, world):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        today = date(2026, 3, 2)
        # 23:59 on 1 March in Shanghai is 15:59 UTC: still "1 day ago" on the 2nd.
        late = datetime(2026, 3, 1, 23, 59, tzinfo=SHANGHAI)
        early = datetime(2026, 3, 2, 0, 1, tzinfo=SHANGHAI)  # 16:01 UTC on 1 March
        assert store.days_since(late, today) == 1
        assert store.days_since(early, today) == 0


def test_dormant_status_turns_at_thirty_days(app, world):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        customer = db.session.get(Customer, world.customers["mine"])
        today = date(2026, 3, 31)
        customer.last_visit_at = datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)  # 29 days
        assert customer.status(store, today) == "active"
        customer.last_visit_at = datetime(2026, 3, 1, 23, 59, tzinfo=SHANGHAI)  # 30 days
        assert customer.status(store, today) == "dormant"
        customer.do_not_contact = True
        assert customer.status(store, today) == "do_not_contact"


def test_birthday_on_29_february_falls_on_28th_in_common_years(app, world):
    with app.app_context():
        customer = db.session.get(Customer, world.customers["mine"])
        customer.birth_month, customer.birth_day = 2, 29
        assert customer.birthday(2027) == date(2027, 2, 28)
        assert customer.birthday(2028) == date(2028, 2, 29)


def test_completeness_weighs_personal_profile_80(app, world):
    with app.app_context():
        customer = Customer(store_id=world.store1, name="甲", greeting_name="甲小姐")
        basic_only = customer.completeness()
        assert 0 < basic_only <= 20
        for name in ("occupation", "family", "personality_type", "buying_psychology",
                     "spending_habits", "style_preferences", "hobbies", "lifestyle",
                     "service_preference", "promotion_attitude", "personal_values", "notes"):
            setattr(customer, name, "x")
        assert customer.completeness() == basic_only + 80


def test_record_visit_keeps_bookkeeping_points_and_prepaid_sessions(app, world):
    with app.app_context():
        customer = db.session.get(Customer, world.customers["mine"])
        staff = db.session.get(User, world.users["beautician1"])
        card = PrepaidCard(store_id=customer.store_id, customer_id=customer.id, name="补水卡",
                           sessions_total=2)
        db.session.add(card)
        db.session.flush()
        later = datetime(2026, 5, 1, 15, tzinfo=SHANGHAI)
        record_visit(customer, visited_at=later, staff=staff, amount_fen=600000)
        assert customer.points_balance == 300  # 6,000 CNY at 5%
        assert points_for(600000, customer.store) == 300
        # An older visit entered afterwards never moves last_visit_at backwards.
        record_visit(customer, visited_at=later - timedelta(days=10), staff=staff,
                     prepaid_card=card)
        record_visit(customer, visited_at=later - timedelta(days=5), staff=staff,
                     prepaid_card=card)
        db.session.expire_all()
        customer = db.session.get(Customer, world.customers["mine"])
        assert customer.last_visit_at == later
        assert customer.visit_count == 3 and customer.total_spent_fen == 600000
        assert db.session.get(PrepaidCard, card.id).sessions_left == 0
        with pytest.raises(ServiceError):
            record_visit(customer, visited_at=later, staff=staff,
                         prepaid_card=db.session.get(PrepaidCard, card.id))
        db.session.rollback()
        assert db.session.scalar(db.select(db.func.count(Visit.id))) == 3
        assert db.session.scalar(db.select(db.func.sum(PointsEntry.points))) == 300


def test_assign_keeps_history(app, world):
    with app.app_context():
        customer = db.session.get(Customer, world.customers["mine"])
        other = db.session.get(User, world.users["beautician2"])
        assign(customer, other)
        assign(customer, other)  # unchanged: no new row
        rows = db.session.scalars(db.select(Assignment).where(
            Assignment.customer_id == customer.id).order_by(Assignment.id)).all()
        assert [r.staff_id for r in rows] == [world.users["beautician1"], other.id]
        assert rows[0].ended_at is not None and rows[1].ended_at is None
        assert customer.assigned_staff_id == other.id


def test_store_settings_have_spec_defaults(app, world):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        assert (store.dormant_after_days, store.red_flag_quiet_days, store.penalty_after_days,
                store.reward_fen, store.penalty_fen, store.points_rate_bp, store.text_limit,
                store.key_share_pct, store.key_spend_fen, store.timezone) == (
            30, 7, 90, 3000, 3000, 500, 70, 40, 50000, "Asia/Shanghai")
        assert store.local_now().tzinfo is not None
        assert datetime.now(timezone.utc) - store.local_now() < timedelta(seconds=5)


def test_nul_bytes_and_lone_surrogates_never_reach_a_row(app, world):
    """Whatever form or API a text came from: PostgreSQL refuses NUL (a 500), SQLite would keep
    an invisible name."""
    from kq.extensions import db
    from kq.models import Store, User

    with app.app_context():
        store = db.session.get(Store, world.store1)
        store.name = "丽颜\x00美容"
        user = db.session.get(User, world.users["beautician1"])
        user.display_name = "小\ud800林"
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Store, world.store1).name == "丽颜美容"
        assert db.session.get(User, world.users["beautician1"]).display_name == "小?林"


def test_ids_beyond_any_column_are_404_not_500(app, login, world):
    client = login("manager")
    huge = 2**31  # id columns are 32-bit integers
    for path in (f"/customers/{huge}", f"/manager/import/{huge}", f"/manager/staff/{huge}",
                 f"/customers/{world.customers['mine']}/cards/{huge}", f"/reports/{huge}"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/manager/import/{huge}/confirm", data={}).status_code == 404
