"""Today under load: gunicorn on this machine (2 sync workers, one per core: the pages are
CPU-bound Python, and threads only queue behind the GIL) driven by wrk with 16 connections.

Two servers run side by side on the same database: one as deployed (Today's page cache and
ETags on), one with KQ_PAGE_CACHE=0 (every request renders: the cold figure). Each round runs,
one after the other: hello world, the floor page (Today's own queries, bare template,
recomputed every time), Today warm (her page asked again and again), Today answered 304 (the
request names the page's ETag), Today cold. A figure is the median of the rounds. wrk sends no
Accept-Encoding, as in the issue's table; the bytes on the wire are measured apart, with
"Accept-Encoding: br, gzip"."""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, database_url, workers, **env):
        self.port = _port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.pidfile = Path(tempfile.gettempdir()) / f"kq-bench-{self.port}.pid"
        environment = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="bench-only-secret",
                           KQ_LOGIN_LIMIT="1000 per minute", REDIS_URL="", **env)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
             f"127.0.0.1:{self.port}", "--chdir", str(ROOT), "--pid", str(self.pidfile),
             "bench.wsgi:app"], env=environment, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        self.ready_after = None

    def wait(self, requests):
        for _ in range(300):
            try:
                if requests.get(self.base + "/bench/hello", timeout=1).ok:
                    self.ready_after = time.perf_counter() - self.started
                    return
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn stopped: " + self.process.stderr.read()[-2000:])
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer")

    def workers(self):
        try:
            master = int(self.pidfile.read_text())
        except (OSError, ValueError):
            return None, []
        children = Path(f"/proc/{master}/task/{master}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return master, pids

    def stop(self):
        master, _ = self.workers()
        try:
            os.kill(master, 15)
        except (OSError, TypeError):
            self.process.terminate()
        try:
            self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def peak_rss_mb(pid):
    """The process's peak resident memory so far (VmHWM), in MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found[1]) / 1024 if found else None


# The phone the load test plays: every request says the same User-Agent as its sign-in did, as
# a phone does (Flask-Login's session protection compares them: a cookie replayed from another
# User-Agent is flagged, and its session changed, on every request).
PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0 Mobile Safari/537.36")


def sign_in(requests, base, username):
    session = requests.Session()
    session.headers["User-Agent"] = PHONE
    page = session.get(base + "/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    session.post(base + "/login", data={"username": username, "password": "bench1234",
                                        "csrf_token": token})
    return session


def wire_bytes(requests, session, base):
    """Today's first load as a new phone makes it: the page and every static file it names
    (stylesheets, scripts, icons, manifest), with Accept-Encoding: br, gzip, counting what
    crosses the network (compressed bodies and the response headers)."""
    headers = {"Accept-Encoding": "br, gzip"}
    total, names = 0, []
    response = session.get(base + "/tasks/today", headers=headers, stream=True)
    raw = response.raw.read(decode_content=False)
    total += len(raw) + sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    html = session.get(base + "/tasks/today").text
    for path in dict.fromkeys(re.findall(r'(?:href|src)="(/static/[^"?#]+[^"]*)"', html)):
        asset = session.get(base + path, headers=headers, stream=True)
        body = asset.raw.read(decode_content=False)
        if asset.status_code == 200:
            total += len(body) + sum(len(k) + len(v) + 4 for k, v in asset.headers.items())
            names.append(path)
    return total, names, response.headers.get("Content-Encoding", "")


def cpu_seconds(pids):
    """The CPU time (user and system) these processes have used so far, in seconds."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(path, server, cookie, seconds, extra=()):
    """req/s, p95 (ms), errors, and the CPU the server's workers spent per answer (ms): the
    cost of a request apart from how many cores the machine has and what else runs on it."""
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s",
               str(ROOT / "bench" / "p95.lua"), "-H", f"Cookie: {cookie}",
               "-H", f"User-Agent: {PHONE}"]
    for header in extra:
        command += ["-H", header]
    workers = server.workers()[1]
    before = cpu_seconds(workers)
    out = subprocess.run(command + [server.base + path], capture_output=True, text=True).stdout
    spent = cpu_seconds(workers) - before
    line = next((x for x in out.splitlines() if x.startswith("KQ ")), None)
    if line is None:
        return None
    f = dict(part.split("=") for part in line[3:].split())
    if int(f["requests"]) == 0:
        return None  # not one answer in the time: no figure
    return (int(f["requests"]) / (int(f["duration_us"]) / 1e6), int(f["p95_us"]) / 1000,
            int(f["errors"]), spent * 1000 / int(f["requests"]))


def load_figures(results, database_url, username, runs, seconds):
    import requests

    if shutil.which("wrk") is None:
        results.add("load test skipped: wrk is not installed (apt-get install wrk)", None, "")
        return
    workers = int(os.environ.get("BENCH_WORKERS", "2"))
    warm = Server(database_url, workers)
    cold = Server(database_url, workers, KQ_PAGE_CACHE="0")
    try:
        warm.wait(requests)
        cold.wait(requests)
        results.say(f"servers up ({warm.ready_after:.1f} s, {cold.ready_after:.1f} s to the "
                    f"first answer, {workers} workers each)")
        session = sign_in(requests, warm.base, username)
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        first = session.get(warm.base + "/tasks/today")
        html = first.text
        items = html.count('class="task ')
        etag = first.headers.get("ETag")
        not_modified = etag is not None and session.get(
            warm.base + "/tasks/today", headers={"If-None-Match": etag}).status_code == 304
        wire, assets, encoding = wire_bytes(requests, session, warm.base)
        cases = [("hello", warm, "/bench/hello", ()),
                 ("floor", warm, f"/bench/floor/{username}", ()),
                 ("warm", warm, "/tasks/today", ())]
        if not_modified:
            cases.append(("304", warm, "/tasks/today", (f"If-None-Match: {etag}",)))
        cases.append(("cold", cold, "/tasks/today", ()))
        got = {name: [] for name, *_ in cases}
        for round_ in range(runs):
            for name, server, path, extra in cases:
                figure = wrk(path, server, cookie, seconds, extra)
                if figure is not None:
                    got[name].append(figure)
            results.say(f"load round {round_ + 1} of {runs}: " + ", ".join(
                f"{name} {got[name][-1][0]:.0f} req/s (p95 {got[name][-1][1]:.0f} ms, "
                f"{got[name][-1][3]:.1f} ms CPU)" for name in got if got[name]))
        med = {name: (statistics.median(r[0] for r in rows),
                      statistics.median(r[1] for r in rows), sum(r[2] for r in rows),
                      statistics.median(r[3] for r in rows))
               for name, rows in got.items() if rows}
        pinyin = requests.get(warm.base + "/bench/pinyin").text.strip()
        peaks = {"warm": [peak_rss_mb(pid) for pid in warm.workers()[1]],
                 "cold": [peak_rss_mb(pid) for pid in cold.workers()[1]]}
        master = peak_rss_mb(warm.workers()[0])
    finally:
        warm.stop()
        cold.stop()

    floor_rps = med.get("floor", (None,))[0]
    hello_rps = med.get("hello", (None,))[0]

    def ratio(name, base):
        return med[name][0] / base if name in med and base else None

    for name, label in (("warm", f"Today warm (her page again and again), {items} items"),
                        ("cold", "Today cold (KQ_PAGE_CACHE=0, every request renders)")):
        rps, p95, errors, cpu = med.get(name, (None, None, 0, None))
        limit_ratio, limit_p95 = (1.0, 30) if name == "warm" else (0.8, 50)
        results.add(f"{label}, req/s ({errors} errors)", rps, "req/s")
        results.at_least(f"{label}, × floor page", ratio(name, floor_rps), "×", limit_ratio)
        results.at_most(f"{label}, p95", p95, "ms", limit_p95, f"< {limit_p95} ms")
        results.add(f"{label}, worker CPU per request", cpu, "ms")
    rps, p95, errors, _cpu = med.get("304", (None, None, 0, None))
    results.add(f"Today repeat load with If-None-Match, req/s ({errors} errors)"
                if not_modified else "Today with If-None-Match: no 304 (no ETag)", rps, "req/s")
    results.at_least("Today 304, × hello world", ratio("304", hello_rps), "×", 0.5)
    results.add("floor page (same queries, bare template), req/s", floor_rps, "req/s")
    results.add("floor page, p95", med.get("floor", (0, None))[1], "ms")
    results.add("floor page, worker CPU per request", med.get("floor", (0, 0, 0, None))[3], "ms")
    results.add("hello-world Flask route, req/s", hello_rps, "req/s")
    results.add("hello-world, worker CPU per request", med.get("hello", (0, 0, 0, None))[3],
                "ms")
    results.at_most(f"Today first load on the wire (br/gzip: {encoding or 'none'}; page + "
                    f"{len(assets)} static files)", wire / 1024, "KB", 25)
    results.add("Today HTML, uncompressed", len(html.encode()) / 1024, "KB")
    # the page: 69.6 KB for 50 items, 1.39 KB an item; the goal halves it
    results.at_most("Today HTML per item", len(html.encode()) / 1024 / max(1, items), "KB",
                    0.70, "≤ 0.70 KB (half of 1.39)")
    for name, values in peaks.items():
        values = [v for v in values if v is not None]
        if values:
            results.add(f"peak RSS per worker, {name} server (max of {len(values)})",
                        max(values), "MB")
    if master is not None:
        results.add("peak RSS, gunicorn master", master, "MB")
    results.add("server start to first answer (2 workers)", warm.ready_after, "s")
    results.add(f"pinyin dictionary in a web worker after Today: {pinyin}",
                None, "", "not loaded", pinyin == "not loaded")


def worker_start(results):
    """What a worker pays to start: importing the app in a new process (median of 3), and
    whether that loads the pinyin dictionary."""
    code = ("import sys, time; t = time.perf_counter(); import bench.wsgi; "
            "print(time.perf_counter() - t, 'pypinyin' in sys.modules)")
    times, loaded = [], False
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                             text=True, env=dict(os.environ, DATABASE_URL="sqlite://",
                                                 SECRET_KEY="bench-only-secret"))
        seconds, pinyin = out.stdout.split()
        times.append(float(seconds))
        loaded = loaded or pinyin == "True"
    results.add("worker start: importing the app", statistics.median(times), "s")
    results.add("worker start loads the pinyin dictionary: " + ("yes" if loaded else "no"),
                None, "", "no", not loaded)
