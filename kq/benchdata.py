"""Synthetic data at store and chain scale for the benchmarks (`kq bench-data`).

Rows go in through bulk inserts (COPY on PostgreSQL) with ids allocated here, and every
customer's bookkeeping (last visit, visit count, total spent) is computed from the visits
inserted for her, exactly as the visit service would leave it. About 60% end up dormant.
"""
import random
from types import SimpleNamespace
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import func, insert, select, text

from kq.demo import (GIVEN_F, GIVEN_M, SERVICES, SURNAMES, TRIAL_SHARE, TRIALS,
                     mobile_number)
from kq.extensions import db
from kq.models import (BEAUTICIAN, MANAGER, Assignment, CardMove, Contact, Customer,
                       CustomerSearchKey, PrepaidCard, Store, User, Visit)
from kq.services.classify import recompute_store
from kq.services.customers import search_keys

BATCH = 20000
CARD_PRICE_FEN = 298000  # a ten-session course card


class _Ids:
    def __init__(self, model):
        self.next = (db.session.scalar(select(func.max(model.id))) or 0) + 1

    def take(self):
        value = self.next
        self.next += 1
        return value


def _copy(table, rows):
    """COPY rows (dicts with the same keys) into a PostgreSQL table."""
    if not rows:
        return
    columns = list(rows[0])
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(f'COPY {table.name} ({", ".join(columns)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])


def _bulk(model, rows):
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        _copy(model.__table__, rows)
    else:
        for start in range(0, len(rows), BATCH):
            db.session.execute(insert(model.__table__), rows[start:start + BATCH])


def _fix_sequences(*models):
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for model in models:
        table = model.__tablename__
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # nosec B608 # our tables
            f"COALESCE((SELECT MAX(id) FROM {table}), 1))"))


def _local(tz, day, rng):
    return datetime.combine(day, time(rng.randint(10, 20), rng.choice((0, 15, 30, 45))),
                            tzinfo=tz).astimezone(timezone.utc)


def fill(customers, visits, staff, stores, seed=7, password_hash=None, log=print):
    """Add `stores` stores, each with `staff` beauticians, a manager, `customers` customers and
    about `visits` visits in all (per store: visits / stores)."""
    rng = random.Random(seed)  # nosec B311 # repeatable bench data, no secret
    ids = {m: _Ids(m) for m in (Store, User, Customer, CustomerSearchKey, Visit, Assignment,
                                Contact, PrepaidCard, CardMove)}
    if password_hash is None:
        probe = User(password_hash="")  # nosec B106 # replaced at once below
        probe.set_password("bench1234")
        password_hash = probe.password_hash
    now = datetime.now(timezone.utc)
    used_phones = set(db.session.scalars(select(Customer.phone)).all())
    per_store_visits = visits // stores
    for s in range(stores):
        store = Store(id=ids[Store].take(), name=f"基准门店{s + 1:03d}")
        db.session.add(store)
        db.session.flush()
        tz = store.tz
        today = store.today()
        team = []
        for i in range(staff + 1):
            uid = ids[User].take()
            role = MANAGER if i == 0 else BEAUTICIAN
            team.append({"id": uid, "store_id": store.id, "username": f"bench{store.id}_{i}",
                         "display_name": f"{rng.choice(SURNAMES)}{rng.choice(GIVEN_F)}",
                         "password_hash": password_hash, "role": role, "active": True,
                         "created_at": now})
        _bulk(User, team)
        beauticians = [u["id"] for u in team[1:]]
        customer_rows, visit_rows, assignment_rows, contact_rows = [], [], [], []
        card_rows, move_rows = [], []
        mean_visits = per_store_visits / max(1, customers)
        for n in range(customers):
            cid = ids[Customer].take()
            female = rng.random() < 0.92
            surname = rng.choice(SURNAMES)
            pool = GIVEN_F if female else GIVEN_M
            name = surname + rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.7 else "")
            title = "小姐" if female else "先生"
            while True:
                phone = mobile_number(rng.choice("3456789"), rng.randrange(10**9))
                if phone not in used_phones:
                    used_phones.add(phone)
                    break
            joined = today - timedelta(days=rng.randint(40, 540))
            trial = rng.random() < TRIAL_SHARE  # came on a trial card; mostly never returned
            stop = (today - timedelta(days=rng.randint(31, (today - joined).days))
                    if rng.random() < (0.8 if trial else 0.44)
                    else today - timedelta(days=rng.randint(0, 29)))
            # At least one visit (the last, on `stop`); the rest spread over her time with us.
            # Regulars make up for the trial customers' one or two visits in the mean.
            regular_mean = (mean_visits - TRIAL_SHARE * 1.3) / (1 - TRIAL_SHARE)
            count = (rng.choice((1, 1, 2)) if trial else
                     1 + round(rng.expovariate(1 / (regular_mean - 1))) if regular_mean > 1 else 1)
            span = (stop - joined).days
            days = sorted([stop - timedelta(days=rng.randint(0, span)) for _ in range(count - 1)]
                          + [stop])
            staff_id = beauticians[n % len(beauticians)]
            spent, last = 0, None
            for day in days:
                service, price = rng.choice(TRIALS if trial else SERVICES)
                moment = _local(tz, day, rng)
                visit_rows.append({"id": ids[Visit].take(), "store_id": store.id,
                                   "customer_id": cid, "staff_id": rng.choice(beauticians),
                                   "visited_at": moment, "services": service,
                                   "amount_fen": price, "points_earned": 0, "created_at": moment})
                spent += price
                last = moment if last is None or moment > last else last
            assigned = n % 10 != 9
            last_contact = None
            if assigned and rng.random() < 0.5:
                last_contact = _local(tz, today - timedelta(days=rng.randint(1, 60)), rng)
                contact_rows.append({"id": ids[Contact].take(), "store_id": store.id,
                                     "customer_id": cid, "staff_id": staff_id,
                                     "client_id": f"bench-{cid}", "channel": "phone",
                                     "outcome": rng.choice(("reached", "no_answer", "booked")),
                                     "contacted_at": last_contact, "created_at": last_contact})
            customer_rows.append({
                "id": cid, "store_id": store.id, "name": name, "surname": surname,
                "title": title, "greeting_name": surname + title, "gender": "F" if female else "M",
                "phone": phone, "birth_month": rng.randint(1, 12), "birth_day": rng.randint(1, 28),
                "approx_age": rng.randint(22, 62), "key_score": 0, "is_key": rng.random() < 0.3,
                "referral_count": 0, "marketing_consent": True, "do_not_contact": False,
                "assigned_staff_id": staff_id if assigned else None, "last_visit_at": last,
                "visit_count": len(days), "total_spent_fen": spent, "points_balance": 0,
                "last_contact_at": last_contact,
                "created_at": datetime.combine(joined, time(10), tzinfo=tz).astimezone(timezone.utc),
                "updated_at": now})
            if assigned:
                assignment_rows.append({"id": ids[Assignment].take(), "store_id": store.id,
                                        "customer_id": cid, "staff_id": staff_id,
                                        "assigned_at": now - timedelta(days=rng.randint(20, 150)),
                                        "proposed_for_reassignment": False, "created_at": now})
            if not trial and rng.random() < 0.3:
                card_id, used = ids[PrepaidCard].take(), rng.randint(0, 10)
                card_rows.append({"id": card_id, "store_id": store.id,
                                  "customer_id": cid, "name": "疗程卡", "sessions_total": 10,
                                  "sessions_used": used, "balance_fen": 0,
                                  "price_fen": CARD_PRICE_FEN, "status": "open",
                                  "created_at": now})
                # Its moves sum to the card: the sale, and the sessions used so far in one.
                for kind, sessions, paid in (("sale", 10, CARD_PRICE_FEN), ("use", -used, 0)):
                    if sessions:
                        move_rows.append({"id": ids[CardMove].take(), "store_id": store.id,
                                          "card_id": card_id, "customer_id": cid, "kind": kind,
                                          "sessions_delta": sessions, "balance_delta_fen": 0,
                                          "paid_fen": paid, "created_at": now})
        _bulk(Customer, customer_rows)
        _bulk(CustomerSearchKey, [
            {"id": ids[CustomerSearchKey].take(), "store_id": store.id, "customer_id": row["id"],
             "key": key}
            for row in customer_rows
            for key in sorted(search_keys(SimpleNamespace(name=row["name"], phone=row["phone"],
                                                          wechat_id=None)))])
        _bulk(Visit, visit_rows)
        _bulk(Assignment, assignment_rows)
        _bulk(Contact, contact_rows)
        _bulk(PrepaidCard, card_rows)
        _bulk(CardMove, move_rows)
        db.session.flush()
        recompute_store(store, commit=False)
        db.session.commit()
        log(f"store {store.id}: {len(customer_rows)} customers, {len(visit_rows)} visits, "
            f"{len(beauticians)} beauticians")
    _fix_sequences(Store, User, Customer, CustomerSearchKey, Visit, Assignment, Contact,
                   PrepaidCard, CardMove)
    db.session.commit()

