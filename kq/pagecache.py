"""Today from a versioned cache.

A beautician reopens Today dozens of times a day, and it changes only when something she sees
changes. Every write that can change a staff member's list moves her page version on
(kq.models.pageversion): the session events below see what a transaction wrote — rows through
the ORM (after_flush) and bulk statements (do_orm_execute) — and, just before it commits, move
on the counters of the staff members whose lists show it, in the same transaction. No service
has to remember to do it, and every worker sees it at once: the counters are in the database.

Which writes move whose counter:
- an item (tasks): its staff member, before and after a change (handover, reassignment);
- a customer, or a row of hers (contacts, visits, cards, promises, gifts, complaints, notes,
  anything with a customer_id): her assigned staff member, before and after, and everyone
  with an item of hers (the owner's list, a satisfaction callback);
- a store, its texts (message_templates, message_scripts) or a day's run (checklist_runs):
  the whole store;
- a bulk write that cannot be followed row by row (too many customers, no row values):
  every store.

A view serves a page through `serve`: one indexed query reads the counters; the page's ETag
is made of them, the day, the language, the time zone, the URL, the user and her session's
CSRF token, and an If-None-Match that names it is answered 304 at once. Otherwise the worker
reuses the HTML it rendered for the same key (a small LRU, bounded in bytes), or renders and
keeps it. The kept HTML holds a placeholder where the CSRF token goes, put in per session; a
page with flash messages is rendered afresh and kept by nobody.

PAGE_CACHE (env KQ_PAGE_CACHE, "0" = off) turns reuse and ETags off: every request renders.
"""
import hashlib
import os
import threading
from collections import OrderedDict
from itertools import chain
from pathlib import Path

from flask import current_app, g, request, session
from sqlalchemy import and_, bindparam, event, func, inspect, or_, select
from sqlalchemy.orm import Session

from kq.models.pageversion import EVERY_STORE, WHOLE_STORE, PageVersion

CUSTOMER_LIMIT = 500  # more customers than this in one transaction: every store moves on
PAGES_BYTES = 32 * 1024 * 1024  # per worker, the HTML of the pages it keeps
COMPRESSED_BYTES = 16 * 1024 * 1024  # per worker, their compressed forms
SIGNED_TOKENS = 2000
_PENDING = "kq.page_versions"
# Tables whose rows Today never shows, although they name a customer or a store.
_IGNORED = frozenset({
    "page_versions", "audit_events", "customer_search_keys", "customer_tags",
    "dormant_snapshots", "reports", "import_jobs", "user_sessions", "sign_in_attempts", "users",
    "outbound_messages", "message_batches",
    # the ledger and its bookkeeping (a reassignment shows through customers.assigned_staff_id)
    "ledger_entries", "assignments", "reactivation_offers"})
_STORE_WIDE = frozenset({"message_templates", "message_scripts", "checklist_runs"})


# ---------------------------------------------------------------------------------------------
# Following writes

class _Moves:
    """What one transaction wrote, as far as pages go."""

    __slots__ = ("pairs", "stores", "customers", "every")

    def __init__(self):
        self.pairs, self.stores, self.customers, self.every = set(), set(), set(), False


def _moves(session):
    moves = session.info.get(_PENDING)
    if moves is None:
        moves = session.info[_PENDING] = _Moves()
    return moves


_kinds = {}


def _kind(table):
    """task, customer, store, store_wide, linked (a customer_id column) or None."""
    if table is None or not hasattr(table, "c"):
        return None
    name = getattr(table, "name", None)
    if name in _kinds:
        return _kinds[name]
    if name in _IGNORED:
        kind = None
    elif name == "tasks":
        kind = "task"
    elif name == "customers":
        kind = "customer"
    elif name == "stores":
        kind = "store"
    elif name in _STORE_WIDE:
        kind = "store_wide"
    elif "customer_id" in table.c:
        kind = "linked"
    else:
        kind = None
    _kinds[name] = kind
    return kind


# The columns that say whose page a row is on, per kind.
_SCOPE = {"task": ("store_id", "staff_id"), "customer": ("id", "store_id", "assigned_staff_id"),
          "store": ("id",), "store_wide": ("store_id",), "linked": ("customer_id",)}


def _note(moves, kind, row):
    """One row's values (a mapping; a missing value means unknown: every store)."""
    get = row.get
    if kind == "task":
        store, staff = get("store_id"), get("staff_id")
        if store is None or staff is None:
            moves.every = True
        else:
            moves.pairs.add((store, staff))
    elif kind == "customer":
        if get("id") is not None:
            moves.customers.add(get("id"))
        if get("store_id") is None:
            moves.every = True
        elif get("assigned_staff_id") is not None:
            moves.pairs.add((get("store_id"), get("assigned_staff_id")))
    elif kind == "store":
        if get("id") is None:
            moves.every = True
        else:
            moves.stores.add(get("id"))
    elif kind == "store_wide":
        if get("store_id") is None:
            moves.every = True
        else:
            moves.stores.add(get("store_id"))
    elif get("customer_id") is None:
        moves.every = True
    else:
        moves.customers.add(get("customer_id"))


def _object_rows(obj, kind, deleted):
    """The object's scope values before and after its change, as rows for _note."""
    state = inspect(obj)
    before, after = {}, {}
    for name in _SCOPE[kind]:
        if name not in state.attrs:
            continue
        history = state.attrs[name].history
        now = [*history.added, *history.unchanged]
        if not now and not history.deleted and not deleted:
            now = [getattr(obj, name)]
        after[name] = now[0] if now else None
        before[name] = history.deleted[0] if history.deleted else after[name]
    return (before, after) if before != after else (after,)


@event.listens_for(Session, "after_flush")
def _after_flush(session, _context):
    moves = None
    for obj, deleted in chain(((o, False) for o in session.new),
                              ((o, False) for o in session.dirty),
                              ((o, True) for o in session.deleted)):
        kind = _kind(getattr(type(obj), "__table__", None))
        if kind is None:
            continue
        if not deleted and obj not in session.new and \
                not session.is_modified(obj, include_collections=False):
            continue
        moves = moves or _moves(session)
        for row in _object_rows(obj, kind, deleted):
            _note(moves, kind, row)


def _values_of(statement, session):
    """The values an INSERT/UPDATE carries itself (.values(...)), by column name."""
    if not getattr(statement, "_values", None) and not getattr(statement, "_multi_values", None):
        return {}
    try:
        compiled = statement.compile(dialect=session.get_bind().dialect)
    except Exception:  # noqa: BLE001 - unknown: the caller moves every store on
        return None
    return {key: value for key, value in compiled.params.items()}


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state):
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    statement = state.statement
    kind = _kind(getattr(statement, "table", None))
    if kind is None:
        return None
    session, moves = state.session, _moves(state.session)
    params = state.parameters
    rows = list(params) if isinstance(params, (list, tuple)) else ([params] if params else [])
    own = _values_of(statement, session)
    if own is None:
        moves.every = True
        return None
    if state.is_insert:
        for row in ([{**own, **r} for r in rows] if rows else [own]):
            _note(moves, kind, row)
        return None
    # UPDATE / DELETE: the rows it touches are read first (and, for an update that may move
    # an item or a customer to someone else, again after).
    table = statement.table
    columns = [table.c[name] for name in _SCOPE[kind]]
    key = table.c.id if "id" in table.c else None
    where = statement.whereclause
    if where is None:
        if key is None or not rows or not all("id" in r for r in rows):
            moves.every = True
            return None
        for row in rows:
            if any(name in row for name in _SCOPE[kind] if name != "id"):
                _note(moves, kind, {**own, **row})
        where = key.in_([r["id"] for r in rows])
    found = session.execute(select(*columns, *(() if key is None or "id" in _SCOPE[kind]
                                              else (key,))).where(where)
                            .limit(CUSTOMER_LIMIT + 1)).all()
    if len(found) > CUSTOMER_LIMIT:
        moves.every = True
        return None
    for row in found:
        _note(moves, kind, row._mapping)
    if not (state.is_update and kind in ("task", "customer") and key is not None and found):
        return None
    ids = [row._mapping["id"] for row in found] if "id" in _SCOPE[kind] else \
        [row[-1] for row in found]
    result = state.invoke_statement()
    for row in session.execute(select(*columns).where(key.in_(ids))).all():
        _note(moves, kind, row._mapping)
    return result


def _resolve(session, moves):
    """The (store, staff) counters to move on: customers' staff are looked up here."""
    from kq.models import OWNER, Customer, Task, User

    pairs, stores, every = set(moves.pairs), set(moves.stores), moves.every
    if moves.customers and not every:
        if len(moves.customers) > CUSTOMER_LIMIT:
            every = True
        else:
            ids = sorted(moves.customers)
            found = session.execute(select(Customer.store_id, Customer.assigned_staff_id)
                                    .where(Customer.id.in_(ids))).all()
            pairs.update((store, staff) for store, staff in found if staff is not None)
            homes = sorted({store for store, _staff in found})
            staff = session.scalars(select(User.id).where(
                or_(User.store_id.in_(homes), User.role == OWNER))).all()
            if staff:
                # (staff_id, customer_id) leads the items' unique index: a few seeks.
                pairs.update(session.execute(
                    select(Task.store_id, Task.staff_id).distinct()
                    .where(Task.staff_id.in_(sorted(staff)), Task.customer_id.in_(ids))).all())
    rows = ([(EVERY_STORE, WHOLE_STORE)] if every else []) + \
        sorted({(store, WHOLE_STORE) for store in stores} | pairs)
    return rows


def _upsert(session, rows):
    table = PageVersion.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).on_conflict_do_update(
        index_elements=["store_id", "staff_id"], set_={"version": table.c.version + 1})
    # In one order, so that two transactions never wait on each other's counters crosswise.
    session.connection().execute(statement, [{"store_id": s, "staff_id": t, "version": 1}
                                             for s, t in rows])


@event.listens_for(Session, "before_commit")
def _before_commit(session):
    if session.info.get(_PENDING) is None and not (session.new or session.dirty
                                                   or session.deleted):
        return
    session.flush()
    moves = session.info.pop(_PENDING, None)
    if moves is None or not (moves.pairs or moves.stores or moves.customers or moves.every):
        return
    rows = _resolve(session, moves)
    session.info.pop(_PENDING, None)  # the look-ups above wrote nothing
    if rows:
        _upsert(session, rows)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction):
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


# ---------------------------------------------------------------------------------------------
# Reading the counters

_t = PageVersion.__table__
_MINE = (select(func.coalesce(func.sum(_t.c.version), 0))
         .where(or_(and_(_t.c.store_id == bindparam("store"),
                         _t.c.staff_id.in_([WHOLE_STORE, bindparam("staff")])),
                    and_(_t.c.store_id == EVERY_STORE, _t.c.staff_id == WHOLE_STORE))))
# The owner's list spans every store: her counters in each, and every store's whole-store one.
_EVERYWHERE = (select(func.coalesce(func.sum(_t.c.version), 0))
               .where(_t.c.staff_id.in_([WHOLE_STORE, bindparam("staff")])))


def version(store_id, staff_id, everywhere=False):
    """The sum of the counters a page depends on: every move adds one, so it only grows."""
    from kq.extensions import db

    return int(db.session.scalar(_EVERYWHERE if everywhere else _MINE,
                                 {"store": store_id, "staff": staff_id}))


# ---------------------------------------------------------------------------------------------
# Keeping pages

class Kept:
    """A small LRU bounded in bytes (thread-safe: a threaded server shares it)."""

    def __init__(self, limit):
        self.limit, self.size, self.items, self.lock = limit, 0, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def set(self, key, value):
        cost = len(value)
        if cost > self.limit // 4:
            return
        with self.lock:
            old = self.items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self.items[key] = value
            self.size += cost
            while self.size > self.limit:
                _key, dropped = self.items.popitem(last=False)
                self.size -= len(dropped)

    def clear(self):
        with self.lock:
            self.items.clear()
            self.size = 0


class CompressedPages:
    """Flask-Compress's cache backend: the compressed form of a kept page, keyed by what made
    its bytes (compress_key); any other response has no key and is compressed each time."""

    def __init__(self):
        self.kept = Kept(COMPRESSED_BYTES)

    def get(self, key):
        return None if key.endswith(";") else self.kept.get(key)

    def set(self, key, value):
        if not key.endswith(";"):
            self.kept.set(key, value)


def compress_key(_request):
    return g.get("kq_compress_key", "")


_BUILD = None


def build_id():
    """Code, templates, translations and static files of this deployment: a page kept by a
    browser from an older one is not answered 304."""
    global _BUILD
    if _BUILD is None:
        digest = hashlib.sha1(usedforsecurity=False)  # names a build, not a secret
        root = Path(__file__).resolve().parent
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".po":
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
        _BUILD = digest.hexdigest()[:12]
    return _BUILD


def enabled(app=None):
    app = app or current_app
    value = app.config.get("PAGE_CACHE")
    if value is None:
        value = os.environ.get("KQ_PAGE_CACHE", "1").strip().lower() not in ("0", "false",
                                                                            "no", "off")
    return bool(value)


def _state(app):
    state = app.extensions.get("kq.pagecache")
    if state is None:
        state = app.extensions["kq.pagecache"] = {"pages": Kept(PAGES_BYTES), "tokens": {}}
    return state


_PLACEHOLDER = "kq-csrf-placeholder-6f1d3a"


def _signed_token(state):
    """This session's CSRF token as pages carry it: signed once per session and worker (it
    never expires by time, WTF_CSRF_TIME_LIMIT is None), so a kept page's bytes repeat."""
    from flask_wtf.csrf import generate_csrf

    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    raw = session.get(field)
    signed = state["tokens"].get(raw) if raw else None
    if signed is None:
        g.pop(field, None)
        signed = generate_csrf()
        raw = session.get(field)
        if len(state["tokens"]) >= SIGNED_TOKENS:
            state["tokens"].clear()
        state["tokens"][raw] = signed
    setattr(g, field, signed)
    return raw, signed


def serve(render, *, user, store, day, everywhere=False, parts=()):
    """The page `render()` makes, reused while nothing it shows has changed. `parts` are any
    other values the page depends on."""
    from flask_babel import get_locale, get_timezone

    app = current_app._get_current_object()
    if not enabled(app) or session.get("_flashes"):
        response = app.make_response(render())
        response.headers["Cache-Control"] = "private, no-cache"
        return response
    state = _state(app)
    key = (build_id(), user.id, user.role, user.display_name, store.id, day.isoformat(),
           request.full_path, str(get_locale()), str(get_timezone()), everywhere, parts,
           version(store.id, user.id, everywhere))
    raw, signed = _signed_token(state)
    etag = hashlib.sha1(repr((key, raw)).encode(), usedforsecurity=False).hexdigest()[:24]
    if request.if_none_match.contains_weak(etag):
        response = app.response_class(status=304)
    else:
        html = state["pages"].get(key)
        if html is None:
            field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
            setattr(g, field, _PLACEHOLDER)
            try:
                html = render()
            finally:
                setattr(g, field, signed)
            state["pages"].set(key, html)
        response = app.make_response(html.replace(_PLACEHOLDER, signed))
        g.kq_compress_key = hashlib.sha1(f"{etag}:{signed}".encode(),
                                         usedforsecurity=False).hexdigest()
    response.set_etag(etag, weak=True)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
