"""The manager's pages: roles, store scoping, report counts against independent SQL,
bulk assignment, meetings, performance and the win-back plan on the card."""
import random
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from kq.extensions import db
from kq.models import Assignment, Contact, Customer, ReactivationOffer, Store, Task, User
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
        # Campaigns do not exist for her at all (the contract: 404).
        expected = 404 if path.startswith("/manager/campaigns") else 403
        assert response.status_code == expected, (method, path, response.status_code)


def test_every_manager_page_renders_for_a_manager(app, login, world):
    import io

    client = login("manager")
    # An import of her store exists (id 1), so that its pages have something to show.
    client.post("/manager/import", data={"file": (io.BytesIO("姓名,手机\n刘德华,13811112222\n"
                                                              .encode()), "a.csv")},
                content_type="multipart/form-data")
    # and a campaign (id 1), for the campaign's pages.
    client.post("/manager/campaigns/", data={"name": "春季关怀", "phase_start_0": "2026-01-01",
                                             "phase_end_0": "2026-01-31"})
    # a script (id 1) and a bulk message draft (id 1), for the editor and the batch's page.
    client.post("/manager/scripts/new", data={"channel": "sms", "purpose": "custom",
                                              "locale": "zh_Hans", "name": "想念您",
                                              "body": "{greeting}您好，想您了。—{staff}"})
    client.post("/manager/bulk", data={"body": "{greeting}您好，想您了。—{staff}"})
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
    client = login("manager")
    form = {"scope": "all", "status": "dormant", "staff": "none",
            "to_staff": [str(b1), str(b2)]}
    review = client.post("/manager/assignments", data=form, headers=EN)
    assert review.status_code == 200
    assert "Spread 55 customers evenly over" in review.get_data(as_text=True)
    response = client.post("/manager/assignments/confirm", data=dict(form, expected="55"))
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


def _assignment_state(store_id):
    """Everything an undo must give back: every assignment row and whom each customer has."""
    rows = db.session.execute(db.select(
        Assignment.id, Assignment.customer_id, Assignment.staff_id, Assignment.ended_at,
        Assignment.end_reason, Assignment.proposed_for_reassignment)
        .where(Assignment.store_id == store_id).order_by(Assignment.id)).all()
    owners = dict(db.session.execute(db.select(Customer.id, Customer.assigned_staff_id)
                                     .where(Customer.store_id == store_id)).all())
    return [tuple(r) for r in rows], owners


def test_a_bulk_assignment_asks_first_saying_how_many_and_to_whom(app, login, world):
    """Finding 7: one tap on "all 1,000" gave the store to one beautician."""
    with app.app_context():
        for _ in range(12):
            CustomerFactory(store_id=world.store1)
        db.session.commit()
        before = _assignment_state(world.store1)
    b1 = world.users["beautician1"]
    client = login("manager")
    form = {"scope": "all", "to_staff": [str(b1)]}
    review = client.post("/manager/assignments", data=form, headers=EN)
    page = review.get_data(as_text=True)
    assert review.status_code == 200
    assert "Give 14 customers to 员工" in page  # her display name follows
    assert "Yes, give them" in page and 'name="expected" value="14"' in page
    # who gives them up: beautician2 one, 12 unassigned; one is hers already and stays
    assert "1 of them stay where they are" in page
    with app.app_context():
        assert _assignment_state(world.store1) == before  # asking wrote nothing
    # The list moved meanwhile (a new customer): asked again with the new count, no change.
    with app.app_context():
        CustomerFactory(store_id=world.store1)
        db.session.commit()
        before = _assignment_state(world.store1)
    again = client.post("/manager/assignments/confirm", data=dict(form, expected="14"),
                        headers=EN)
    assert again.status_code == 409
    assert "it now holds 15 customers" in again.get_data(as_text=True)
    with app.app_context():
        assert _assignment_state(world.store1) == before
    done = client.post("/manager/assignments/confirm", data=dict(form, expected="15"))
    assert done.status_code == 302
    with app.app_context():
        owners = _assignment_state(world.store1)[1]
        assert set(owners.values()) == {b1}


def test_undo_gives_back_the_previous_assignments_exactly_and_is_audited(app, login, world):
    from kq.models import AuditEvent
    from kq.services.assignments import assign as assign_to

    with app.app_context():
        b1, b2 = load(User, world.users["beautician1"]), load(User, world.users["beautician2"])
        store = load(Store, world.store1)
        proposed = CustomerFactory(store_id=store.id)  # b2's, proposed for reassignment
        assign_to(proposed, b2, at=at(store.today() - timedelta(days=100)), commit=False)
        db.session.flush()
        db.session.scalar(db.select(Assignment).where(
            Assignment.customer_id == proposed.id)).proposed_for_reassignment = True
        CustomerFactory(store_id=store.id)  # nobody's
        db.session.commit()
        before = _assignment_state(store.id)
        ids = [str(i) for i in before[1]]
    client = login("manager")
    form = {"scope": "selected", "customer": ids, "to_staff": [str(world.users["beautician1"])]}
    assert client.post("/manager/assignments/confirm",
                       data=dict(form, expected=str(len(ids)))).status_code == 302
    with app.app_context():
        after = _assignment_state(world.store1)
        assert set(after[1].values()) == {world.users["beautician1"]}
        [batch] = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "assign_bulk")).all()
        assert batch.detail["customers"] == 3  # "mine" was hers already
        batch_id = batch.id
    page = client.get("/manager/assignments", headers=EN).get_data(as_text=True)
    assert "3 customers given to" in page and f"/manager/undo/{batch_id}" in page
    undone = client.post(f"/manager/undo/{batch_id}", headers=EN, follow_redirects=True)
    assert "Undone: 3 customers are back as they were." in undone.get_data(as_text=True)
    with app.app_context():
        rows, owners = _assignment_state(world.store1)
        assert owners == before[1]
        # the rows that were open are open again, as they were (the proposal too) …
        assert [r for r in rows if r[3] is None] == [r for r in before[0] if r[3] is None]
        # … and the batch's own rows are ended as undone
        new = [r for r in rows if r[0] not in {b[0] for b in before[0]}]
        assert len(new) == 3 and {r[4] for r in new} == {"undone"}
        [event] = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "assign_undo")).all()
        assert (event.target_id, event.detail["restored"], event.user_id) == (
            batch_id, 3, world.users["manager"])
    twice = client.post(f"/manager/undo/{batch_id}", headers=EN, follow_redirects=True)
    assert "can no longer be undone" in twice.get_data(as_text=True)
    with app.app_context():
        assert _assignment_state(world.store1)[1] == before[1]
    assert login("manager2").post(f"/manager/undo/{batch_id}").status_code == 404


def test_undo_is_refused_after_ten_minutes_and_skips_whom_was_moved_since(app, login, world):
    from kq.models import AuditEvent, utcnow
    from kq.services.assignments import assign as assign_to

    client = login("manager")
    ids = [str(world.customers["mine"]), str(world.customers["colleague"])]
    b2 = world.users["beautician2"]
    form = {"scope": "selected", "customer": ids, "to_staff": [str(b2)], "expected": "2"}
    client.post("/manager/assignments/confirm", data=form)
    with app.app_context():
        batch = db.session.scalar(db.select(AuditEvent).where(
            AuditEvent.action == "assign_bulk"))
        # since then, "mine" was given to someone else by hand
        assign_to(load(Customer, world.customers["mine"]), load(User, world.users["owner"]))
        batch_id = batch.id
    response = client.post(f"/manager/undo/{batch_id}", headers=EN, follow_redirects=True)
    assert "1 were moved again since and stay where they are" in response.get_data(
        as_text=True)
    with app.app_context():
        assert load(Customer, world.customers["mine"]).assigned_staff_id == \
            world.users["owner"]
    # a batch more than ten minutes old cannot be undone
    client.post("/manager/assignments/confirm", data=form)
    with app.app_context():
        batch = db.session.scalar(db.select(AuditEvent).where(
            AuditEvent.action == "assign_bulk").order_by(AuditEvent.id.desc()))
        batch.created_at = utcnow() - timedelta(minutes=11)
        db.session.commit()
        batch_id = batch.id
        before = _assignment_state(world.store1)
    late = client.post(f"/manager/undo/{batch_id}", headers=EN, follow_redirects=True)
    assert "can no longer be undone" in late.get_data(as_text=True)
    assert f"/manager/undo/{batch_id}" not in late.get_data(as_text=True)
    with app.app_context():
        assert _assignment_state(world.store1) == before


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


def test_morning_and_evening_count_the_same_items(app, login, world):
    """Finding 8: the morning sheet counted 697 items, the evening 704 — the evening summed
    every row with items, the owner's own list too; both now count the store's staff."""
    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        mine, colleague = world.customers["mine"], world.customers["colleague"]
        items = [(world.users["beautician1"], mine, "red_flag"),
                 (world.users["beautician1"], mine, "birthday_call"),
                 (world.users["beautician2"], colleague, "red_flag"),
                 (world.users["owner"], mine, "relationship_touch"),  # the owner's own list
                 (world.users["manager"], colleague, "callback")]
        for staff_id, customer_id, kind in items:
            db.session.add(Task(store_id=store.id, staff_id=staff_id, customer_id=customer_id,
                                kind=kind, due_on=today))
        db.session.commit()
    client = login("manager")
    sheet = client.get("/manager/meeting/morning", headers=EN).get_data(as_text=True)
    page = client.get("/manager/meeting/evening", headers=EN).get_data(as_text=True)
    with app.app_context():  # the morning page made today's lists: count them by hand
        theirs = db.session.scalar(db.select(db.func.count(Task.id)).where(
            Task.store_id == world.store1, Task.due_on == today, Task.staff_id.in_(
                [world.users["beautician1"], world.users["beautician2"]])))
    assert theirs >= 3
    assert f"<dt>Items today</dt><dd>{theirs}</dd>" in sheet  # the whole store's card
    assert f"0 of {theirs} items done" in page
    with app.app_context():  # the printed evening sheet's figures are the page's
        from kq.services.printing import evening_figures

        assert evening_figures(load(Store, world.store1), today)[2]["items"] == theirs


def test_the_evening_page_shows_the_ledger_as_last_counted(app, login, world):
    """Finding 8: opening the evening page (a GET) posted today's penalties."""
    from kq.models import LedgerEntry

    with app.app_context():
        store = load(Store, world.store1)
        sleeper = CustomerFactory(store_id=store.id)
        assign(sleeper, load(User, world.users["beautician1"]),  # her 90th day is today
               at=at(store.today() - timedelta(days=90)))
    client = login("manager")
    page = client.get("/manager/meeting/evening", headers=EN).get_data(as_text=True)
    assert "rewards and penalties now" in page and 'name="back" value="evening"' in page
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LedgerEntry.id))) == 0
    counted = client.post("/manager/ledger/run", data={"back": "evening"}, headers=EN)
    assert counted.status_code == 302 and counted.location.endswith("/manager/meeting/evening")
    page = client.get("/manager/meeting/evening", headers=EN).get_data(as_text=True)
    assert "-¥30" in page and "as counted at" in page
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LedgerEntry.id))) == 1


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
