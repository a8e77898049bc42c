"""Building each staff member's checklist for one store and one local date (SPEC §3).

Every rule reads its numbers from the store's settings and is one indexed query; rows are
inserted with ON CONFLICT DO NOTHING on (staff, customer, kind, date), so running a day twice,
or twice at once, creates nothing new.

The day is a plan she can finish: everything that can't wait is on it, and of her red flags
only the store's daily contact target, by a stated priority (`_plan_red_flags`); the others
wait one tap away and take their turn on the next days, so that within a week every dormant
customer of hers has been on a plan. A red flag's detail says whether it is planned ("plan")
and its place in the queue ("turn"). The owner's own list is her key customers' birthdays and,
up to her own target, the key customers of every store whose touch is due (`_owner_touches`).
"""
import json
import math
from calendar import isleap
from datetime import date, datetime, time, timedelta, timezone
from operator import itemgetter

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from kq.extensions import db
from kq.gcpause import without_cyclic_gc
from kq.models import (BEAUTICIAN, OWNER, ChecklistRun, Complaint, Contact, Customer, GiftHandout,
                       PrepaidCard, Promise, Store, Task, User, Visit)
from kq.models.contact import planned_for
from kq.models.engagement import COMPLAINT_STEPS, ComplaintStep, Gift
from kq.services.settings import apply_pending_settings

UNIQUE = ("staff_id", "customer_id", "kind", "due_on")
TURN_DAYS = 7  # every dormant customer on some day's plan within this many days


def on_plan():
    """SQL: the item is on the day's plan (a kind due that day, or a planned one): its
    `planned` column, set from the kind and the detail's "plan" when the item is written."""
    return Task.planned.is_(True)


def midnight(store, day):
    """The instant a local calendar day starts in the store's timezone."""
    return datetime.combine(day, time.min, tzinfo=store.tz)


def insert_ignoring_duplicates(model, rows, index_elements, *, fresh=False):
    """INSERT … ON CONFLICT DO NOTHING; returns how many rows this statement really added.
    `fresh`: the caller has left out the rows already stored (and the rows are distinct), so
    PostgreSQL is first asked for a plain INSERT, in a savepoint: ON CONFLICT's speculative
    insertion about doubles the cost of each row (a day's 15,000 items: 0.33 → 0.6 s), and a
    row that another writer added meanwhile makes it fall back to ON CONFLICT DO NOTHING."""
    if not rows:
        return 0
    if model is Task:  # each row's place on the plan, from its kind and detail
        rows = [row if "planned" in row else
                {**row, "planned": planned_for(row["kind"], row.get("detail"))} for row in rows]
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql" and len(rows) > 100:
        if fresh:
            from sqlalchemy.exc import IntegrityError

            try:
                with db.session.begin_nested():
                    return _insert_json(model.__table__, rows, None)
            except IntegrityError:
                pass  # added meanwhile by someone else: skip it as usual
        return _insert_json(model.__table__, rows, index_elements)
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (insert(model).on_conflict_do_nothing(index_elements=index_elements)
                 .returning(model.id))
    return len(db.session.execute(statement, rows).all())


def _json_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _insert_json(table, rows, index_elements):
    """PostgreSQL, many rows: one INSERT … SELECT FROM json_array_elements(one JSON document)
    ON CONFLICT DO NOTHING. A day's 15,000 items per store went in as fifteen 1,000-row VALUES
    statements (psycopg parsing their placeholders), then as one array per column (psycopg
    escaping every element of every array in Python: most of a store's generation time); now
    each row is a JSON array of the values that differ between rows, made by json.dumps in C,
    and a value the same in every row (the store, the day, a Python-side default such as
    created_at, filled in here as insert() would) is one parameter."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.types import JSON

    dialect = postgresql.dialect()
    quote = dialect.identifier_preparer.quote
    names = list(rows[0])
    constant = {}
    for column in table.columns:
        if column.name not in names and column.default is not None and not column.primary_key:
            default = column.default
            constant[column.name] = default.arg(None) if default.is_callable else default.arg
    for name in names:
        first = rows[0][name]
        if not isinstance(table.c[name].type, JSON) and all(row[name] is first for row in rows):
            constant[name] = first
    varying = [name for name in names if name not in constant]
    columns, params = [], []
    for i, name in enumerate(varying):
        kind = table.c[name].type
        sql_type = kind.compile(dialect=dialect)
        # a json column takes the value as it is (None: JSON null, as insert() stores it)
        columns.append(f"CAST(e->{i} AS {sql_type})" if isinstance(kind, JSON)
                       else f"CAST(e->>{i} AS {sql_type})")
    for name, value in constant.items():
        columns.append(f"CAST(%s AS {table.c[name].type.compile(dialect=dialect)})")
        params.append(value)
    listed = ", ".join(quote(name) for name in varying + list(constant))
    # Names and types from the table's metadata, values bound as parameters:
    conflict = ("" if index_elements is None else  # None: a plain INSERT
                f"ON CONFLICT ({', '.join(quote(name) for name in index_elements)}) DO NOTHING ")
    sql = (f"WITH added AS (INSERT INTO {quote(table.name)} ({listed}) "  # nosec B608
           f"SELECT {', '.join(columns)} FROM json_array_elements(%s::json) AS e {conflict}"
           f"RETURNING 1) SELECT count(*) FROM added")
    values = (map(itemgetter(*varying), rows) if len(varying) > 1
              else ([row[name] for name in varying] for row in rows))
    document = json.dumps(list(values), ensure_ascii=False, default=_json_value)
    return db.session.connection().exec_driver_sql(sql, (*params, document)).scalar()


def _live(store):
    return and_(Customer.store_id == store.id, Customer.deleted_at.is_(None),
                Customer.do_not_contact.is_(False))


def _untouched_since(cut):
    """No contact, no visit and not joined since `cut`."""
    return and_(or_(Customer.last_contact_at.is_(None), Customer.last_contact_at < cut),
                or_(Customer.last_visit_at.is_(None), Customer.last_visit_at < cut),
                Customer.created_at < cut)


def _birthday_is(target):
    condition = and_(Customer.birth_month == target.month, Customer.birth_day == target.day)
    if (target.month, target.day) == (2, 28) and not isleap(target.year):
        condition = or_(condition, and_(Customer.birth_month == 2, Customer.birth_day == 29))
    return condition


class _Day:
    """Candidates for one store-day; the first reason for (staff, customer, kind) wins."""

    def __init__(self, store, day):
        self.store, self.day = store, day
        self.items = {}
        self.touches = []  # relationship touches due, read with the red flags

    def add(self, staff_id, customer_id, kind, **detail):
        if staff_id is not None:
            self.items.setdefault((staff_id, customer_id, kind), detail)

    def rows(self, staff_ids, stored=frozenset()):
        """The items of staff in `staff_ids` not in `stored` (staff, customer, kind), in order."""
        store_id, day = self.store.id, self.day
        return [{"store_id": store_id, "staff_id": s, "customer_id": c, "kind": k,
                 "due_on": day, "status": "open", "detail": d}
                for (s, c, k), d in sorted(self.items.items(), key=itemgetter(0))
                if s in staff_ids and (s, c, k) not in stored]


def _red_flags(d):
    """Her dormant customers not contacted lately (red flags, planned by _plan_red_flags).
    The same read finds the customers whose relationship touch is due (the condition is
    evaluated by the database, as its own query did): _relationship_touches takes them from
    `d.touches`, so the store's customers are read once, not twice."""
    store, day = d.store, d.day
    visit_cut = midnight(store, day - timedelta(days=store.dormant_after_days - 1))
    quiet_cut = midnight(store, day - timedelta(days=store.red_flag_quiet_days - 1))
    is_red = and_(or_(Customer.last_visit_at < visit_cut,
                      and_(Customer.last_visit_at.is_(None), Customer.created_at < visit_cut)),
                  or_(Customer.last_contact_at.is_(None), Customer.last_contact_at < quiet_cut))
    key_cut = midnight(store, day - timedelta(days=store.key_touch_days - 1))
    any_cut = midnight(store, day - timedelta(days=store.touch_days - 1))
    is_touch = or_(and_(Customer.is_key.is_(True), _untouched_since(key_cut)),
                   _untouched_since(any_cut))
    rows = db.session.execute(
        select(Customer.id, Customer.assigned_staff_id, Customer.last_visit_at, Customer.created_at,
               Customer.is_key, Customer.last_contact_at, is_red.label("red"),
               is_touch.label("touch"))
        .where(_live(store), Customer.assigned_staff_id.is_not(None), or_(is_red, is_touch)))
    queues = {}
    for customer_id, staff_id, last_visit, created, is_key, last_contact, flag, touch in rows:
        if not flag:  # NULL is not true, as in WHERE
            if touch:
                d.touches.append((customer_id, staff_id, is_key, last_contact, last_visit,
                                  created))
            continue
        days = store.days_since(last_visit or created, day)
        d.add(staff_id, customer_id, "red_flag", days=days, never=last_visit is None)
        queues.setdefault(staff_id, []).append((customer_id, bool(is_key), days, last_contact))
    _plan_red_flags(d, queues)


_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def _plan_red_flags(d, queues):
    """Put the store's daily contact target of each staff member's red flags on her plan, and
    give every red flag its turn: first those who have not been on a plan in the last week
    (so the backlog rolls through the week), then the stated priority — key customers, the
    freshest dormancy, a prepaid card with sessions or balance left, not contacted longest."""
    store, day = d.store, d.day
    if not queues:
        return
    recent = dict(((s, c), last) for s, c, last in db.session.execute(
        select(Task.staff_id, Task.customer_id, func.max(Task.due_on))
        .where(Task.store_id == store.id, Task.kind == "red_flag", Task.planned.is_(True),
               Task.due_on >= day - timedelta(days=TURN_DAYS - 1), Task.due_on < day)
        .group_by(Task.staff_id, Task.customer_id)))
    # A second run of the day plans nobody new beyond what the first one planned.
    already = dict(db.session.execute(
        select(Task.staff_id, func.count()).where(Task.store_id == store.id,
                                                  Task.kind == "red_flag", Task.due_on == day,
                                                  Task.planned.is_(True))
        .group_by(Task.staff_id)).all())
    with_card = set(db.session.scalars(
        select(PrepaidCard.customer_id).where(
            PrepaidCard.store_id == store.id, PrepaidCard.status == "open",
            or_(PrepaidCard.expires_on.is_(None), PrepaidCard.expires_on >= day),
            or_(PrepaidCard.sessions_total > PrepaidCard.sessions_used,
                PrepaidCard.balance_fen > 0))))
    for staff_id, queue in queues.items():
        queue.sort(key=lambda c: (recent.get((staff_id, c[0]), date.min), not c[1], c[2],
                                  c[0] not in with_card, c[3] or _NEVER, c[0]))
        room = max(0, store.daily_contact_target - already.get(staff_id, 0))
        for turn, (customer_id, *_rest) in enumerate(queue):
            detail = d.items.get((staff_id, customer_id, "red_flag"))
            if detail is not None:
                detail.update(plan=turn < room, turn=turn)


def _callbacks(d):
    store, day = d.store, d.day
    rows = db.session.execute(
        select(Visit.customer_id, Visit.id, Visit.staff_id, Visit.services,
               Customer.assigned_staff_id)
        .join(Customer, Customer.id == Visit.customer_id)
        .where(Visit.store_id == store.id,
               Visit.visited_at >= midnight(store, day - timedelta(days=1)),
               Visit.visited_at < midnight(store, day), _live(store))
        .order_by(Visit.visited_at))
    for customer_id, visit_id, visit_staff, services, assigned in rows:
        d.add(assigned or visit_staff, customer_id, "callback", visit_id=visit_id,
              services=services)


def _birthdays(d, owner_ids):
    for kind, target in (("birthday_call", d.day), ("birthday_prep", d.day + timedelta(days=1))):
        rows = db.session.execute(select(Customer.id, Customer.assigned_staff_id, Customer.is_key)
                                  .where(_live(d.store), _birthday_is(target)))
        for customer_id, staff_id, is_key in rows:
            d.add(staff_id, customer_id, kind, on=target.isoformat())
            if is_key:  # the owner calls key customers personally
                for owner_id in owner_ids:
                    d.add(owner_id, customer_id, kind, on=target.isoformat(), key=True)


def _follow_ups(d):
    rows = db.session.execute(
        select(Contact.customer_id, Contact.id, Contact.staff_id, Customer.assigned_staff_id)
        .join(Customer, Customer.id == Contact.customer_id)
        .where(Contact.store_id == d.store.id, Contact.next_follow_up_on == d.day, _live(d.store)))
    for customer_id, contact_id, staff_id, assigned in rows:
        d.add(assigned or staff_id, customer_id, "follow_up", contact_id=contact_id)


def _promises_gifts_complaints(d):
    store, day = d.store, d.day
    for promise in db.session.execute(
            select(Promise.id, Promise.customer_id, Promise.staff_id, Promise.what)
            .join(Customer, Customer.id == Promise.customer_id)
            .where(Promise.store_id == store.id, Promise.status == "open",
                   Promise.due_on == day, _live(store))):
        d.add(promise.staff_id, promise.customer_id, "promise_due", promise_id=promise.id,
              what=promise.what)
    for handout in db.session.execute(
            select(GiftHandout.id, GiftHandout.customer_id, GiftHandout.staff_id, Gift.name)
            .join(Gift, Gift.id == GiftHandout.gift_id)
            .join(Customer, Customer.id == GiftHandout.customer_id)
            .where(GiftHandout.store_id == store.id, GiftHandout.status == "reserved",
                   GiftHandout.pickup_after == day, Customer.deleted_at.is_(None))):
        d.add(handout.staff_id, handout.customer_id, "gift_pickup", handout_id=handout.id,
              gift=handout.name)
    steps_done = (select(func.count(ComplaintStep.id))
                  .where(ComplaintStep.complaint_id == Complaint.id).scalar_subquery())
    for complaint in db.session.execute(
            select(Complaint.id, Complaint.customer_id, Complaint.staff_id,
                   steps_done.label("done"))
            .where(Complaint.store_id == store.id, Complaint.status == "open",
                   Complaint.next_step_due_on == day)):
        step = COMPLAINT_STEPS[min(complaint.done, len(COMPLAINT_STEPS) - 1)]
        d.add(complaint.staff_id, complaint.customer_id, "complaint_follow_up",
              complaint_id=complaint.id, step=step)


def _relationship_touches(d):
    """Assigned customers untouched for touch_days (key customers key_touch_days), read by
    _red_flags; a red flag already asks for the contact, so those are not among them."""
    store, day = d.store, d.day
    for customer_id, staff_id, is_key, contact, visit, created in d.touches:
        d.add(staff_id, customer_id, "relationship_touch", **_touch(store, day, contact, visit,
                                                                     created), key=bool(is_key))


def _touch(store, day, contact, visit, created):
    """A touch's detail: days since anything (contact, visit, joining) and since a contact."""
    last = max(m for m in (contact, visit, created) if m is not None)
    return {"days": store.days_since(last, day), "quiet": store.days_since(contact, day)}


def _owner_touches(d, owners):
    """The owner calls key customers personally (SPEC §1). Of this store's key customers whose
    weekly touch is due, not contacted longest first: her share of her own daily target (her
    home store's contact target spread over the stores, the odd ones in turn by day), so that
    her one list holds every store's key customers and no more than her target."""
    if not owners:
        return
    store, day = d.store, d.day
    stores = db.session.scalars(select(Store.id).order_by(Store.id)).all()
    targets = dict(db.session.execute(select(Store.id, Store.daily_contact_target).where(
        Store.id.in_({home for home in owners.values() if home is not None}))).all())
    place = (stores.index(store.id) - day.toordinal()) % len(stores)
    shares = {}
    for owner_id, home in owners.items():
        target = targets.get(home, store.daily_contact_target)
        shares[owner_id] = target // len(stores) + (1 if place < target % len(stores) else 0)
    most = max(shares.values())
    if most <= 0:
        return
    key_cut = midnight(store, day - timedelta(days=store.key_touch_days - 1))
    rows = db.session.execute(
        select(Customer.id, Customer.last_contact_at, Customer.last_visit_at, Customer.created_at)
        .where(_live(store), Customer.is_key.is_(True), _untouched_since(key_cut))
        .order_by(Customer.last_contact_at.asc().nulls_first(), Customer.id).limit(most)).all()
    for owner_id, share in shares.items():
        for customer_id, contact, visit, created in rows[:share]:
            d.add(owner_id, customer_id, "relationship_touch",
                  **_touch(store, day, contact, visit, created), key=True, plan=True)


def _satisfaction(d, beautician_ids):
    """Spread a weekly quota of satisfaction callbacks over the week and over staff."""
    store, day = d.store, d.day
    week_start = day - timedelta(days=day.weekday())
    this_week = db.session.execute(
        select(Task.staff_id, func.count()).where(
            Task.store_id == store.id, Task.kind == "satisfaction",
            Task.due_on >= week_start, Task.due_on <= day).group_by(Task.staff_id)).all()
    load = {staff_id: 0 for staff_id in beautician_ids}
    load.update(dict(this_week))
    target = math.ceil(store.satisfaction_quota_max * (day.weekday() + 1) / 7)
    need = target - sum(n for _, n in this_week)
    if need <= 0 or not load:
        return
    recently_asked = select(Task.customer_id).where(
        Task.store_id == store.id, Task.kind == "satisfaction",
        Task.due_on > day - timedelta(days=30))
    rows = db.session.execute(
        select(Customer.id, Customer.assigned_staff_id)
        .where(_live(store),
               Customer.last_visit_at >= midnight(store, day - timedelta(days=7)),
               Customer.last_visit_at < midnight(store, day - timedelta(days=1)),
               Customer.id.not_in(recently_asked))
        .order_by(Customer.last_visit_at.desc(), Customer.id).limit(need))
    for customer_id, assigned in rows:
        staff_id = assigned if assigned in load else min(load, key=lambda s: (load[s], s))
        load[staff_id] = load.get(staff_id, 0) + 1
        d.add(staff_id, customer_id, "satisfaction")


def lock_store_day(store, day):
    """One generator per store-day at a time, until its transaction ends. SQLite's BEGIN
    IMMEDIATE already serialises every writer; PostgreSQL takes a transaction-scoped advisory
    lock named after the store and the day. Rows alone are not enough: the satisfaction quota
    reads this week's count in one statement and chooses customers in the next, and a run that
    committed in between made a second run add the week's quota again."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
                           {"name": f"kq.checklist:{store.id}:{day.isoformat()}"})


@without_cyclic_gc
def generate_day(store, day, *, commit=True):
    """Create every staff member's items for `day`; returns how many new items were created."""
    lock_store_day(store, day)
    # Threshold changes take effect at the day's run; a future day generated early (the CLI)
    # must not bring tomorrow's settings into today's figures.
    apply_pending_settings(store, min(day, store.today()))
    staff = db.session.execute(select(User.id, User.role, User.store_id).where(
        User.active.is_(True), or_(User.store_id == store.id, User.role == OWNER))).all()
    staff_ids = {s for s, _role, _home in staff}
    owners = {s: home for s, role, home in staff if role == OWNER}
    d = _Day(store, day)
    _red_flags(d)
    _callbacks(d)
    _birthdays(d, sorted(owners))
    _follow_ups(d)
    _promises_gifts_complaints(d)
    _relationship_touches(d)
    _owner_touches(d, owners)
    _satisfaction(d, sorted(s for s, role, _home in staff if role == BEAUTICIAN))
    from kq.services.campaigns import touch_items  # the day's campaign touches (SPEC §8)
    for staff_id, customer_id, detail in touch_items(store, day, sorted(owners)):
        d.add(staff_id, customer_id, "campaign_touch", **detail)
    # A run of a day already generated finds most items there: only the others are sent
    # (ON CONFLICT still settles a race with an item put on the list meanwhile).
    stored = {tuple(row) for row in db.session.execute(
        select(Task.staff_id, Task.customer_id, Task.kind).where(Task.store_id == store.id,
                                                                 Task.due_on == day))}
    created = insert_ignoring_duplicates(Task, d.rows(staff_ids, stored), UNIQUE, fresh=True)
    insert_ignoring_duplicates(ChecklistRun, [{"store_id": store.id, "day": day,
                                               "created_count": created}], ("store_id", "day"))
    if commit:
        db.session.commit()
    return created


DAILY_WORKERS = 2  # stores at once on PostgreSQL (config KQ_DAILY_WORKERS)


def each_store(func, store_ids, workers=None):
    """func(store) for every store id, each store in its own transaction (func commits), and
    {store_id: result} in store order: the daily run's steps over the chain. On PostgreSQL
    `workers` stores at a time (default: the app's KQ_DAILY_WORKERS, else DAILY_WORKERS), each
    in a thread with its own app context, session and connection: a store's time is mostly
    the database's (its backend process works while the next store's rows are built here),
    so two cores run two stores. On SQLite, which lets one writer in at a time, one store
    after another in the caller's session. A store whose func raises is rolled back, the other
    stores are still done, and the first failure (in store order) is raised at the end."""
    from concurrent.futures import ThreadPoolExecutor

    from flask import current_app

    store_ids = list(store_ids)
    if workers is None:
        workers = current_app.config.get("KQ_DAILY_WORKERS", DAILY_WORKERS)
    results, failures = {}, {}
    if db.session.get_bind().dialect.name != "postgresql" or workers <= 1 or len(store_ids) < 2:
        for store_id in store_ids:
            try:
                results[store_id] = func(db.session.get(Store, store_id))
            except Exception as error:  # the other stores still get theirs
                db.session.rollback()
                failures[store_id] = error
    else:
        app = current_app._get_current_object()

        def run(store_id):
            with app.app_context():
                try:
                    return func(db.session.get(Store, store_id))
                except Exception:
                    db.session.rollback()
                    raise
                finally:
                    db.session.remove()

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kq-store") as pool:
            futures = {store_id: pool.submit(run, store_id) for store_id in store_ids}
        for store_id, future in futures.items():
            error = future.exception()
            if error is None:
                results[store_id] = future.result()
            else:
                failures[store_id] = error
    if failures:
        raise next(iter(failures.values()))
    return results


def day_generated(store, day):
    return db.session.scalar(select(ChecklistRun.id).where(
        ChecklistRun.store_id == store.id, ChecklistRun.day == day)) is not None


def ensure_day(store, day):
    """On-demand generation when someone opens a day nobody has generated yet. A generated day
    stays generated (runs are never deleted), so each process remembers the days it has seen
    and asks the database only once per store and day."""
    from flask import current_app

    from kq.db import write_intent

    seen = current_app.extensions.setdefault("kq.generated_days", set())
    if (store.id, day) in seen:
        return 0
    if day_generated(store, day):
        created = 0
    else:
        db.session.rollback()  # end the read transaction; SQLite takes the write lock up front
        with write_intent():
            created = generate_day(store, day)
    if len(seen) > 10000:
        seen.clear()
    seen.add((store.id, day))
    return created


def put_item(store, staff_id, customer_id, kind, detail, day=None):
    """Something became due after the day's list was built (a gift reserved for today, a
    promise due today, the next complaint step): put it on the list now, or reopen it."""
    from kq.models.contact import OPEN

    day = day or store.today()
    existing = db.session.scalar(select(Task).where(
        Task.staff_id == staff_id, Task.customer_id == customer_id, Task.kind == kind,
        Task.due_on == day))
    if existing is not None:
        existing.status, existing.done_at, existing.detail = OPEN, None, detail
        return
    insert_ignoring_duplicates(Task, [{
        "store_id": store.id, "staff_id": staff_id, "customer_id": customer_id, "kind": kind,
        "due_on": day, "status": OPEN, "detail": detail}], UNIQUE)


def items_for(store, customer_id, kind, key, value):
    """The open items of one kind for one customer that point at a given row (by detail key)."""
    from kq.models.contact import OPEN

    rows = db.session.scalars(select(Task).where(
        Task.store_id == store.id, Task.customer_id == customer_id, Task.kind == kind,
        Task.status == OPEN)).all()
    return [t for t in rows if (t.detail or {}).get(key) == value]


def close_items(store, customer_id, kind, key, value, *, drop=False):
    """Tick off (or, when the thing was cancelled, remove) the items that pointed at a row."""
    from kq.models import utcnow
    from kq.models.contact import DONE

    now = utcnow()
    for task in items_for(store, customer_id, kind, key, value):
        if drop:
            db.session.delete(task)
        else:
            task.status, task.done_at = DONE, now
