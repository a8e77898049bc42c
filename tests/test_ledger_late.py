"""The ledger whatever the order data arrives in (SPEC §7): once per dormant spell, a visit
entered late or a nightly run missed give the same ledger as the run on time would have."""
import random
import uuid
from datetime import date, timedelta

from freezegun import freeze_time
from sqlalchemy import select

from kq.extensions import db
from kq.models import Contact, Customer, LedgerEntry, Store, User
from kq.services.assignments import assign
from kq.services.ledger import run_ledger
from kq.services.visits import record_visit
from tests.factories import CustomerFactory
from tests.helpers import at, load

P = date(2026, 3, 2)  # her previous visit


def _setup(world, visits=(P,)):
    store = load(Store, world.store1)
    staff = load(User, world.users["beautician1"])
    customer = CustomerFactory(store_id=world.store1)
    assign(customer, staff, at=at(P - timedelta(days=30), 9), commit=False)
    db.session.commit()
    for day in visits:
        record_visit(customer, visited_at=at(day, 11), services="补水", amount_fen=30000)
    return store, staff, customer


def _contact(customer, staff, day, hour=10):
    db.session.add(Contact(store_id=customer.store_id, customer_id=customer.id,
                           staff_id=staff.id, client_id=str(uuid.uuid4()), channel="phone",
                           outcome="reached", contacted_at=at(day, hour)))
    db.session.commit()


def _visit(customer, day, hour=15):
    return record_visit(load(Customer, customer.id), visited_at=at(day, hour),
                        services="面部护理", amount_fen=38000)


def _live(kind=None):
    query = select(LedgerEntry).where(LedgerEntry.voided_at.is_(None)).order_by(LedgerEntry.id)
    if kind:
        query = query.where(LedgerEntry.kind == kind)
    return db.session.scalars(query).all()


def _summary():
    return sorted((e.kind, e.customer_id, e.staff_id, e.occurred_on, e.amount_fen)
                  for e in _live())


def test_two_visits_at_the_same_moment_end_one_spell_and_earn_once(app, world):
    with app.app_context():
        store, staff, customer = _setup(world)
        back = P + timedelta(days=40)
        _contact(customer, staff, back - timedelta(days=3))
        _visit(customer, back, hour=12)
        _visit(customer, back, hour=12)  # the form saved a blank time as 12:00 twice
        run_ledger(store, back)
        assert len(_live("reward")) == 1


def test_an_earlier_visit_of_a_rewarded_spell_entered_late_earns_nothing_more(app, world):
    with app.app_context():
        store, staff, customer = _setup(world)
        _contact(customer, staff, P + timedelta(days=35))
        _visit(customer, P + timedelta(days=50))
        run_ledger(store, P + timedelta(days=50))
        assert len(_live("reward")) == 1
        _visit(customer, P + timedelta(days=48))  # entered late, before the rewarded one
        run_ledger(store, P + timedelta(days=52))
        assert len(_live("reward")) == 1


def test_a_visit_entered_weeks_late_still_earns_its_reward(app, world):
    with app.app_context():
        store, staff, customer = _setup(world)
        back = P + timedelta(days=40)
        _contact(customer, staff, back - timedelta(days=2))
        for day in range(0, 20):  # the nightly runs go on; the visit is not in yet
            run_ledger(store, back + timedelta(days=day))
        assert _live("reward") == []
        _visit(customer, back)  # the paper slip is entered 20 days later
        run_ledger(store, back + timedelta(days=21))
        [reward] = _live("reward")
        assert (reward.occurred_on, reward.staff_id) == (back, staff.id)


def test_after_an_outage_a_later_visit_does_not_hide_a_penalty_already_due(app, world):
    with app.app_context():
        store, staff, customer = _setup(world)
        due = P + timedelta(days=90)
        run_ledger(store, due - timedelta(days=5))  # the last run before the outage
        _visit(customer, due + timedelta(days=5))  # she came back during the outage
        run_ledger(store, due + timedelta(days=12))  # the job runs again 17 days later
        [penalty] = _live("penalty")
        assert (penalty.occurred_on, penalty.amount_fen) == (due, -3000)


def test_a_late_visit_that_would_have_saved_her_voids_the_penalty(app, world):
    with app.app_context():
        store, staff, customer = _setup(world)
        due = P + timedelta(days=90)
        run_ledger(store, due)
        assert len(_live("penalty")) == 1
        _visit(customer, P + timedelta(days=80))  # the visit on day 80, entered late
        assert _live("penalty") == []
        entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "penalty"))
        assert entry.voided_at is not None and entry.void_reason.startswith("late_visit")
        # Ninety days after that visit, with no other, the penalty falls due again.
        run_ledger(store, P + timedelta(days=80 + 90))
        [penalty] = _live("penalty")
        assert penalty.occurred_on == P + timedelta(days=170)


def test_a_penalty_the_manager_voided_stays_void_and_is_not_made_again(app, world):
    from kq.services.ledger import void_entry

    with app.app_context():
        store, staff, customer = _setup(world)
        due = P + timedelta(days=90)
        run_ledger(store, due)
        [penalty] = _live("penalty")
        void_entry(store, penalty.id, reason="她出国了", by=load(User, world.users["manager"]))
        for day in range(0, 10):
            run_ledger(store, due + timedelta(days=day))
        assert _live("penalty") == []


def test_the_catch_up_command_counts_a_date_range(app, world):
    with app.app_context():
        store, staff, customer = _setup(world)
        back = P + timedelta(days=40)
        _contact(customer, staff, back - timedelta(days=2))
        _visit(customer, back)
        db.session.execute(LedgerEntry.__table__.delete())
        db.session.commit()
    out = app.test_cli_runner().invoke(args=[
        "kq", "ledger", "run", "--store", str(world.store1), "--from", P.isoformat(),
        "--date", (P + timedelta(days=140)).isoformat()])
    assert out.exit_code == 0, out.output
    with app.app_context():
        assert sorted((e.occurred_on, e.kind) for e in _live()) == [
            (P + timedelta(days=40), "reward"), (P + timedelta(days=130), "penalty")]
        assert _live("penalty")[0].occurred_on == P + timedelta(days=40 + 90)


def _timeline(world, seed):
    """A random half year of one customer: visits and contacts, some entered late."""
    rng = random.Random(seed)
    store, staff, customer = _setup(world)
    events = []
    day = P
    while day < P + timedelta(days=150):
        day += timedelta(days=rng.choice((3, 10, 25, 29, 30, 31, 45, 60, 89, 90, 95)))
        if rng.random() < 0.6:
            events.append(("contact", day - timedelta(days=rng.randint(1, 20))))
        events.append(("visit", day))
    return store, staff, customer, events


def _play(world, seed, mode):
    store, staff, customer, events = _timeline(world, seed)
    store.ledger_through = None  # each play starts as a store that has never counted
    db.session.commit()
    end = P + timedelta(days=250)
    entered = []
    for kind, day in events:
        delay = 0
        if mode == "late":
            delay = random.Random(seed * 1000 + day.toordinal()).choice((0, 0, 9, 15))
        entered.append((day + timedelta(days=delay), kind, day))
    entered.sort()
    pending = list(entered)
    d = P
    while d <= end:
        with freeze_time(at(d, 20)):
            while pending and pending[0][0] <= d:
                _when, kind, day = pending.pop(0)
                if kind == "visit":
                    _visit(customer, day)
                else:
                    _contact(customer, staff, day)
        if mode != "outage" or not (P + timedelta(days=60) <= d <= P + timedelta(days=140)):
            with freeze_time(at(d + timedelta(days=1), 5)):
                run_ledger(load(Store, store.id), d)
        d += timedelta(days=1)
    return sorted((e.kind, e.staff_id, e.occurred_on, e.amount_fen) for e in _live()
                  if e.customer_id == customer.id)


def test_nightly_late_entries_and_an_outage_give_the_same_ledger(app, world):
    for seed in (1, 2):
        results = {}
        for mode in ("nightly", "late", "outage"):
            with app.app_context():
                results[mode] = _play(world, seed, mode)
        assert results["late"] == results["nightly"], (seed, results)
        assert results["outage"] == results["nightly"], (seed, results)
        assert results["nightly"], seed  # each timeline earns or costs something


def test_a_contact_sent_after_the_visit_it_led_to_still_earns_the_reward(app, login, world):
    """Logged offline on day 35 of her absence, the phone sends it after she came back."""
    from datetime import datetime, timezone

    with app.app_context():
        customer_id = None
        store = load(Store, world.store1)
        staff = load(User, world.users["beautician1"])
        customer = CustomerFactory(store_id=world.store1)
        now = datetime.now(timezone.utc)
        assign(customer, staff, at=now - timedelta(days=120), commit=False)
        db.session.commit()
        record_visit(customer, visited_at=now - timedelta(days=45), services="补水",
                     amount_fen=30000)
        _visit(customer, store.local_date(now - timedelta(days=1)), hour=10)
        assert _live("reward") == []
        customer_id = customer.id
    called = (datetime.now(timezone.utc) - timedelta(days=3)).isoformat()
    response = login("beautician1").post("/api/contacts", json={
        "customer_id": customer_id, "client_id": str(uuid.uuid4()), "channel": "phone",
        "outcome": "reached", "contacted_at": called})
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        [reward] = _live("reward")
        assert reward.customer_id == customer_id and reward.staff_id == world.users["beautician1"]
