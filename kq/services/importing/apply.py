"""Writing a plan, in the caller's one transaction: new cards, filled-in fields, assignments,
tags, opening records of her history, visits, prepaid cards and points, then every touched
customer's bookkeeping recomputed from her visits and the store re-classified once."""
from types import SimpleNamespace

from sqlalchemy import insert, select, update

from kq.extensions import db
from kq.models import (Assignment, Customer, CustomerSearchKey, CustomerTag, PointsEntry, Visit,
                       utcnow)
from kq.services.customers import guess_surname, search_keys
from kq.services.importing.plan import OPENING_SERVICES, _card_name, opening
from kq.services.visits import keep_books, record_imported_visits

CHUNK = 900
TITLES = {"F": "女士", "M": "先生"}


def _chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _new_customer_row(store, record, now):
    fields = record.fields
    name = fields["name"]
    surname = guess_surname(name)
    title = TITLES.get(fields.get("gender"), "女士")
    row = {"store_id": store.id, "name": name, "surname": surname, "title": title,
           "greeting_name": (surname + title)[:20], "phone": record.phone,
           "created_at": now, "updated_at": now}
    for key, value in fields.items():
        if key != "name":
            row[key] = value
    return row


def _insert_customers(store, plan, now, progress):
    new = [r for p, r in plan.records.items() if p not in plan.existing]
    ids = {}
    keys = ("name", "surname", "title", "greeting_name", "phone", "gender", "birth_month",
            "birth_day", "birth_year", "tier", "approx_age", "wechat_id", "address", "email",
            "skin_type", "notes", "source")
    for chunk in _chunks(new):
        rows = []
        for record in chunk:
            row = _new_customer_row(store, record, now)
            rows.append({**{k: row.get(k) for k in keys}, "store_id": store.id,
                         "points_balance": record.points or 0, "created_at": now,
                         "updated_at": now})
        result = db.session.execute(insert(Customer.__table__).returning(
            Customer.__table__.c.id, Customer.__table__.c.phone), rows)
        for customer_id, phone in result:
            ids[phone] = customer_id
        progress(len(ids))
    search_rows = []
    for record in new:
        probe = SimpleNamespace(name=record.fields["name"], phone=record.phone,
                                wechat_id=record.fields.get("wechat_id"))
        search_rows.extend({"store_id": store.id, "customer_id": ids[record.phone], "key": key}
                           for key in sorted(search_keys(probe)))
    for chunk in _chunks(search_rows, 5000):
        db.session.execute(insert(CustomerSearchKey.__table__), chunk)
    return ids


def _update_customers(store, plan, ids):
    from kq.services.customers import refresh_search_keys

    for phone, changes in plan.changes.items():
        customer_id = ids[phone]
        db.session.execute(update(Customer).where(Customer.id == customer_id).values(
            **changes, updated_at=utcnow()))
        if {"name", "wechat_id"} & set(changes):
            customer = db.session.get(Customer, customer_id)
            db.session.refresh(customer)
            if "name" in changes:
                customer.surname = guess_surname(customer.name)
                customer.greeting_name = (customer.surname + (customer.title or ""))[:20]
            refresh_search_keys(customer)


def _assign(store, plan, ids, by, now):
    wanted = {}
    for phone, record in plan.records.items():
        if not record.staff_id:
            continue
        current = plan.existing.get(phone)
        if current is None or (current.assigned_staff_id is None and "assign" in
                               plan.actions.get(phone, ())):
            wanted[ids[phone]] = record.staff_id
    rows = [{"store_id": store.id, "customer_id": cid, "staff_id": sid, "assigned_at": now,
             "assigned_by_id": by.id if by else None, "proposed_for_reassignment": False,
             "created_at": now} for cid, sid in wanted.items()]
    for chunk in _chunks(rows, 5000):
        db.session.execute(insert(Assignment.__table__), chunk)
    by_staff = {}
    for cid, sid in wanted.items():
        by_staff.setdefault(sid, []).append(cid)
    for sid, cids in by_staff.items():
        for chunk in _chunks(cids):
            db.session.execute(update(Customer).where(Customer.id.in_(chunk))
                               .values(assigned_staff_id=sid)
                               .execution_options(synchronize_session=False))
    return len(wanted)


def _tags(store, plan, ids):
    have = set()
    touched = [ids[p] for p, r in plan.records.items() if r.tags and p in plan.existing]
    for chunk in _chunks(touched):
        have |= set(db.session.execute(select(CustomerTag.customer_id, CustomerTag.name)
                                       .where(CustomerTag.customer_id.in_(chunk))).all())
    rows = []
    for phone, record in plan.records.items():
        for tag in record.tags[:20]:
            key = (ids[phone], tag[:30])
            if key not in have:
                have.add(key)
                rows.append({"store_id": store.id, "customer_id": key[0], "name": key[1]})
    for chunk in _chunks(rows, 5000):
        db.session.execute(insert(CustomerTag.__table__), chunk)


def _openings(store, plan, ids, by, now):
    """One opening record per customer whose sheet gives a last visit: her history from the
    old system, imported=True so it never earns a reward, counting as visit_count visits."""
    rows = []
    for phone, record in plan.records.items():
        wanted = opening(store, record, plan.listed.get(phone, ()))
        if wanted is None:
            continue
        if phone in plan.existing and "opening" not in plan.actions.get(phone, ()):
            continue
        rows.append({"store_id": store.id, "customer_id": ids[phone], "staff_id": None,
                     "visited_at": wanted[0], "services": OPENING_SERVICES,
                     "amount_fen": wanted[1], "recorded_by_id": by.id if by else None,
                     "visits_counted": wanted[2], "created_at": now})
    # A newer sheet updates the opening record in place (a care note may point at it).
    have = {}
    for chunk in _chunks([r["customer_id"] for r in rows]):
        have.update(db.session.execute(select(Visit.customer_id, Visit.id).where(
            Visit.customer_id.in_(chunk), Visit.imported.is_(True),
            Visit.services == OPENING_SERVICES)).all())
    for row in rows:
        if row["customer_id"] in have:
            db.session.execute(update(Visit).where(Visit.id == have[row["customer_id"]]).values(
                visited_at=row["visited_at"], amount_fen=row["amount_fen"],
                visits_counted=row["visits_counted"]))
    touched = record_imported_visits([r for r in rows if r["customer_id"] not in have])
    return touched | set(have)


def _visits(store, plan, ids, by, now, progress):
    rows = [{"store_id": store.id, "customer_id": ids[x["phone"]], "staff_id": x["staff_id"],
             "visited_at": x["visited_at"], "services": x["services"],
             "amount_fen": x["amount_fen"], "recorded_by_id": by.id if by else None,
             "created_at": now} for x in plan.new_visits if x["phone"] in ids]
    return record_imported_visits(rows, progress)


def _cards(store, plan, ids, by):
    from kq.services.cards import sell_card
    from datetime import date

    made = 0
    for phone, record in plan.records.items():
        if not record.card:
            continue
        if phone in plan.existing and "card" not in plan.actions.get(phone, ()):
            continue
        customer = db.session.get(Customer, ids[phone])
        expires = record.card["expires_on"]
        sell_card(customer, name=_card_name(record.card), sessions=record.card["sessions"],
                  balance_fen=record.card["balance_fen"], price_fen=0,
                  expires_on=date.fromisoformat(expires) if expires else None, by=by,
                  kind="import", commit=False)
        made += 1
    return made


def _points(store, plan, ids, by):
    rows = []
    for phone, record in plan.records.items():
        if not record.points or phone in plan.existing:
            continue
        rows.append({"store_id": store.id, "customer_id": ids[phone], "points": record.points,
                     "reason": "import", "staff_id": by.id if by else None,
                     "created_at": utcnow()})
    for chunk in _chunks(rows, 5000):
        db.session.execute(insert(PointsEntry.__table__), chunk)
    return len(rows)  # the balances went in with the new customers (_insert_customers)


def apply(store, plan, by, progress=lambda stage, done: None):
    """Write the plan (no commit). Returns what was written."""
    from kq.services.classify import recompute_store

    now = utcnow()
    ids = {phone: row.id for phone, row in plan.existing.items()}
    ids.update(_insert_customers(store, plan, now, lambda n: progress("customers", n)))
    _update_customers(store, plan, ids)
    assigned = _assign(store, plan, ids, by, now)
    _tags(store, plan, ids)
    touched = _openings(store, plan, ids, by, now)
    touched |= _visits(store, plan, ids, by, now, lambda n: progress("visits", n))
    cards = _cards(store, plan, ids, by)
    points = _points(store, plan, ids, by)
    keep_books(touched)
    db.session.expire_all()
    progress("classify", 0)
    recompute_store(store, commit=False)
    return {"assigned": assigned, "visits": len(plan.new_visits), "cards": cards,
            "points": points}
