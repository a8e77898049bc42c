"""The manager's pages: roles, store scoping, report counts against independent SQL,
bulk assignment, meetings, performance and the win-back plan on the card."""
import random
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from kq.extensions import db
from kq.models import Contact, Customer, ReactivationOffer, Store, User
from kq.services import reports
from kq.services.assignments import assign
from kq.services.visits import record_visit
from tests.factories import CustomerFactory
from tests.helpers import at, load

EN = {"Accept-Language": "en"}


def _manager_urls(app):
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/manager"):
            continue
        path = re.sub(r"<int:[a-z_]+>", "1", rule.rule)
        method = "GET" if "GET" in rule.methods else "POST"
        urls.append((method, path))
    return urls


def test_a_beautician_gets_403_on_every_manager_url(app, login, world):
    client = login("beautician1")
    urls = _manager_urls(app)
    assert len(urls) >= 14
    for method, path in urls:
        response = client.open(path, method=method, data={})
        assert response.status_code == 403, (method, path, response.status_code)


def test_every_manager_page_renders_for_a_manager(app, login, world):
    import io

    client = login("manager")
    # An import of her store exists (id 1), so that its pages have something to show.
    client.post("/manager/import", data={"file": (io.BytesIO("姓名,手机\n刘德华,13811112222\n"
                                                              .encode()), "a.csv")},
                content_type="multipart/form-data")
    for method, path in _manager_urls(app):
        if method == "GET":
            assert client.get(path).status_code == 200, path


def _population(world, n=60, seed=7):
    """Customers with visits scattered over the last 15 months, assigned over two staff."""
    rng = random.Random(seed)
    store = load(Store, world.store1)
    today = store.today()
    staff = [load(User, world.users["beautician1"]), load(User, world.users["beautician2"])]
    for i in range(n):
        customer = CustomerFactory(store_id=world.store1,
                                   created_at=at(today - timedelta(days=480)))
        if i % 7:
            assign(customer, staff[i % 2], at=at(today - timedelta(days=rng.randint(100, 470))),
                   commit=False)
        db.session.commit()
        for _ in range(rng.randint(0, 5)):
            record_visit(customer, visited_at=at(today - timedelta(days=rng.randint(0, 450)),
                                                 rng.randint(9, 20)), amount_fen=10000,
                         reclassify=False)
    return store, today


def test_dormant_counts_equal_independent_sql(app, world):
    with app.app_context():
        store, today = _population(world)
        for window in (30, 180, 365):
            counts = reports.dormant_now(store, window, today)
            total, dormant = reports.totals(counts)
            cut = reports.dormant_cut(store, today, window)
            raw = db.session.execute(text(
                "SELECT count(*), sum(CASE WHEN coalesce(last_visit_at, created_at) < :cut "
                "THEN 1 ELSE 0 END) FROM customers WHERE store_id = :s AND deleted_at IS NULL"),
                {"cut": cut, "s": store.id}).one()
            assert (total, dormant) == (raw[0], raw[1])
        # A month end in the past: her last visit before then, not the card's last visit.
        past = today.replace(day=1) - timedelta(days=1)
        end = reports.midnight(store, past + timedelta(days=1))
        cut = reports.dormant_cut(store, past, 30)
        raw = db.session.execute(text(
            "SELECT count(*), sum(CASE WHEN coalesce((SELECT max(v.visited_at) FROM visits v "
            "WHERE v.customer_id = c.id AND v.visited_at < :end), c.created_at) < :cut "
            "THEN 1 ELSE 0 END) FROM customers c WHERE c.store_id = :s "
            "AND c.deleted_at IS NULL AND c.created_at < :end"),
            {"cut": cut, "end": end, "s": store.id}).one()
        assert reports.totals(reports.dormant_at(store, past, 30)) == (raw[0], raw[1])
        trend = reports.dormant_trend(store, 30, months=12, today=today)
        assert len(trend) == 12 and trend[-1][0] == today.strftime("%Y-%m")
        assert reports.totals(trend[-1][1]) == reports.totals(reports.dormant_now(store, 30,
                                                                                   today))


def test_dormant_page_reads_the_rate_and_lists_only_this_store(app, login, world):
    with app.app_context():
        store, today = _population(world, n=20)
        total, dormant = reports.totals(reports.dormant_now(store, 30, today))
        foreign = load(Customer, world.customers["other_store"])
        foreign.last_visit_at = at(today - timedelta(days=400))
        db.session.commit()
    page = login("manager").get("/manager/dormant?window=1m", headers=EN).get_data(as_text=True)
    assert f"{100 * dormant / total:.1f}%" in page
    assert "chart-img" in page and "data:image/svg+xml;base64," in page
    assert "赵女士" not in page  # store 2's customer
    assert login("manager").get("/manager/dormant?window=custom&days=abc").status_code == 200


def test_assign_fifty_dormant_customers_in_one_step(app, login, world):
    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        for _ in range(55):
            CustomerFactory(store_id=world.store1, last_visit_at=at(today - timedelta(days=60)))
        db.session.commit()
        b1, b2 = world.users["beautician1"], world.users["beautician2"]
    response = login("manager").post(
        "/manager/assignments?status=dormant&staff=none",
        data={"scope": "all", "status": "dormant", "staff": "none",
              "to_staff": [str(b1), str(b2)]})
    assert response.status_code == 302
    with app.app_context():
        unassigned = db.session.scalar(db.select(db.func.count(Customer.id)).where(
            Customer.store_id == world.store1, Customer.assigned_staff_id.is_(None)))
        assert unassigned == 0
        counts = dict(db.session.execute(db.select(Customer.assigned_staff_id,
                                                   db.func.count())
                                         .where(Customer.store_id == world.store1)
                                         .group_by(Customer.assigned_staff_id)).all())
        assert counts[b1] + counts[b2] == 57 and abs(counts[b1] - counts[b2]) <= 1


def test_assigning_ignores_other_stores_customers_and_staff(app, login, world):
    response = login("manager").post("/manager/assignments", data={
        "scope": "selected", "customer": [str(world.customers["other_store"])],
        "to_staff": [str(world.users["beautician7"])]}, headers=EN, follow_redirects=True)
    assert "Choose at least one" in response.get_data(as_text=True)
    with app.app_context():
        assert load(Customer, world.customers["other_store"]).assigned_staff_id == \
            world.users["beautician7"]


def test_meetings_and_performance_count_the_day(app, login, world):
    with app.app_context():
        store = load(Store, world.store1)
        mine = load(Customer, world.customers["mine"])
        now = store.local_now()
        for outcome in ("reached", "booked", "no_answer"):
            db.session.add(Contact(store_id=store.id, customer_id=mine.id,
                                   staff_id=world.users["beautician1"],
                                   client_id=str(uuid.uuid4()), channel="phone",
                                   outcome=outcome, contacted_at=now - timedelta(minutes=5)))
        db.session.commit()
        record_visit(mine, visited_at=now - timedelta(minutes=1),
                     staff=load(User, world.users["beautician1"]), amount_fen=20000)
        figures = reports.activity(store, store.today(), store.today())[world.users[
            "beautician1"]]
        assert (figures["contacts"], figures["reached"], figures["booked"],
                figures["visits"]) == (3, 2, 1, 1)
        assert figures["reach_rate"] == pytest.approx(66.7)
    client = login("manager")
    evening = client.get("/manager/meeting/evening", headers=EN).get_data(as_text=True)
    assert "Evening meeting" in evening and "Contacts" in evening
    morning = client.get("/manager/meeting/morning", headers=EN)
    assert morning.status_code == 200 and "Red flags" in morning.get_data(as_text=True)
    perf = client.get("/manager/performance?period=range&from=2026-01-01&to=2026-01-31")
    assert perf.status_code == 200
    assert client.get("/manager/performance?period=range&from=x&to=y").status_code == 200


def test_win_back_plan_on_the_card_with_the_stores_offer(app, login, world):
    with app.app_context():
        customer = load(Customer, world.customers["mine"])
        customer.last_visit_at = at(load(Store, world.store1).today() - timedelta(days=70))
        db.session.add(ReactivationOffer(store_id=world.store1, category="card_unused",
                                         text="本月卡内任选一项免费做"))
        db.session.commit()
    client = login("beautician1")
    url = f"/customers/{world.customers['mine']}"
    assert client.post(f"{url}/win-back", data={"churn_reason": "relationship",
                                                "reactivation_category": "card_unused"}
                       ).status_code == 302
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert "本月卡内任选一项免费做" in page and "Win her back" in page
    # The "does not want to return" category stops contact, as the trade does.
    client.post(f"{url}/win-back", data={"reactivation_category": "poor_unwilling"})
    with app.app_context():
        customer = load(Customer, world.customers["mine"])
        assert customer.do_not_contact is True and customer.churn_reason is None
    bad = client.post(f"{url}/win-back", data={"churn_reason": "aliens"}, headers=EN,
                      follow_redirects=True)
    assert "Choose from the lists" in bad.get_data(as_text=True)
    assert login("beautician2").post(f"{url}/win-back", data={}).status_code == 403


def test_offers_are_edited_per_store(app, login, world):
    client = login("manager")
    client.post("/manager/offers", data={"category": "neglected", "text": "先道歉，送四次护理"})
    with app.app_context():
        [row] = db.session.scalars(db.select(ReactivationOffer)).all()
        assert (row.store_id, row.text) == (world.store1, "先道歉，送四次护理")
    page = login("manager2").get("/manager/offers", headers=EN).get_data(as_text=True)
    assert "先道歉，送四次护理" not in page and "Apologise first" in page
    client.post("/manager/offers", data={"category": "neglected", "action": "reset",
                                         "text": "x"})
    with app.app_context():
        assert db.session.scalars(db.select(ReactivationOffer)).all() == []


def test_stored_codes_fit_their_columns():
    from kq import labels

    for mapping in (labels.CHURN_REASONS, labels.REACTIVATION):
        assert all(len(code) <= 20 for code in mapping)


def test_finished_months_are_counted_once_and_kept(app, world):
    from kq.models import DormantSnapshot

    with app.app_context():
        store, today = _population(world, n=15)
        first = reports.dormant_trend(store, 30, months=6, today=today)
        kept = db.session.scalar(db.select(db.func.count(DormantSnapshot.id)))
        assert kept >= 5  # five finished months, one row per staff group
        again = reports.dormant_trend(store, 30, months=6, today=today)
        assert again == first
        assert db.session.scalar(db.select(db.func.count(DormantSnapshot.id))) == kept


def test_bad_offer_and_handover_input_is_refused_with_4xx(app, login, world):
    client = login("manager")
    response = client.post("/manager/offers", data={"category": "aliens", "text": "x"},
                           headers=EN)
    assert response.status_code == 422 and "Choose a category" in response.get_data(
        as_text=True)
    response = client.post("/manager/offers", data={"category": "neglected", "text": "x" * 501},
                           headers=EN)
    assert response.status_code == 422 and "At most 500" in response.get_data(as_text=True)
    response = client.post("/manager/handover", data={"leaving": "abc"}, headers=EN)
    assert response.status_code == 422 and "Choose who is leaving" in response.get_data(
        as_text=True)
    with app.app_context():
        assert db.session.scalars(db.select(ReactivationOffer)).all() == []
