"""`make bench`: figures at store size on SQLite; `BENCH=chain make bench`: at chain size (50
stores, 1M customers, 10M visits) on PostgreSQL (KQ_BENCH_DATABASE_URL, default the local
server's database kq_bench, which it empties; BENCH_REUSE=1 keeps a chain already there).
Speed is measured here, never asserted in a test."""
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
from kq.models import ChecklistRun, Store, Task, User
from kq.services.checklist import generate_day

RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def timed(func):
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def search_figures(stores):
    """Customer search by pinyin initials in a store: p50/p95 of the list query (over the
    stores given, at random)."""
    import random

    from pypinyin import Style, lazy_pinyin
    from sqlalchemy import select

    from kq.models import Customer
    from kq.services.customers import matching_ids

    rng = random.Random(3)
    cases = []
    for _ in range(300):
        store = rng.choice(stores)
        name = db.session.scalar(select(Customer.name).where(Customer.store_id == store.id)
                                 .offset(rng.randrange(1000)).limit(1))
        cases.append((store, "".join(p[0] for p in lazy_pinyin(name, style=Style.NORMAL))))
    times = []
    for store, q in cases:
        started = time.perf_counter()
        db.session.scalars(select(Customer).where(
            Customer.store_id == store.id, Customer.id.in_(matching_ids(store.id, q)))
            .order_by(Customer.last_visit_at).limit(30)).all()
        times.append(time.perf_counter() - started)
    times.sort()
    return [("customer search by initials, p50", times[len(times) // 2], "—"),
            ("customer search by initials, p95", times[int(len(times) * 0.95)], "< 20 ms")]


def explain(query):
    """The database's plan of a statement, one line."""
    conn = db.session.connection()
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    return " | ".join(" ".join(r[0].split()) for r in conn.exec_driver_sql("EXPLAIN " + sql))


def plans(store):
    """The plans of the checklist page, the dormant counts and list, and the search: none may
    scan or aggregate the visits table."""
    from kq.blueprints.tasks.routes import _PAGE, _SUMMARY, list_params
    from kq.models import CustomerSearchKey
    from kq.services import reports

    staff_id = db.session.scalar(db.select(Task.staff_id).where(Task.store_id == store.id)
                                 .limit(1))
    day = store.today()
    queries = {
        "checklist page": _PAGE.params(limit=50, offset=0,
                                       **list_params(store, staff_id, day, day)),
        "checklist summary": _SUMMARY.params(**list_params(store, staff_id, day, day)),
        "dormant counts": reports.dormant_counts_query(store, 30, day),
        "dormant list": reports.dormant_query(store, 30, None, day).limit(50),
        "search by initials": db.select(CustomerSearchKey.customer_id).where(
            CustomerSearchKey.store_id == store.id, CustomerSearchKey.key >= "lxj",
            CustomerSearchKey.key < "lxk"),
    }
    for name, query in queries.items():
        steps = explain(query)
        print(f"{name} plan: {steps}")
        if "visits" in steps:
            print(f"  !! {name} touches visits")


def ledger_figures(stores, goal):
    """The nightly ledger run over every store (from nothing, then again with nothing new)."""
    from kq.models import LedgerEntry
    from kq.services.ledger import run_ledger

    def run_all():
        made = {"rewards": 0, "penalties": 0}
        for store in stores:
            for key, value in run_ledger(store, store.today()).items():
                if key in made:
                    made[key] += value
        return made

    first, created = [], {}
    for _ in range(min(RUNS, 3)):
        db.session.execute(delete(LedgerEntry))
        db.session.commit()
        seconds, created = timed(run_all)
        first.append(seconds)
    again = timed(run_all)[0]
    return [(f"ledger run ({created['rewards']} rewards, {created['penalties']} penalties)",
             statistics.median(first), goal),
            ("ledger run again (nothing new)", again, goal)]


def generation_figures(stores, goal):
    """Every store's checklists for today, from nothing, then again with nothing new."""
    def run_all():
        return sum(generate_day(store, store.today()) for store in stores)

    first, created = [], 0
    for _ in range(RUNS):
        db.session.execute(delete(Task))
        db.session.execute(delete(ChecklistRun))
        db.session.commit()
        seconds, created = timed(run_all)
        first.append(seconds)
    again = [timed(run_all)[0] for _ in range(RUNS)]
    return [(f"checklist generation ({created} items)", statistics.median(first), goal),
            ("checklist generation again (nothing new)", statistics.median(again), goal)]


def import_figures(app, size=(20000, 200000)):
    """Moving a store in: a workbook of 20,000 customers and 200,000 visits into a new store
    (preview, import in one transaction, then the same file again: nothing new)."""
    from bench.importfile import workbook
    from kq.models import BEAUTICIAN, MANAGER
    from kq.services import importing

    customers, visits = size
    store = Store(name="新店")
    db.session.add(store)
    db.session.flush()
    manager = User(username=f"import-{store.id}", display_name="店长", role=MANAGER,
                   store_id=store.id, password_hash="x")
    db.session.add(manager)
    names = [f"美容师{i}" for i in range(6)]
    for i, name in enumerate(names):
        db.session.add(User(username=f"import-{store.id}-{i}", display_name=name,
                            role=BEAUTICIAN, store_id=store.id, password_hash="x"))
    db.session.commit()
    data = workbook(customers, visits, names)
    rows = customers + visits
    with app.test_request_context("/bench/import"):
        preview, result = timed(lambda: importing.preview(store, data, "bench.xlsx"))
        assert result["new"] == customers, result["new"]

        def run():
            done = importing.run(store, data, manager, "bench.xlsx")
            db.session.commit()
            return done

        imported, result = timed(run)
        again, result = timed(lambda: importing.preview(store, data, "bench.xlsx"))
        assert (result["new"], result["merged"], result["visits"]["new"]) == (0, 0, 0)
    return [(f"import preview ({customers:,} customers + {visits:,} visits, "
             f"{len(data) // 1024:,} KB)", preview, "—"),
            ("import preview, rows per second", rows / preview, "rows/s", "—"),
            ("import (one transaction)", imported, "—"),
            ("import, rows per second", rows / imported, "rows/s", "—"),
            ("import preview of the same file again (0 new)", again, "—")]


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
            ours, bare, data, pages = [], [], [], 0
            for _ in range(min(RUNS, 3)):
                started = time.perf_counter()
                html = printing.render_html(report)
                data.append(time.perf_counter() - started)
                _pdf, pages = printing.write_pdf(html)
                ours.append(time.perf_counter() - started)
                bare.append(timed(lambda html=html: HTML(string=html).write_pdf())[0])
            ratio = statistics.median(ours) / statistics.median(bare)
            rows.append((f"PDF {name} ({pages} pages), ours", statistics.median(ours),
                         f"of which data and template {statistics.median(data):.2f} s"))
            rows.append((f"PDF {name}, bare WeasyPrint", statistics.median(bare),
                         f"ratio {ratio:.2f} (goal ≤ 1.1)"))
    return rows


def load_figures(database_url, username):
    """/tasks/today under gunicorn on this 2-core machine (2 sync workers, one per core: the
    pages are CPU-bound Python, and threads only queue behind the GIL) with wrk's 16 concurrent
    connections, against the floor page and a hello-world route. The three are interleaved
    over the rounds and each figure is a median. The server runs under `/usr/bin/time -v`,
    which gives its peak memory."""
    import re
    import shutil
    import socket
    import subprocess
    import sys

    import requests

    wrk = shutil.which("wrk")
    if wrk is None:
        return [("load test skipped: wrk is not installed", 0.0, "", "apt-get install wrk")]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="bench-only-secret",
               KQ_LOGIN_LIMIT="1000 per minute", REDIS_URL="")
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    workers = os.environ.get("BENCH_WORKERS", "2")
    pidfile = Path(tempfile.gettempdir()) / f"kq-bench-{port}.pid"
    server = subprocess.Popen(timer + [sys.executable, "-m", "gunicorn", "--workers", workers,
                                       "--bind", f"127.0.0.1:{port}", "--chdir", str(root),
                                       "--pid", str(pidfile), "bench.wsgi:app"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    rows = []
    try:
        for _ in range(100):
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        session = requests.Session()
        page = session.get(base + "/login").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        session.post(base + "/login", data={"username": username, "password": "bench1234",
                                            "csrf_token": token})
        today = session.get(base + "/tasks/today")
        items = today.text.count('class="task ')
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        seconds = int(os.environ.get("BENCH_LOAD_SECONDS", "10"))
        runs = {"today": [], "floor": [], "hello": []}
        for _ in range(min(RUNS, 3)):
            for name, path in (("today", "/tasks/today"), ("floor", f"/bench/floor/{username}"),
                               ("hello", "/bench/hello")):
                out = subprocess.run([wrk, "-t2", "-c16", f"-d{seconds}s", "--latency", "-s",
                                      str(root / "bench" / "p95.lua"), "-H",
                                      f"Cookie: {cookie}", base + path],
                                     capture_output=True, text=True).stdout
                line = next(x for x in out.splitlines() if x.startswith("KQ "))
                f = dict(part.split("=") for part in line[3:].split())
                runs[name].append((int(f["requests"]) / (int(f["duration_us"]) / 1e6),
                                   int(f["p95_us"]) / 1000, int(f["errors"])))
        results = {name: (statistics.median(r[0] for r in got),
                          statistics.median(r[1] for r in got), sum(r[2] for r in got))
                   for name, got in runs.items()}
        rps, p95, errors = results["today"]
        rows.append((f"/tasks/today, {items} items, 16 clients", rps, "req/s",
                     f"p95 {p95:.0f} ms (goal < 50 ms); {rps / results['floor'][0]:.2f}× the "
                     f"floor page (goal ≥ 0.8); {errors} errors; {workers} sync workers"))
        rows.append(("floor page (same query, bare template)", results["floor"][0], "req/s",
                     f"p95 {results['floor'][1]:.0f} ms"))
        rows.append(("hello-world Flask route", results["hello"][0], "req/s",
                     f"p95 {results['hello'][1]:.0f} ms"))
    finally:
        try:  # gunicorn's master, under time: time reports once it has exited
            os.kill(int(pidfile.read_text()), 15)
        except (OSError, ValueError):
            server.terminate()
        _out, err = server.communicate(timeout=60)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err or "")
    if peak:
        rows.append(("gunicorn peak memory, largest process (time -v)", int(peak[1]) / 1024,
                     "MB", "—"))
    return rows


def _measure(app, stores, size, database_url):
    goal = "≤ 2 s" if size == "store" else "≤ 60 s"
    rows = generation_figures(stores, goal)
    rows += search_figures(stores)
    plans(stores[0])
    rows += ledger_figures(stores, goal)
    if size == "store":
        rows += pdf_figures(app, stores[0])
        rows += import_figures(app)
    beautician = db.session.scalar(db.select(User.username).where(
        User.store_id == stores[0].id, User.role == "beautician").order_by(User.id))
    db.session.commit()
    db.engine.dispose()
    return rows + load_figures(database_url, beautician)


def chain():
    from sqlalchemy import func

    url = os.environ.get("KQ_BENCH_DATABASE_URL",
                         "postgresql+psycopg://postgres@127.0.0.1:5432/kq_bench")
    app = create_app(TestConfig(url))
    rows = []
    with app.app_context():
        reuse = os.environ.get("BENCH_REUSE") == "1"
        if reuse and db.session.scalar(db.select(func.count(Store.id))) == 50:
            print("reusing the chain already in", db.engine.url.database)
        else:
            db.drop_all()
            db.create_all()
            seconds, _ = timed(lambda: fill(20000, 10_000_000, 25, 50,
                                            log=lambda line: print(line, flush=True)))
            rows.append(("bench-data chain (50 stores, 1M customers, 10M visits)", seconds,
                         "—"))
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
        stores = db.session.scalars(db.select(Store).order_by(Store.id)).all()
        rows += _measure(app, stores, "chain", url)
    return rows


def store():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = create_app(TestConfig(url))
        with app.app_context():
            db.create_all()
            seconds, _ = timed(lambda: fill(20000, 200000, 25, 1, log=lambda *_: None))
            rows.append(("bench-data store (20k customers, 200k visits)", seconds, "< 60 s"))
            stores = db.session.scalars(db.select(Store)).all()
            rows += _measure(app, stores, "store", url)
    return rows


def main():
    size = os.environ.get("BENCH", "store")
    if size not in ("store", "chain"):
        raise SystemExit("BENCH is store or chain")
    rows = chain() if size == "chain" else store()
    print(f"\n{size} size — {'figure (median of %d)' % RUNS:<52} {'value':>10}  goal")
    for row in rows:
        name, value, unit, goal = row if len(row) == 4 else (row[0], row[1], "s", row[2])
        shown = f"{value:>9.3f}s" if unit == "s" else f"{value:>7.1f} {unit}"
        print(f"{name:<52} {shown:>12}  {goal}")


if __name__ == "__main__":
    main()
