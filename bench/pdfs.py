"""The printed reports at store size, through the app's own path (data, template, layout — in
sections on every core where the report has them, kq.services.pdfsections) against bare
single-process WeasyPrint laying out the very same HTML. The handover pack runs in a forked
process of its own, so that its peak memory is its own."""
import json
import os
import resource
import statistics
import time
from pathlib import Path


def _status(field):
    import re

    found = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(found[1]) / 1024 if found else 0.0


def _forked(func):
    """func() in a forked child (fresh database connections); its JSON result."""
    from kq.extensions import db

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            db.engine.dispose(close=False)
            payload = json.dumps(func())
        except BaseException as error:  # noqa: BLE001 - reported by the parent
            payload = json.dumps({"error": f"{type(error).__name__}: {error}"})
        with os.fdopen(write, "w") as out:
            out.write(payload)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as data:
        result = json.loads(data.read() or '{"error": "no answer"}')
    os.waitpid(pid, 0)
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def _cpu():
    """CPU seconds of this process and of its children that have ended (the layout processes)."""
    own, children = (resource.getrusage(resource.RUSAGE_SELF),
                     resource.getrusage(resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pdf_figures(results, app, store, runs):
    from weasyprint import HTML

    from kq.extensions import db
    from kq.models import Report, User
    from kq.services import pdfsections, printing

    printing.MAX_DORMANT_ROWS = 1000
    manager = db.session.scalars(db.select(User).where(User.store_id == store.id,
                                                       User.role == "manager")).first()
    handover_staff = db.session.scalar(
        db.select(User.id).where(User.store_id == store.id, User.role == "beautician")
        .order_by(User.id))
    today = store.today().isoformat()
    cases = [("morning sheet", "morning", {"date": today}),
             ("dormant list, 1,000 rows", "dormant", {"days": 30, "date": today})]
    results.say(f"PDFs on {pdfsections.cores()} cores")

    def report(kind, params):
        return Report(store_id=store.id, kind=kind, params=params, params_key=kind,
                      requested_by_id=manager.id, locale="zh_Hans")

    with app.test_request_context():
        for name, kind, params in cases:
            ours, bare, data, pages, staff = [], [], [], 0, 0
            ours_cpu, bare_cpu = [], []
            for _ in range(runs):
                started, cpu = time.perf_counter(), _cpu()
                html = printing.render_html(report(kind, params))
                data.append(time.perf_counter() - started)
                _pdf, pages = printing.write_pdf(html)
                ours.append(time.perf_counter() - started)
                ours_cpu.append(_cpu() - cpu)
                begun, cpu = time.perf_counter(), _cpu()
                HTML(string=html, base_url=app.root_path).write_pdf()
                bare.append(time.perf_counter() - begun)
                bare_cpu.append(_cpu() - cpu)
                staff = html.count(pdfsections.SECTION)
            if kind == "morning":
                name = f"morning sheet, {staff} staff"
            sectioned = "in sections" if pdfsections.worth_it(html) else "one process"
            results.say(f"PDF {name}: ours {ours}, bare {bare}")
            ours, bare = statistics.median(ours), statistics.median(bare)
            results.add(f"PDF {name} ({pages} pages), ours ({sectioned}; data and "
                        f"template {statistics.median(data):.2f} s)", ours, "s",
                        "≤ 2 s" if kind == "morning" else None,
                        ours <= 2 if kind == "morning" else None)
            results.add(f"PDF {name}, bare single-process WeasyPrint", bare, "s")
            results.at_most(f"PDF {name}, ours × bare", ours / bare, "×", 0.6)
            # The work done, whatever else the machine runs: CPU time of every process.
            results.add(f"PDF {name}, ours × bare in CPU time (all processes)",
                        statistics.median(ours_cpu) / statistics.median(bare_cpu), "×")

        def handover():
            base = _status("VmRSS")
            started = time.perf_counter()
            html = printing.render_html(report("handover", {"staff": handover_staff,
                                                            "date": today}))
            _pdf, pages = printing.write_pdf(html)
            return {"seconds": time.perf_counter() - started, "pages": pages,
                    "rows": html.count("<tr"), "cards": html.count("<section"),
                    "peak": _status("VmHWM"), "grew": _status("VmHWM") - base,
                    "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}

        got = _forked(handover)
    results.add(f"PDF handover pack, {got['cards']} cards, {got['rows']:,} rows "
                f"({got['pages']} pages)", got["seconds"], "s")
    results.add("PDF handover pack, peak RSS of the process building it "
                f"(+{got['grew']:.0f} MB while building)", got["peak"], "MB")
    results.add("PDF handover pack, peak RSS of a layout process", got["children"], "MB")
