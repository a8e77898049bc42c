"""Today as a plan for the day (SPEC §3): what can't wait first, then the day's red flags up to
the store's daily contact target by a stated priority; the rest one tap away, taking their turn
so that every dormant customer is on some day's plan within a week. The owner's own list."""
import re
from datetime import timedelta

from kq.extensions import db
from kq.models import (Complaint, Contact, Customer, Gift, GiftHandout, PrepaidCard, Promise,
                       Store, User)
from kq.services.assignments import assign
from kq.services.checklist import generate_day
from kq.services.visits import record_visit
from tests.factories import CustomerFactory
from tests.helpers import at, items, load


def _names(page):
    return re.findall(r'class="task-name"[^>]*>([^<]+)<', page)


def _dormant(store, staff, n, *, first_days=31, prefix="沉睡", **fields):
    """n dormant customers of hers, the first `first_days` days unseen, then one day more each."""
    made = []
    for i in range(n):
        customer = CustomerFactory(store_id=store.id, greeting_name=f"{prefix}{i:03d}",
                                   last_visit_at=at(store.today() - timedelta(days=first_days + i)),
                                   **fields)
        assign(customer, staff, at=at(store.today() - timedelta(days=300)), commit=False)
        made.append(customer)
    return made


def _time_bound(store, staff):
    """One of each kind that can't wait, all due today, each for a customer seen ten days ago
    (not a recent visitor: the satisfaction quota would ask some of them too)."""
    today = store.today()
    recent = at(today - timedelta(days=10))

    def customer(name, **fields):
        c = CustomerFactory(store_id=store.id, greeting_name=name, last_visit_at=recent,
                            last_contact_at=recent, **fields)
        assign(c, staff, at=at(today - timedelta(days=300)), commit=False)
        db.session.flush()
        return c

    birthday = customer("生日", birth_month=today.month, birth_day=today.day)
    visited = customer("回访")
    record_visit(visited, visited_at=at(today - timedelta(days=1), 15), staff=staff,
                 commit=False)
    promised = customer("承诺")
    db.session.add(Promise(store_id=store.id, customer_id=promised.id, staff_id=staff.id,
                           what="试用新精华", due_on=today))
    gifted = customer("礼品")
    gift = Gift(store_id=store.id, name="面膜礼盒", quantity=3)
    db.session.add(gift)
    db.session.flush()
    db.session.add(GiftHandout(store_id=store.id, gift_id=gift.id, customer_id=gifted.id,
                               staff_id=staff.id, pickup_after=today))
    complained = customer("投诉")
    db.session.add(Complaint(store_id=store.id, customer_id=complained.id, staff_id=staff.id,
                             received_at=at(today - timedelta(days=2)), channel="phone",
                             summary="等太久", next_step_due_on=today))
    followed = customer("跟进")
    db.session.add(Contact(store_id=store.id, customer_id=followed.id, staff_id=staff.id,
                           client_id="00000000-0000-4000-8000-000000000099", channel="phone",
                           outcome="reached", contacted_at=recent, next_follow_up_on=today))
    return {"生日", "回访", "承诺", "礼品", "投诉", "跟进"}


def test_what_cannot_wait_comes_first_then_red_flags_up_to_the_target(app, login, world):
    """Finding 1: 40 red flags no longer bury today's birthday, callback, promise, gift,
    complaint step and her own follow-up; the plan holds 15 red flags (the store's target),
    the other red flags are one tap away."""
    with app.app_context():
        store = load(Store, world.store1)
        staff = load(User, world.users["beautician1"])
        store.daily_contact_target = 15
        _dormant(store, staff, 40)
        urgent = _time_bound(store, staff)
        db.session.commit()
    client = login("beautician1")
    page = client.get("/tasks/today", headers={"Accept-Language": "en"}).get_data(as_text=True)
    shown = _names(page)
    assert set(shown[:6]) == urgent, shown[:8]  # what can't wait, before any red flag
    red = [n for n in shown[6:] if n.startswith("沉睡")]
    assert len(red) == 15 and len(shown) == 6 + 15  # her target, nothing else on the plan
    assert red == [f"沉睡{i:03d}" for i in range(15)]  # the freshest dormancy first
    # The counts are the plan's: 21 to do; the rest waits one tap away.
    assert "<strong data-done>0</strong>/<span data-total>21</span>" in page
    assert 'href="/tasks/today/more"' in page
    # The priority is stated on the page, in one line.
    assert "key customers first" in page
    more = client.get("/tasks/today/more", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    rest = _names(more)
    # The 25 other red flags in the order they take their turn, and the world's "mine" (who
    # joined and never came: a red flag too).
    assert [n for n in rest if n.startswith("沉睡")] == [f"沉睡{i:03d}" for i in range(15, 40)]
    assert len(rest) == 26
    assert not set(rest) & urgent


def test_the_target_is_the_store_setting(app, login, world):
    with app.app_context():
        store = load(Store, world.store1)
        store.daily_contact_target = 4
        _dormant(store, load(User, world.users["beautician1"]), 10)
        db.session.commit()
        generate_day(store, store.today())
        planned = [t for t in items(day=store.today(), kind="red_flag",
                                    staff_id=world.users["beautician1"])
                   if t.detail.get("plan")]
        assert len(planned) == 4


def test_every_dormant_customer_is_on_a_plan_within_seven_days(app, world):
    """A backlog of 100 dormant customers, a target of 15, nobody reached all week: each of
    them is on some day's plan within the seven days (the rest roll to the next days)."""
    with app.app_context():
        store = load(Store, world.store1)
        staff = load(User, world.users["beautician1"])
        store.daily_contact_target = 15
        backlog = {c.id for c in _dormant(store, staff, 100)}
        db.session.commit()
        start = store.today()
        seen = set()
        for offset in range(7):
            day = start + timedelta(days=offset)
            generate_day(store, day)
            assert generate_day(store, day) == 0  # idempotent: the second run adds nothing
            planned = {t.customer_id for t in items(day=day, kind="red_flag",
                                                    staff_id=staff.id) if t.detail.get("plan")}
            assert len(planned) == 15, (day, len(planned))
            seen |= planned
        assert backlog <= seen, len(backlog - seen)


def test_priority_key_then_freshest_then_card_left_then_longest_without_contact(app, world):
    with app.app_context():
        store = load(Store, world.store1)
        staff = load(User, world.users["beautician1"])
        store.daily_contact_target = 4
        today = store.today()

        def sleeper(name, days, **fields):
            c = CustomerFactory(store_id=store.id, greeting_name=name,
                                last_visit_at=at(today - timedelta(days=days)), **fields)
            assign(c, staff, at=at(today - timedelta(days=300)), commit=False)
            db.session.flush()
            return c

        older = sleeper("四十天", 40)
        key = sleeper("重点", 300, is_key=True)
        never_called = sleeper("从未联系", 31)
        with_card = sleeper("有卡", 31)
        db.session.add(PrepaidCard(store_id=store.id, customer_id=with_card.id, name="疗程卡",
                                   sessions_total=10, sessions_used=4))
        called_long_ago = sleeper("二十天前联系", 31, last_contact_at=at(today - timedelta(days=20)))
        called_lately = sleeper("十天前联系", 31, last_contact_at=at(today - timedelta(days=10)))
        db.session.commit()
        generate_day(store, today)
        red = {t.customer_id: t.detail for t in items(day=today, kind="red_flag",
                                                      staff_id=staff.id)}
        turns = sorted((d["turn"], cid) for cid, d in red.items())
        order = [cid for _turn, cid in turns]
        assert order[:6] == [key.id, with_card.id, never_called.id, called_long_ago.id,
                             called_lately.id, older.id]
        assert [red[cid]["plan"] for cid in order[:6]] == [True] * 4 + [False] * 2


def test_owner_list_key_customers_of_every_store_up_to_her_target(app, login, world):
    """The owner calls key customers personally: besides their birthdays, her Today holds the
    key customers of every store whose touch is due (no contact for a week), up to her own
    daily target, each marked with its store."""
    with app.app_context():
        stores = [load(Store, world.store1), load(Store, world.store2)]
        stores[0].daily_contact_target = 6  # her home store's target is hers
        today = stores[0].today()
        for store in stores:
            for i in range(10):
                CustomerFactory(store_id=store.id, greeting_name=f"{store.name}贵宾{i}",
                                is_key=True, last_visit_at=at(today - timedelta(days=12)),
                                last_contact_at=at(today - timedelta(days=8 + i)))
            CustomerFactory(store_id=store.id, greeting_name=f"{store.name}刚联系", is_key=True,
                            last_visit_at=at(today - timedelta(days=12)),
                            last_contact_at=at(today - timedelta(days=2)))
        db.session.commit()
        for store in stores:
            generate_day(store, today)
        owner = world.users["owner"]
        touches = items(day=today, kind="relationship_touch", staff_id=owner)
        assert len(touches) == 6
        assert sorted(t.store_id for t in touches) == [world.store1] * 3 + [world.store2] * 3
        names = {load(Customer, t.customer_id).greeting_name for t in touches}
        # Not contacted longest first, in each store.
        assert names == {f"{s.name}贵宾{i}" for s in stores for i in (7, 8, 9)}
    page = login("owner").get("/tasks/today", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    shown = _names(page)
    assert {n for n in shown if "贵宾" in n} == names
    for name in names:  # each marked with its store
        item = re.search(rf'<li class="task[^"]*"[^>]*>(?:(?!</li>).)*{name}.*?</li>', page,
                         re.S).group(0)
        assert ('class="store-mark">一店<' in item) == name.startswith("一店"), item
        assert ('class="store-mark">二店<' in item) == name.startswith("二店"), item
    # An item of another store is logged after viewing that store; she comes back to it.
    client = login("owner")
    other = next(t for t in touches if t.store_id == world.store2)
    assert f'name="store_id" value="{world.store2}"' in page  # "Open in 二店", not Log
    response = client.post("/tasks/store", data={"store_id": world.store2, "task_id": other.id})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/tasks/today#t{other.id}"
    page = client.get("/tasks/today").get_data(as_text=True)
    assert f'href="/tasks/{other.id}/log" data-log-open' in page  # her Log, now in that store
    assert client.post("/api/contacts", json={
        "customer_id": other.customer_id, "task_id": other.id, "channel": "phone",
        "outcome": "reached", "client_id": "3f0a8a8e-6f3c-4e52-9a53-3d2f7c1b0e11"}
    ).status_code == 201
    assert login("beautician1").post("/tasks/store", data={"store_id": world.store2}
                                     ).status_code == 403


def _item(page, name, kind):
    found = re.search(rf'<li class="task kind-{kind}[^"]*"[^>]*>(?:(?!</li>).)*?'
                      rf'class="task-name"[^>]*>{name}<.*?</li>', page, re.S)
    assert found, (name, kind)
    return found.group(0)


def _text(html):
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_one_day_count_per_item_labelled_and_birthdays_by_date(app, login, world):
    """Finding 5: "姚女士 28天 / 重点顾客，16 天没有联系" showed two unlabelled counts, and a
    birthday item a red "326天". Each item now shows one count, saying what it counts; a
    birthday shows its date."""
    with app.app_context():
        store = load(Store, world.store1)
        staff = load(User, world.users["beautician1"])
        today = store.today()

        def mine(name, **fields):
            c = CustomerFactory(store_id=store.id, greeting_name=name, **fields)
            assign(c, staff, at=at(today - timedelta(days=300)), commit=False)
            return c

        mine("王女士", last_visit_at=at(today - timedelta(days=40)))
        mine("姚女士", is_key=True, last_visit_at=at(today - timedelta(days=28)),
             last_contact_at=at(today - timedelta(days=16)))
        mine("林小姐", birth_month=today.month, birth_day=today.day,
             last_visit_at=at(today - timedelta(days=326)))
        tomorrow = today + timedelta(days=1)
        mine("周小姐", birth_month=tomorrow.month, birth_day=tomorrow.day,
             last_visit_at=at(today - timedelta(days=3)))
        db.session.commit()
    client = login("beautician1")
    for lang, red, touch, birthday, prep in (
            ("en", "40 days without a visit", "16 days without contact",
             f"Birthday {today:%b} {today.day}", f"Birthday {tomorrow:%b} {tomorrow.day}"),
            ("zh-CN", "40 天未到店", "16 天未联系", f"生日 {today.month}月{today.day}日",
             f"生日 {tomorrow.month}月{tomorrow.day}日")):
        headers = {"Accept-Language": lang}
        page = client.get("/tasks/today", headers=headers).get_data(as_text=True)
        more = client.get("/tasks/today/more", headers=headers).get_data(as_text=True)
        both = page + more
        for name, kind, label in (("王女士", "red_flag", red), ("姚女士", "relationship_touch", touch),
                                  ("林小姐", "birthday_call", birthday),
                                  ("周小姐", "birthday_prep", prep)):
            text = _text(_item(both, name, kind))
            assert label in text, (lang, name, text)
            numbers = re.findall(r"\d+", text.replace(label, ""))
            assert numbers == [], (lang, name, text)  # one count (or date) per item
        birthday_item = _item(both, "林小姐", "birthday_call")
        assert "326" not in birthday_item and 'class="days red' not in birthday_item
        assert 'class="days red' in _item(both, "王女士", "red_flag")
