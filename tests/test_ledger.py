"""The reward/penalty ledger as timelines at their boundaries, voiding, proposals and even
spreading (SPEC §7)."""
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from kq.extensions import db
from kq.models import Assignment, Contact, Customer, LedgerEntry, Store, User
from kq.services import ServiceError
from kq.services.assignments import assign, spread
from kq.services.ledger import monthly_totals, run_ledger, void_entry
from kq.services.visits import record_visit
from tests.factories import CustomerFactory, UserFactory
from tests.helpers import at, load

P = date(2026, 3, 2)  # her previous visit
EN = {"Accept-Language": "en"}


def _store(world):
    return load(Store, world.store1)


def _staff(world, name):
    return load(User, world.users[name])


def _customer(world, staff="beautician1", assigned_on=P - timedelta(days=100), visits=(P,)):
    customer = CustomerFactory(store_id=world.store1)
    assign(customer, _staff(world, staff), at=at(assigned_on, 9), commit=False)
    db.session.commit()
    for day in visits:
        record_visit(customer, visited_at=at(day, 11), services="补水", amount_fen=30000)
    return customer


def _contact(customer, staff, day, hour=10):
    db.session.add(Contact(store_id=customer.store_id, customer_id=customer.id, staff_id=staff.id,
                           client_id=str(uuid.uuid4()), channel="phone", outcome="reached",
                           contacted_at=at(day, hour)))
    db.session.commit()


def _visit(customer, day, hour=15):
    record_visit(load(Customer, customer.id), visited_at=at(day, hour), services="面部护理",
                 amount_fen=38000)


def _entries(kind=None):
    query = select(LedgerEntry).order_by(LedgerEntry.id)
    if kind:
        query = query.where(LedgerEntry.kind == kind)
    return db.session.scalars(query).all()


@pytest.mark.parametrize("gap,rewarded", [(29, False), (30, True), (31, True)])
def test_a_return_after_29_vs_30_days(app, world, gap, rewarded):
    with app.app_context():
        customer = _customer(world)
        back = P + timedelta(days=gap)
        _contact(customer, _staff(world, "beautician1"), back, hour=9)
        _visit(customer, back)
        run_ledger(_store(world), back)
        rewards = _entries("reward")
        assert bool(rewards) is rewarded
        if rewarded:
            [reward] = rewards
            assert (reward.staff_id, reward.amount_fen, reward.occurred_on) == (
                world.users["beautician1"], 3000, back)
            assert reward.period == back.strftime("%Y-%m")


def test_a_contact_only_by_another_staff_member_earns_nothing(app, world):
    with app.app_context():
        customer = _customer(world)
        _contact(customer, _staff(world, "beautician2"), P + timedelta(days=35))
        _visit(customer, P + timedelta(days=40))
        run_ledger(_store(world), P + timedelta(days=40))
        assert _entries("reward") == []


def test_a_contact_before_the_spell_began_does_not_count(app, world):
    with app.app_context():
        customer = _customer(world)
        _contact(customer, _staff(world, "beautician1"), P + timedelta(days=29))
        _visit(customer, P + timedelta(days=40))
        run_ledger(_store(world), P + timedelta(days=40))
        assert _entries("reward") == []


def test_the_first_day_of_the_spell_counts(app, world):
    with app.app_context():
        customer = _customer(world)
        _contact(customer, _staff(world, "beautician1"), P + timedelta(days=30), hour=0)
        _visit(customer, P + timedelta(days=41))
        run_ledger(_store(world), P + timedelta(days=41))
        assert len(_entries("reward")) == 1


def test_reassignment_in_the_middle_of_a_spell(app, world):
    with app.app_context():
        b1, b2 = _staff(world, "beautician1"), _staff(world, "beautician2")
        kept = _customer(world)
        silent = _customer(world)
        for customer in (kept, silent):
            _contact(customer, b1, P + timedelta(days=35))
            assign(load(Customer, customer.id), b2, at=at(P + timedelta(days=40), 9))
        _contact(kept, b2, P + timedelta(days=45))
        for customer in (kept, silent):
            _visit(customer, P + timedelta(days=50))
        run_ledger(_store(world), P + timedelta(days=50))
        [reward] = _entries("reward")
        # The one she is assigned to at the visit, and only if she kept in touch.
        assert (reward.customer_id, reward.staff_id) == (kept.id, b2.id)


def test_a_reward_once_per_spell(app, world):
    with app.app_context():
        customer = _customer(world)
        back = P + timedelta(days=45)
        _contact(customer, _staff(world, "beautician1"), back - timedelta(days=5))
        _visit(customer, back, hour=11)
        _visit(customer, back, hour=16)  # a second visit the same day ends no spell
        _visit(customer, back + timedelta(days=3))
        store = _store(world)
        for day in (back, back + timedelta(days=3), back + timedelta(days=6)):
            run_ledger(store, day)
        assert len(_entries("reward")) == 1


@pytest.mark.parametrize("visit_day,penalised", [(None, True), (89, False), (90, True)])
def test_a_visit_on_day_89_vs_90_of_an_assignment(app, world, visit_day, penalised):
    with app.app_context():
        start = date(2026, 1, 10)
        customer = _customer(world, assigned_on=start, visits=(start - timedelta(days=20),))
        if visit_day is not None:
            _visit(customer, start + timedelta(days=visit_day))
        store = _store(world)
        run_ledger(store, start + timedelta(days=89))
        assert _entries("penalty") == []
        run_ledger(store, start + timedelta(days=90))
        penalties = _entries("penalty")
        assert bool(penalties) is penalised
        if penalised:
            [penalty] = penalties
            assert (penalty.staff_id, penalty.amount_fen, penalty.occurred_on) == (
                world.users["beautician1"], -3000, start + timedelta(days=90))
            assignment = db.session.get(Assignment, penalty.assignment_id)
            assert assignment.proposed_for_reassignment is True


def test_penalty_counts_from_the_later_of_last_visit_and_assignment(app, world):
    with app.app_context():
        start = date(2026, 1, 10)
        customer = _customer(world, assigned_on=start, visits=())
        _visit(customer, start + timedelta(days=10))
        store = _store(world)
        run_ledger(store, start + timedelta(days=99))
        assert _entries("penalty") == []
        run_ledger(store, start + timedelta(days=100))
        assert [e.occurred_on for e in _entries("penalty")] == [start + timedelta(days=100)]


def test_once_per_assignment_and_runs_are_idempotent(app, world):
    with app.app_context():
        start = date(2026, 1, 10)
        customer = _customer(world, assigned_on=start, visits=())
        store = _store(world)
        due = start + timedelta(days=90)
        assert run_ledger(store, due) == {"rewards": 0, "penalties": 1}
        assert run_ledger(store, due) == {"rewards": 0, "penalties": 0}
        assert run_ledger(store, due + timedelta(days=40)) == {"rewards": 0, "penalties": 0}
        assert run_ledger(store, due - timedelta(days=3)) == {"rewards": 0, "penalties": 0}
        # A new assignment is a new count.
        assign(load(Customer, customer.id), _staff(world, "beautician2"),
               at=at(due + timedelta(days=1), 9))
        run_ledger(store, due + timedelta(days=91))
        assert [e.staff_id for e in _entries("penalty")] == [world.users["beautician1"],
                                                            world.users["beautician2"]]


def test_a_late_run_catches_up_the_days_it_missed(app, world):
    with app.app_context():
        start = date(2026, 1, 10)
        _customer(world, assigned_on=start, visits=())
        run_ledger(_store(world), start + timedelta(days=95))
        # The entry is dated the day it fell due, not the day the run happened.
        assert [e.occurred_on for e in _entries("penalty")] == [start + timedelta(days=90)]


def test_a_voided_entry_stays_void(app, world, login):
    with app.app_context():
        store = _store(world)
        start = date(2026, 1, 10)
        _customer(world, assigned_on=start, visits=())
        run_ledger(store, start + timedelta(days=90))
        [entry] = _entries("penalty")
        period = entry.period
        assert monthly_totals(store, period)[world.users["beautician1"]]["net"] == -3000
        with pytest.raises(ServiceError):
            void_entry(store, entry.id, reason="  ", by=_staff(world, "manager"))
        void_entry(store, entry.id, reason="她出国了三个月", by=_staff(world, "manager"))
        assert monthly_totals(store, period) == {}
        run_ledger(store, start + timedelta(days=92))
        assert len(_entries()) == 1  # voided, never re-created
        with pytest.raises(ServiceError) as twice:
            void_entry(store, entry.id, reason="again", by=_staff(world, "manager"))
        assert twice.value.code == "void"
        entry_id = entry.id
    # Over HTTP: a reason is needed; another store's manager cannot see or void it.
    assert login("manager2").post(f"/manager/ledger/{entry_id}/void",
                                  data={"reason": "x"}).status_code == 404
    with app.app_context():
        entry = db.session.get(LedgerEntry, entry_id)
        assert entry.void_reason == "她出国了三个月" and entry.amount_fen == -3000


def test_spreading_is_even(app, world):
    with app.app_context():
        b3 = UserFactory(username="beautician3", store_id=world.store1)
        db.session.commit()
        staff = [_staff(world, "beautician1"), _staff(world, "beautician2"), b3]
        customers = [CustomerFactory(store_id=world.store1) for _ in range(7)]
        db.session.commit()
        received = spread(customers, staff)
        assert sorted(received.values()) == [2, 2, 3]
        assert sum(received.values()) == 7


def test_handover_spreads_her_customers_over_the_others(app, world, login):
    with app.app_context():
        b3 = UserFactory(username="beautician3", store_id=world.store1)
        db.session.commit()
        b3_id = b3.id
        for _ in range(4):
            _customer(world, visits=())
        leaving = world.users["beautician1"]
        theirs = db.session.scalar(select(db.func.count(Customer.id)).where(
            Customer.assigned_staff_id == leaving))
        assert theirs == 5
    response = login("manager").post("/manager/handover", data={
        "leaving": str(leaving), "staff": [str(world.users["beautician2"]), str(b3_id)],
        "deactivate": "1"})
    assert response.status_code == 302
    with app.app_context():
        counts = dict(db.session.execute(select(Customer.assigned_staff_id, db.func.count())
                                         .where(Customer.store_id == world.store1)
                                         .group_by(Customer.assigned_staff_id)).all())
        assert leaving not in counts
        # beautician2 had one already; the five are spread 3/2 or 2/3 in this batch.
        assert counts[world.users["beautician2"]] - 1 + counts[b3_id] == 5
        assert abs((counts[world.users["beautician2"]] - 1) - counts[b3_id]) <= 1
        assert load(User, leaving).active is False
        history = db.session.scalars(select(Assignment).where(
            Assignment.staff_id == leaving, Assignment.ended_at.is_not(None))).all()
        assert len(history) == 5 and {a.end_reason for a in history} == {"handover"}
        from kq.models import AuditEvent

        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.target_id == leaving).order_by(AuditEvent.id)).all()
        assert [(e.action, e.detail.get("op")) for e in events] == [
            ("handover", None), ("staff", "deactivate")]
        assert events[0].detail["customers"] == 5
        handover_id = events[0].id
    # Undone within ten minutes: her five customers are hers again, her account open again.
    page = login("manager").get("/manager/assignments", headers=EN).get_data(as_text=True)
    assert "5 customers of 员工" in page and f"/manager/undo/{handover_id}" in page
    login("manager").post(f"/manager/undo/{handover_id}")
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Customer.id)).where(
            Customer.assigned_staff_id == leaving)) == 5
        assert load(User, leaving).active is True
        assert db.session.scalar(select(db.func.count(Assignment.id)).where(
            Assignment.staff_id == leaving, Assignment.ended_at.is_(None))) == 5


def test_penalised_customers_are_proposed_and_reassigned_to_others_in_bulk(app, world, login):
    with app.app_context():
        b3 = UserFactory(username="beautician3", store_id=world.store1)
        db.session.commit()
        start = date(2026, 1, 10)
        stale = [_customer(world, assigned_on=start, visits=()) for _ in range(4)]
        run_ledger(_store(world), start + timedelta(days=90))
        proposals = db.session.scalars(select(Assignment.id).where(
            Assignment.proposed_for_reassignment.is_(True))).all()
        assert len(proposals) == 4
        ids = [c.id for c in stale]
        b3_id = b3.id
    client = login("manager")
    assert "4 proposed for reassignment" in client.get("/manager/ledger", headers=EN).get_data(
        as_text=True)
    listed = client.get("/manager/proposals", headers=EN).get_data(as_text=True)
    assert "Proposed for reassignment (4)" in listed
    assert " checked" not in listed  # nothing is ticked for her
    form = {"assignment": [str(i) for i in proposals], "action": "reassign"}
    review = client.post("/manager/proposals", data=form, headers=EN)
    assert review.status_code == 200
    assert "Reassign 4 customers, spread evenly over" in review.get_data(as_text=True)
    with app.app_context():  # asked, not done
        assert [load(Customer, i).assigned_staff_id for i in ids] == \
            [world.users["beautician1"]] * 4
    response = client.post("/manager/proposals/confirm", data=dict(form, expected="4"))
    assert response.status_code == 302
    with app.app_context():
        owners = [load(Customer, i).assigned_staff_id for i in ids]
        assert world.users["beautician1"] not in owners
        assert sorted(owners.count(s) for s in (world.users["beautician2"], b3_id)) == [2, 2]
        assert db.session.scalar(select(db.func.count(Assignment.id)).where(
            Assignment.proposed_for_reassignment.is_(True), Assignment.ended_at.is_(None))) == 0
        from kq.models import AuditEvent

        batch = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reassign"))
        batch_id = batch.id
    # Undone: back with her, proposed again, as before.
    client.post(f"/manager/undo/{batch_id}", data={"back": "proposals"})
    with app.app_context():
        assert [load(Customer, i).assigned_staff_id for i in ids] == \
            [world.users["beautician1"]] * 4
        assert sorted(db.session.scalars(select(Assignment.id).where(
            Assignment.proposed_for_reassignment.is_(True),
            Assignment.ended_at.is_(None))).all()) == sorted(proposals)


def test_keeping_proposals_asks_first_and_can_be_undone(app, world, login):
    with app.app_context():
        start = date(2026, 1, 10)
        for _ in range(3):
            _customer(world, assigned_on=start, visits=())
        run_ledger(_store(world), start + timedelta(days=90))
    client = login("manager")
    review = client.post("/manager/proposals", data={"scope": "all", "action": "keep"},
                         headers=EN)
    assert "Keep 3 customers with their beautician?" in review.get_data(as_text=True)
    client.post("/manager/proposals/confirm", data={"scope": "all", "action": "keep",
                                                    "expected": "3"})
    with app.app_context():
        assert _open_proposals() == 0
        from kq.models import AuditEvent

        batch_id = db.session.scalar(select(AuditEvent.id).where(
            AuditEvent.action == "keep_proposals"))
    client.post(f"/manager/undo/{batch_id}")
    with app.app_context():
        assert _open_proposals() == 3


def test_a_kept_customer_is_not_proposed_again_by_the_next_run(app, world, login):
    """The manager kept them with their beautician; the next night's run looks at the same
    days again (its catch-up window) and finds the same penalties, counted already: they are
    not proposed again, and the run rewrites no assignment."""
    from sqlalchemy import event

    with app.app_context():
        start = date(2026, 1, 10)
        for _ in range(3):
            _customer(world, assigned_on=start, visits=())
        run_ledger(_store(world), start + timedelta(days=90))
    client = login("manager")
    client.post("/manager/proposals/confirm", data={"scope": "all", "action": "keep",
                                                    "expected": "3"})
    updates = []
    with app.app_context():
        assert _open_proposals() == 0
        engine = db.engine

        def seen(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("UPDATE ASSIGNMENTS"):
                updates.append(statement)

        event.listen(engine, "before_cursor_execute", seen)
        try:
            made = run_ledger(_store(world), start + timedelta(days=92))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert made["penalties"] == 0
        assert _open_proposals() == 0
    assert updates == []


def _open_proposals():
    return db.session.scalar(select(db.func.count(Assignment.id)).where(
        Assignment.proposed_for_reassignment.is_(True), Assignment.ended_at.is_(None)))


def test_proposals_and_entries_are_paged_fifty_at_a_time(app, world, login):
    """Finding 7: the ledger page was 25,000 px tall with 188 proposals, all ticked."""
    with app.app_context():
        start = date(2026, 1, 10)
        store = _store(world)
        staff = _staff(world, "beautician1")
        for _ in range(60):
            customer = CustomerFactory(store_id=store.id)
            assign(customer, staff, at=at(start, 9), commit=False)
        db.session.commit()
        run_ledger(store, start + timedelta(days=90))
        period = (start + timedelta(days=90)).strftime("%Y-%m")
    client = login("manager")
    first = client.get("/manager/proposals", headers=EN).get_data(as_text=True)
    second = client.get("/manager/proposals?page=2", headers=EN).get_data(as_text=True)
    assert first.count('name="assignment"') == 50 and second.count('name="assignment"') == 10
    assert "1 / 2" in first and " checked" not in first + second
    assert "Reassign all 60" in first
    ledger = client.get(f"/manager/ledger?month={period}", headers=EN).get_data(as_text=True)
    assert ledger.count('class="row" id="e-') == 50 and "Entries (60)" in ledger
    assert 'name="assignment"' not in ledger  # the proposals have their own page
    more = client.get(f"/manager/ledger?month={period}&page=2").get_data(as_text=True)
    assert more.count('class="row" id="e-') == 10


def test_a_void_can_be_undone_for_ten_minutes(app, world, login):
    from kq.models import AuditEvent, utcnow
    from kq.services.ledger import LATE_VISIT

    with app.app_context():
        store = _store(world)
        start = date(2026, 1, 10)
        for _ in range(2):
            _customer(world, assigned_on=start, visits=())
        run_ledger(store, start + timedelta(days=90))
        first, second = [e.id for e in _entries("penalty")]
        period = _entries()[0].period
    client = login("manager")
    page = client.get(f"/manager/ledger?month={period}", headers=EN).get_data(as_text=True)
    assert "Void -¥30 of 员工" in page  # says what and whose
    client.post(f"/manager/ledger/{first}/void", data={"reason": "她出国了"})
    page = client.get(f"/manager/ledger?month={period}", headers=EN).get_data(as_text=True)
    assert f"/manager/ledger/{first}/unvoid" in page
    response = client.post(f"/manager/ledger/{first}/unvoid", headers=EN,
                           follow_redirects=True)
    assert "counts again" in response.get_data(as_text=True)
    with app.app_context():
        entry = db.session.get(LedgerEntry, first)
        assert (entry.voided_at, entry.void_reason) == (None, None)
        assert monthly_totals(_store(world), period)[world.users["beautician1"]]["net"] == -6000
        assert [e.action for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.target_id == first).order_by(AuditEvent.id))] == [
            "ledger_void", "ledger_unvoid"]
    # Too late after ten minutes; a void the ledger made itself is not hers to take back.
    client.post(f"/manager/ledger/{first}/void", data={"reason": "她出国了"})
    with app.app_context():
        entry = db.session.get(LedgerEntry, first)
        entry.voided_at = utcnow() - timedelta(minutes=11)
        other = db.session.get(LedgerEntry, second)
        other.voided_at, other.void_reason = utcnow(), f"{LATE_VISIT}:1"
        db.session.commit()
    for entry_id in (first, second):
        refused = client.post(f"/manager/ledger/{entry_id}/unvoid", headers=EN,
                              follow_redirects=True)
        assert "can no longer be undone" in refused.get_data(as_text=True)
    with app.app_context():
        assert all(db.session.get(LedgerEntry, i).voided_at for i in (first, second))
    assert login("manager2").post(f"/manager/ledger/{first}/unvoid").status_code == 404


def test_cli_ledger_run(app, world):
    with app.app_context():
        start = date(2026, 1, 10)
        _customer(world, assigned_on=start, visits=())
    runner = app.test_cli_runner()
    day = (start + timedelta(days=90)).isoformat()
    first = runner.invoke(args=["kq", "ledger", "run", "--date", day, "--store",
                                str(world.store1)])
    assert first.exit_code == 0, first.output
    assert "1 new penalties" in first.output
    again = runner.invoke(args=["kq", "ledger", "run", "--date", day])
    assert "store 1: 0 new rewards, 0 new penalties" in again.output
    bad = runner.invoke(args=["kq", "ledger", "run", "--date", "31/12/2026"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
