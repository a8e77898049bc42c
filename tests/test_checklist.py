"""Each checklist rule at its boundaries; idempotent and concurrent generation."""
import re
import threading
from datetime import date, timedelta

from kq.extensions import db
from kq.models import Complaint, Contact, Gift, GiftHandout, Promise, Store
from kq.services.checklist import generate_day
from kq.services.visits import record_visit
from tests.factories import CustomerFactory
from tests.helpers import at, items, kinds_for, load, sms_body

D = date(2026, 3, 31)  # a Tuesday


def _customer(world, staff="beautician1", **fields):
    from kq.services.assignments import assign
    from kq.models import User

    customer = CustomerFactory(store_id=world.store1, **fields)
    assign(customer, db.session.get(User, world.users[staff]), commit=False,
           at=at(D - timedelta(days=200)))
    db.session.commit()
    return customer


def test_red_flag_at_30_days_not_29(app, world):
    with app.app_context():
        c29 = _customer(world, last_visit_at=at(D - timedelta(days=29), 9))
        c30 = _customer(world, last_visit_at=at(D - timedelta(days=30), 20))
        generate_day(load(Store, world.store1), D)
        assert "red_flag" not in kinds_for(c29.id, D)
        assert "red_flag" in kinds_for(c30.id, D)
        red = items(day=D, kind="red_flag", customer_id=c30.id)[0]
        assert red.staff_id == world.users["beautician1"] and red.detail["days"] == 30


def test_red_flag_waits_seven_quiet_days_after_a_contact(app, world):
    with app.app_context():
        dormant = at(D - timedelta(days=60))
        six = _customer(world, last_visit_at=dormant, last_contact_at=at(D - timedelta(days=6), 0, 5))
        seven = _customer(world, last_visit_at=dormant,
                          last_contact_at=at(D - timedelta(days=7), 23, 59))
        generate_day(load(Store, world.store1), D)
        assert "red_flag" not in kinds_for(six.id, D)
        assert "red_flag" in kinds_for(seven.id, D)


def test_days_count_on_the_shanghai_calendar_around_midnight(app, world):
    with app.app_context():
        # 23:59 local on D-30 is 15:59 UTC; 00:01 local on D-29 is 16:01 UTC of the same UTC day.
        before = _customer(world, last_visit_at=at(D - timedelta(days=30), 23, 59))
        after = _customer(world, last_visit_at=at(D - timedelta(days=29), 0, 1))
        generate_day(load(Store, world.store1), D)
        assert "red_flag" in kinds_for(before.id, D)
        assert "red_flag" not in kinds_for(after.id, D)


def test_post_visit_callback_is_the_local_day_after(app, world):
    with app.app_context():
        store = load(Store, world.store1)
        late = _customer(world)
        early = _customer(world)
        from kq.models import User

        staff = db.session.get(User, world.users["beautician2"])
        record_visit(late, visited_at=at(D - timedelta(days=1), 23, 59), staff=staff)
        record_visit(early, visited_at=at(D, 0, 1), staff=staff)
        generate_day(store, D)
        callback = items(day=D, kind="callback", customer_id=late.id)
        assert len(callback) == 1 and callback[0].staff_id == world.users["beautician1"]  # assigned
        assert items(day=D, kind="callback", customer_id=early.id) == []
        generate_day(store, D + timedelta(days=1))
        assert len(items(day=D + timedelta(days=1), kind="callback", customer_id=early.id)) == 1


def test_birthday_on_29_february_in_common_and_leap_years(app, world):
    with app.app_context():
        store = load(Store, world.store1)
        leapling = _customer(world, birth_month=2, birth_day=29, last_visit_at=at(date(2027, 2, 20)))
        generate_day(store, date(2027, 2, 27))
        generate_day(store, date(2027, 2, 28))
        assert "birthday_prep" in kinds_for(leapling.id, date(2027, 2, 27))
        assert "birthday_call" in kinds_for(leapling.id, date(2027, 2, 28))
        generate_day(store, date(2028, 2, 28))
        generate_day(store, date(2028, 2, 29))
        assert kinds_for(leapling.id, date(2028, 2, 28)).count("birthday_call") == 0
        assert "birthday_prep" in kinds_for(leapling.id, date(2028, 2, 28))
        assert "birthday_call" in kinds_for(leapling.id, date(2028, 2, 29))


def test_owner_gets_key_customers_birthdays(app, world):
    with app.app_context():
        key = _customer(world, birth_month=D.month, birth_day=D.day, is_key=True,
                        last_visit_at=at(D - timedelta(days=3)))
        plain = _customer(world, birth_month=D.month, birth_day=D.day,
                          last_visit_at=at(D - timedelta(days=3)))
        generate_day(load(Store, world.store1), D)
        assert items(day=D, kind="birthday_call", staff_id=world.users["owner"]) and all(
            t.customer_id == key.id for t in items(day=D, staff_id=world.users["owner"]))
        assert len(items(day=D, kind="birthday_call", customer_id=plain.id)) == 1


def test_follow_up_promise_gift_and_complaint_items(app, world):
    with app.app_context():
        customer = _customer(world, last_visit_at=at(D - timedelta(days=10)))
        b2 = world.users["beautician2"]
        db.session.add(Contact(store_id=world.store1, customer_id=customer.id, staff_id=b2,
                               client_id="00000000-0000-0000-0000-000000000001", channel="phone",
                               outcome="reached", contacted_at=at(D - timedelta(days=2)),
                               next_follow_up_on=D))
        db.session.add(Promise(store_id=world.store1, customer_id=customer.id, staff_id=b2,
                               what="试用新精华", due_on=D))
        gift = Gift(store_id=world.store1, name="面膜礼盒", quantity=3)
        db.session.add(gift)
        db.session.flush()
        db.session.add(GiftHandout(store_id=world.store1, gift_id=gift.id, customer_id=customer.id,
                                   staff_id=b2, pickup_after=D))
        db.session.add(GiftHandout(store_id=world.store1, gift_id=gift.id, customer_id=customer.id,
                                   staff_id=b2, pickup_after=D + timedelta(days=1)))
        db.session.add(Complaint(store_id=world.store1, customer_id=customer.id, staff_id=b2,
                                 received_at=at(D - timedelta(days=1)), channel="phone",
                                 summary="等太久", next_step_due_on=D))
        db.session.commit()
        generate_day(load(Store, world.store1), D)
        assert kinds_for(customer.id, D) == ["complaint_follow_up", "follow_up", "gift_pickup",
                                             "promise_due"]
        follow_up = items(day=D, kind="follow_up")[0]
        assert follow_up.staff_id == world.users["beautician1"]  # her assigned beautician
        assert items(day=D, kind="gift_pickup")[0].detail["gift"] == "面膜礼盒"


def test_relationship_touch_weekly_for_key_monthly_for_all(app, world):
    with app.app_context():
        recent = at(D - timedelta(days=10))
        key_quiet = _customer(world, is_key=True, last_visit_at=recent,
                              last_contact_at=at(D - timedelta(days=7)))
        key_touched = _customer(world, is_key=True, last_visit_at=recent,
                                last_contact_at=at(D - timedelta(days=6)))
        plain = _customer(world, last_visit_at=recent)
        generate_day(load(Store, world.store1), D)
        # Hers, and the owner's: she calls key customers personally (test_today_plan.py).
        assert sorted((t.kind, t.staff_id) for t in items(day=D, customer_id=key_quiet.id)) == \
            sorted([("relationship_touch", world.users["beautician1"]),
                    ("relationship_touch", world.users["owner"])])
        assert kinds_for(key_touched.id, D) == []
        assert kinds_for(plain.id, D) == []


def test_no_items_for_do_not_contact_deleted_or_unassigned(app, world):
    with app.app_context():
        old = at(D - timedelta(days=90))
        dnc = _customer(world, last_visit_at=old, do_not_contact=True)
        gone = _customer(world, last_visit_at=old, deleted_at=at(D - timedelta(days=1)))
        nobody = CustomerFactory(store_id=world.store1, last_visit_at=old)
        db.session.commit()
        generate_day(load(Store, world.store1), D)
        for customer in (dnc, gone, nobody):
            assert kinds_for(customer.id, D) == []


def test_satisfaction_quota_spreads_over_the_week_and_staff(app, world):
    with app.app_context():
        store = load(Store, world.store1)
        monday = D - timedelta(days=D.weekday())
        visitors = [CustomerFactory(store_id=world.store1,
                                    last_visit_at=at(monday - timedelta(days=3)))
                    for _ in range(30)]
        db.session.commit()
        generate_day(store, monday)
        first_day = items(day=monday, kind="satisfaction")
        assert len(first_day) == 3  # ceil(20 × 1/7)
        assert {t.staff_id for t in first_day} == {world.users["beautician1"],
                                                   world.users["beautician2"]}
        assert generate_day(store, monday) == 0
        assert {t.customer_id for t in first_day} <= {v.id for v in visitors}


def test_generation_is_idempotent(app, world):
    with app.app_context():
        for days in (35, 40, 50):
            _customer(world, last_visit_at=at(D - timedelta(days=days)))
        store = load(Store, world.store1)
        first = generate_day(store, D)
        assert first == 3 + 2  # and the world's two customers who joined and never came
        assert generate_day(store, D) == 0
        assert len(items(day=D)) == 5


def test_two_generations_at_once_create_no_duplicates(app, world):
    with app.app_context():
        for days in range(31, 61):
            _customer(world, last_visit_at=at(D - timedelta(days=days)))
    results, errors = [], []

    def run():
        try:
            with app.app_context():
                results.append(generate_day(db.session.get(Store, world.store1), D))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert len(items(day=D)) == 32  # 30 + the world's two who never came
        assert sum(results) == 32
        pairs = [(t.staff_id, t.customer_id, t.kind) for t in items(day=D)]
        assert len(pairs) == len(set(pairs))


def test_today_plans_the_target_and_the_rest_fifty_at_a_time(app, login, world):
    from kq.models import User
    from kq.services.assignments import assign

    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        staff = db.session.get(User, world.users["beautician1"])
        for i in range(80):
            customer = CustomerFactory(store_id=store.id, greeting_name=f"顾客{i:02d}",
                                       last_visit_at=at(today - timedelta(days=31 + i)))
            assign(customer, staff, at=at(today - timedelta(days=300)), commit=False)
        db.session.commit()
    client = login("beautician1")
    first = client.get("/tasks/today", headers={"Accept-Language": "en"}).get_data(as_text=True)
    shown = re.findall(r'class="task-name"[^>]*>([^<]+)<', first)
    assert shown == [f"顾客{i:02d}" for i in range(15)]  # 31, 32, 33 days: easiest to win back
    assert "pager" not in first and 'href="/tasks/today/more"' in first
    # The plan's counts; every red flag counts in the red flags (80 + her own "mine").
    assert "<strong data-done>0</strong>/<span data-total>15</span>" in first
    assert "81 red flags" in first
    head = first.split("</header>")[0]
    assert "<template" not in head  # the log panel belongs to the list
    more = client.get("/tasks/today/more").get_data(as_text=True)
    rest = re.findall(r'class="task-name"[^>]*>([^<]+)<', more)
    assert rest == [f"顾客{i:02d}" for i in range(15, 65)]  # the next fifty, in turn
    assert "1 / 2" in more and "/tasks/today/more?page=2" in more
    second = client.get("/tasks/today/more?page=2").get_data(as_text=True)
    assert len(re.findall(r'class="task-name"', second)) == 16  # 65…79 and "mine"
    assert client.get("/tasks/today/more?page=99").status_code == 200  # the last page


def test_kept_items_follow_every_change_the_page_shows(app, login, world):
    """Today keeps each item's HTML between views (kq.fragments); a changed row, language or
    store text must still show at once."""
    from kq.models import MessageTemplate, User
    from kq.services.assignments import assign

    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        customer = CustomerFactory(store_id=store.id, greeting_name="梁小姐",
                                   phone="+8613812340099",
                                   last_visit_at=at(today - timedelta(days=40)))
        assign(customer, db.session.get(User, world.users["beautician1"]),
               at=at(today - timedelta(days=300)), commit=False)
        db.session.commit()
        customer_id, store_id = customer.id, store.id
    client = login("beautician1")

    def item(lang="en"):
        page = client.get("/tasks/today", headers={"Accept-Language": lang}).get_data(
            as_text=True)
        return re.search(rf'<li class="task[^"]*"[^>]*>\s*<div class="task-head">\s*'
                         rf'<a class="task-name" href="/customers/{customer_id}">.*?</li>',
                         page, re.S).group(0)

    first = item()
    assert "40 days without a visit" in first and item() == first
    assert "40 天未到店" in item("zh-CN")
    with app.app_context():  # the store writes its own red-flag text
        db.session.add(MessageTemplate(store_id=store_id, kind="red_flag", channel="sms",
                                       body="{greeting}，店里想您了。—{staff}"))
        db.session.commit()
    page = client.get("/tasks/today").get_data(as_text=True)
    assert sms_body(page, "13812340099").startswith("梁小姐，店里想您")  # the store's own text
    response = client.post("/calls/log", data={"customer_id": customer_id, "channel": "phone",
                                               "outcome": "reached"})
    assert response.status_code in (200, 302)
    assert "is-done" in item() and "is-done" not in first


def test_many_items_at_once_insert_once_with_defaults(app, world):
    """Over 100 rows PostgreSQL takes them as one JSON document: same rows, same defaults, and
    duplicates ignored, as the row-by-row statement does on SQLite."""
    from kq.models import Task, User
    from kq.services.checklist import UNIQUE, insert_ignoring_duplicates

    with app.app_context():
        staff = db.session.get(User, world.users["beautician1"])
        customers = [CustomerFactory(store_id=world.store1) for _ in range(120)]
        db.session.flush()
        rows = [{"store_id": world.store1, "staff_id": staff.id, "customer_id": c.id,
                 "kind": "red_flag", "due_on": D, "status": "open",
                 "detail": {"days": 31 + i, "note": "引号\"和&"}} for i, c in enumerate(customers)]
        assert insert_ignoring_duplicates(Task, rows, UNIQUE) == 120
        assert insert_ignoring_duplicates(Task, rows + [{**rows[0], "due_on": D + timedelta(
            days=1)}], UNIQUE) == 1
        db.session.commit()
        made = db.session.scalars(db.select(Task).where(Task.due_on == D)
                                  .order_by(Task.id)).all()
        assert len(made) == 120
        assert made[5].detail == {"days": 36, "note": "引号\"和&"}
        assert all(t.created_at is not None and t.created_at.tzinfo is not None for t in made)


def _snapshot(day):
    return sorted((t.staff_id, t.customer_id, t.kind) for t in items(day=day))


def test_two_generators_of_one_store_day_give_what_one_gives(app, world, monkeypatch):
    """The second run reads this week's satisfaction count while the first is still choosing,
    then picks her customers after the first has committed: without serialising the store-day
    it found the quota unmet and the first run's customers 'recently asked', and added three
    more (6 where 3 were due). Each run has its own thread, app context and connection."""
    import math
    import types

    from kq.services import checklist

    monday = D - timedelta(days=D.weekday())
    with app.app_context():
        for i in range(30):
            CustomerFactory(store_id=world.store1,
                            last_visit_at=at(monday - timedelta(days=2 + i % 5), 9 + i % 8))
        for days in range(31, 41):
            _customer(world, last_visit_at=at(monday - timedelta(days=days)))
    first_waiting, second_read, first_done = (threading.Event() for _ in range(3))
    hooked = []

    def ceil(value):  # runs between reading this week's count and choosing the customers
        hooked.append(threading.current_thread().name)
        if threading.current_thread().name == "first":
            first_waiting.set()
            second_read.wait(timeout=3)  # with the lock, the second never gets here: go on
        elif threading.current_thread().name == "second":
            second_read.set()
            first_done.wait(timeout=30)
        return math.ceil(value)

    monkeypatch.setattr(checklist, "math", types.SimpleNamespace(ceil=ceil))
    results, errors = {}, []

    def run():
        try:
            with app.app_context():
                name = threading.current_thread().name
                results[name] = generate_day(db.session.get(Store, world.store1), monday)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            if threading.current_thread().name == "first":
                first_done.set()

    first = threading.Thread(target=run, name="first")
    first.start()
    assert first_waiting.wait(timeout=30)
    second = threading.Thread(target=run, name="second")
    second.start()
    first.join()
    second.join()
    assert errors == []
    assert sorted(hooked) == ["first", "second"]  # the interleaving really was exercised
    with app.app_context():
        together = _snapshot(monday)
        assert len(items(day=monday, kind="satisfaction")) == 3  # ceil(20 × 1/7)
        assert sorted(results.values()) == [0, len(together)]
        db.session.execute(db.delete(checklist.Task))
        db.session.execute(db.text("DELETE FROM checklist_runs"))
        db.session.commit()
    monkeypatch.undo()
    with app.app_context():
        alone = generate_day(db.session.get(Store, world.store1), monday)
        assert _snapshot(monday) == together and alone == len(together)
