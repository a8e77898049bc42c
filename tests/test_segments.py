"""Segments (SPEC §5, §8): counts against hand-built customers, days on the store's calendar."""
from datetime import datetime, timedelta, timezone

import pytest

from kq.extensions import db
from kq.models import Customer, CustomerTag, Store
from kq.services import segments
from tests.factories import CustomerFactory


def _local(store, day, hour=12):
    return datetime(day.year, day.month, day.day, hour, tzinfo=store.tz).astimezone(timezone.utc)


@pytest.fixture
def hand_built(app, world):
    """Store 1 (Asia/Shanghai): customers whose last visit is n store-days ago, some key, tiered,
    tagged, assigned; one deleted; one in store 2."""
    with app.app_context():
        store = db.session.get(Store, world.store1)
        today = store.today()
        made = {}

        def make(label, days, *, key=False, tier="B", tags=(), staff=None, hour=12, **kw):
            c = CustomerFactory(store_id=store.id, is_key=key, tier=tier,
                                last_visit_at=_local(store, today - timedelta(days=days), hour),
                                assigned_staff_id=staff, **kw)
            for t in tags:
                db.session.add(CustomerTag(store_id=store.id, customer_id=c.id, name=t))
            made[label] = c.id

        # The world's two customers never visited (joined 2025-01-01: long dormant).
        make("d180_key", 180, key=True, tier="A", tags=["VIP"], staff=world.users["beautician1"])
        make("d179", 179, tier="A")
        make("d180_late", 180, hour=23)  # 23:30 local = still that day
        make("d365", 365, tags=["VIP", "老客"], staff=world.users["beautician2"])
        make("d29", 29, key=True, tier="C")
        make("d30", 30)
        make("d0", 0, tier="C")
        make("deleted", 400, deleted_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
        make("dnc", 200, do_not_contact=True)
        CustomerFactory(store_id=world.store2, last_visit_at=_local(store, today - timedelta(days=300)))
        db.session.commit()
        return made


def _ids(store, spec):
    return {c.id for c in db.session.scalars(segments.segment_query(store, spec))}


def test_dormant_window_counts_store_days(app, world, hand_built):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        h = hand_built
        got = _ids(store, {"dormant_min_days": 180})
        assert {h["d180_key"], h["d180_late"], h["d365"], h["dnc"]} <= got
        assert h["d179"] not in got and h["deleted"] not in got
        assert _ids(store, {"dormant_min_days": 180, "dormant_max_days": 180}) == \
            {h["d180_key"], h["d180_late"]}
        assert _ids(store, {"dormant_max_days": 29}) == {h["d29"], h["d0"]}
        # status uses the store's threshold (30 days): 29 active, 30 dormant
        active = _ids(store, {"status": "active"})
        assert h["d29"] in active and h["d0"] in active and h["d30"] not in active
        assert h["d30"] in _ids(store, {"status": "dormant"})
        assert _ids(store, {"status": "do_not_contact"}) == {h["dnc"]}


def test_counts_split_key_general_and_filters(app, world, hand_built):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        h = hand_built
        # store 1: 2 world customers + 8 living hand-built; the deleted one never counts
        assert segments.segment_counts(store, {}) == {"total": 10, "key": 2, "general": 8}
        assert segments.segment_counts(store, {"key": "key"})["total"] == 2
        assert segments.segment_counts(store, {"key": "general"})["total"] == 8
        assert _ids(store, {"tiers": ["A"]}) == {h["d180_key"], h["d179"]}
        assert _ids(store, {"tags": ["老客", "nope"]}) == {h["d365"]}
        assert _ids(store, {"tags": ["VIP"], "key": "general"}) == {h["d365"]}
        assert h["d180_key"] in _ids(store, {"staff_ids": [world.users["beautician1"]]})
        assert segments.segment_counts(store, {"dormant_min_days": 180, "key": "key"}) == \
            {"total": 1, "key": 1, "general": 0}


def test_bad_specs_are_refused(app, world):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        for bad in ({"tiers": ["Z"]}, {"key": "vip"}, {"dormant_min_days": "x"},
                    {"dormant_min_days": 200, "dormant_max_days": 100}, {"staff_ids": ["a"]}):
            with pytest.raises(segments.SegmentError):
                segments.segment_counts(store, bad)


def test_describe_reads_as_words(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        text = segments.describe({"dormant_min_days": 180, "key": "key"})
        assert "key customers" in text and "180+ days" in text
        assert segments.describe({}) == "all customers"
