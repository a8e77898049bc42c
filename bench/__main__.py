"""`make bench`: figures at store size on SQLite (BENCH=chain with PostgreSQL comes with the
benchmark issue). Speed is measured here, never asserted in a test."""
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete

from kq import create_app
from kq.benchdata import fill
from kq.config import TestConfig
from kq.extensions import db
from kq.models import ChecklistRun, Store, Task
from kq.services.checklist import generate_day

RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def timed(func):
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def search_figures(store):
    """Customer search by pinyin initials at store size: p50/p95 of the list query."""
    import random

    from sqlalchemy import select, text

    from kq.models import Customer
    from kq.services.customers import matching_ids

    rng = random.Random(3)
    names = db.session.scalars(select(Customer.name).where(Customer.store_id == store.id)).all()
    from pypinyin import Style, lazy_pinyin

    queries = ["".join(p[0] for p in lazy_pinyin(rng.choice(names), style=Style.NORMAL))
               for _ in range(300)]
    times = []
    for q in queries:
        started = time.perf_counter()
        db.session.scalars(select(Customer).where(
            Customer.store_id == store.id, Customer.id.in_(matching_ids(store.id, q)))
            .order_by(Customer.last_visit_at).limit(30)).all()
        times.append(time.perf_counter() - started)
    times.sort()
    plan = db.session.execute(text(
        "EXPLAIN QUERY PLAN SELECT customer_id FROM customer_search_keys "
        "WHERE store_id = 1 AND key >= 'lxj' AND key < 'lxk'")).all()
    print("search plan:", " | ".join(str(r[-1]) for r in plan))
    return [("customer search by initials, p50", times[len(times) // 2], "—"),
            ("customer search by initials, p95", times[int(len(times) * 0.95)], "< 20 ms")]


def ledger_figures(store):
    from kq.models import LedgerEntry
    from kq.services.ledger import run_ledger

    day = store.today()
    first = []
    for _ in range(min(RUNS, 3)):
        db.session.execute(delete(LedgerEntry))
        db.session.commit()
        seconds, created = timed(lambda: run_ledger(store, day))
        first.append(seconds)
    again = timed(lambda: run_ledger(store, day))[0]
    return [(f"ledger run, store ({created['rewards']} rewards, {created['penalties']} "
             "penalties)", statistics.median(first), "≤ 2 s"),
            ("ledger run again (nothing new)", again, "≤ 2 s")]


def pdf_figures(app, store):
    """Each PDF through the app's own path (data, template, WeasyPrint) against bare
    WeasyPrint laying out the very same HTML."""
    from weasyprint import HTML

    from kq.models import Report, User
    from kq.services import printing

    printing.MAX_DORMANT_ROWS = 1000
    manager = db.session.scalars(db.select(User)).first()
    cases = [("morning sheet, 25 staff", "morning", {"date": store.today().isoformat()}),
             ("dormant list, 1,000 rows", "dormant", {"days": 30,
                                                      "date": store.today().isoformat()})]
    rows = []
    with app.test_request_context():
        for name, kind, params in cases:
            report = Report(store_id=store.id, kind=kind, params=params, params_key=kind,
                            requested_by_id=manager.id, locale="zh_Hans")
            ours, bare, pages = [], [], 0
            for _ in range(min(RUNS, 3)):
                started = time.perf_counter()
                html = printing.render_html(report)
                _pdf, pages = printing.write_pdf(html)
                ours.append(time.perf_counter() - started)
                bare.append(timed(lambda html=html: HTML(string=html).write_pdf())[0])
            ratio = statistics.median(ours) / statistics.median(bare)
            rows.append((f"PDF {name} ({pages} pages), ours", statistics.median(ours), "—"))
            rows.append((f"PDF {name}, bare WeasyPrint", statistics.median(bare),
                         f"ratio {ratio:.2f} (goal ≤ 1.1)"))
    return rows


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(TestConfig(f"sqlite:///{Path(tmp) / 'bench.db'}"))
        with app.app_context():
            db.create_all()
            seconds, _ = timed(lambda: fill(20000, 200000, 25, 1, log=lambda *_: None))
            rows.append(("bench-data store (20k customers, 200k visits)", seconds, "< 60 s"))
            store = db.session.scalars(db.select(Store)).first()
            day = store.today()
            first, created = [], 0
            for _ in range(RUNS):
                db.session.execute(delete(Task))
                db.session.execute(delete(ChecklistRun))
                db.session.commit()
                seconds, created = timed(lambda: generate_day(store, day))
                first.append(seconds)
            again = [timed(lambda: generate_day(store, day))[0] for _ in range(RUNS)]
            rows.append((f"checklist generation, store ({created} items)",
                         statistics.median(first), "≤ 2 s"))
            rows.append(("checklist generation again (nothing new)", statistics.median(again),
                         "≤ 2 s"))
            rows += search_figures(store)
            rows += ledger_figures(store)
            rows += pdf_figures(app, store)
            db.engine.dispose()
    print(f"\n{'figure (median of %d)' % RUNS:<52} {'value':>10}  goal")
    for name, seconds, goal in rows:
        print(f"{name:<52} {seconds:>9.3f}s  {goal}")


if __name__ == "__main__":
    main()
