"""The PWA in a real browser on a phone-sized screen: Debian's chromium driven by Playwright at
390x844, mobile and touch, against the app served on a free port."""
import os
import threading
from datetime import timedelta

import pytest

from kq.extensions import db
from kq.models import Contact, Customer, Store, User
from kq.services.assignments import assign
from tests.conftest import PASSWORD
from tests.factories import CustomerFactory
from tests.helpers import at, load

CHROMIUM = os.environ.get("KQ_CHROMIUM", "/usr/lib/chromium/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (make system-deps)")


@pytest.fixture
def live(make_app):
    """The app, with CSRF on as in production, served by a real HTTP server in a thread."""
    from werkzeug.serving import make_server

    app = make_app(WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def phone():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                      has_touch=True, locale="en-US",
                                      extra_http_headers={"Accept-Language": "en"})
        yield context
        context.close()
        browser.close()


def _world(app):
    from tests.factories import build_world

    with app.app_context():
        world = build_world(PASSWORD)
        store = load(Store, world.store1)
        staff = load(User, world.users["beautician1"])
        for i in range(4):
            customer = CustomerFactory(store_id=store.id, name=f"睡美人{i}",
                                       last_visit_at=at(store.today() - timedelta(days=60 + i)))
            assign(customer, staff, at=at(store.today() - timedelta(days=200)), commit=False)
        db.session.commit()
    return world


def _contacts(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Contact.id)))


def _sign_in(page, base, username="beautician1"):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/tasks/today")


def _log(page, index, outcome="no_answer"):
    task = page.locator("li.task").nth(index)
    task.locator("[data-log-open]").click()
    task.locator(f'button[name="outcome"][value="{outcome}"]').click()


def _eventually(page, script, arg=None, timeout=15.0):
    """Poll an async page expression (page.evaluate awaits promises; wait_for_function would
    take the promise itself as a truthy answer)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script, arg)
        if value or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(100)


def _controlled(page):
    """The service worker controls the page. Polled with evaluate: wait_for_function with a
    string predicate is evaluated by eval() in the page, which the CSP forbids whenever the
    first check is not already true. A worker that became active without claiming this page
    (clients.claim racing the first load, seen about once in twenty runs on a loaded machine)
    controls it after a reload, as it does every page she opens next."""
    script = "navigator.serviceWorker.controller !== null"
    if _eventually(page, "navigator.serviceWorker.ready.then(() => true)", timeout=20.0) and \
            not _eventually(page, script, timeout=5.0):
        page.reload()
    assert _eventually(page, script, timeout=20.0)


def _outbox_is(page, n):
    done = _eventually(page, f"window.kqOutbox.all().then(e => e.length === {n})")
    assert done, "outbox holds {}, expected {}".format(
        page.evaluate("window.kqOutbox.all().then(e => e.length)"), n)


def test_offline_outbox_syncs_exactly_once(live, phone):
    app, base = live
    _world(app)
    page = phone.new_page()
    _sign_in(page, base)
    _controlled(page)
    page.reload()  # now through the service worker, which keeps today's list
    assert page.locator("li.task").count() >= 4

    # Online: one outcome, two taps, stored at once.
    _log(page, 0)
    _outbox_is(page, 0)
    assert _contacts(app) == 1

    # Offline: three outcomes wait on the phone.
    phone.set_offline(True)
    for i in (1, 2, 3):
        _log(page, i)
    _outbox_is(page, 3)
    assert _eventually(page, "document.querySelector('[data-outbox-status]').innerText"
                             ".includes('3 waiting to sync')")
    saved = page.evaluate("window.kqOutbox.all()")
    assert _contacts(app) == 1

    # A reload offline is served by the service worker, outbox intact.
    page.reload()
    assert page.locator("li.task").count() >= 4
    assert _eventually(page, "document.querySelector('[data-waiting]').textContent"
                             ".includes('3 waiting')")

    # Back online with an expired CSRF token: a fresh one is fetched, all three arrive once.
    page.evaluate("sessionStorage.setItem('kq-csrf', 'expired-token')")
    phone.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    _outbox_is(page, 0)
    assert _contacts(app) == 4

    # Replaying the same outbox again stores nothing new.
    page.evaluate("entries => Promise.all(entries.map(e => window.kqOutbox.put(e)))"
                  ".then(() => window.kqOutbox.sync())", saved)
    _outbox_is(page, 0)
    assert _contacts(app) == 4
    with app.app_context():
        client_ids = {c.client_id for c in db.session.scalars(db.select(Contact))}
        assert {e["client_id"] for e in saved} <= client_ids


def test_without_a_session_entries_wait_and_rejections_are_shown(live, phone):
    app, base = live
    world = _world(app)
    page = phone.new_page()
    _sign_in(page, base)
    # The session ends on the server (her password was reset elsewhere), so that no answer
    # still in flight (the service worker keeping today's cards) can bring the cookie back.
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "beautician1"))
        user.set_password(PASSWORD)
        db.session.commit()
    _log(page, 0)
    page.wait_for_timeout(500)
    _outbox_is(page, 1)
    assert _contacts(app) == 0
    _sign_in(page, base)  # the next start after signing in sends it
    _outbox_is(page, 0)
    assert _contacts(app) == 1
    # An entry the server refuses (another store's customer) is shown, not dropped.
    page.evaluate("id => window.kqOutbox.put({client_id: '7d1c9e0a-1111-4222-8333-444455556666',"
                  " label: 'test', payload: {client_id: '7d1c9e0a-1111-4222-8333-444455556666',"
                  " customer_id: String(id), channel: 'phone', outcome: 'reached'}})"
                  ".then(() => window.kqOutbox.sync())", world.customers["other_store"])
    assert _eventually(page, "window.kqOutbox.all().then(e => e.length === 1 && "
                             "!!e[0].rejected)")
    page.evaluate("window.kqOutbox.sync()")
    assert _eventually(page, "document.querySelector('[data-outbox-status]').innerText"
                             ".includes('another store')")
    assert _contacts(app) == 1


def test_manifest_service_worker_and_phone_layout(live, phone):
    app, base = live
    _world(app)
    page = phone.new_page()
    _sign_in(page, base)
    manifest = page.request.get(f"{base}/manifest.webmanifest").json()
    assert manifest["start_url"] == "/tasks/today" and manifest["display"] == "standalone"
    assert manifest["short_name"] == "客情"
    assert any(i.get("purpose") == "maskable" for i in manifest["icons"])
    _controlled(page)
    for width in (360, 390, 430):
        page.set_viewport_size({"width": width, "height": 844})
        for path in ("/tasks/today", "/customers/", "/customers/1", "/calls/", "/gifts/",
                     "/more"):
            page.goto(base + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (width, path)
            small = page.evaluate("""[...document.querySelectorAll(
                'a.btn, button.btn, summary.btn, .bottom-nav a, .choice, .seg-opt,'
                + ' .tasks .task-actions > a')]
                .filter(e => e.offsetParent && e.getBoundingClientRect().height < 44)
                .map(e => e.textContent.trim())""")
            assert small == [], (width, path, small)
    page.set_viewport_size({"width": 390, "height": 844})
    # Signing out clears the kept pages.
    page.goto(base + "/logout")
    page.click("form[data-logout] button[type=submit]")
    page.wait_for_url(f"{base}/login*")
    kept = page.evaluate("caches.open('kq-pages-v1').then(c => c.keys()).then(k => k.length)")
    assert kept == 0
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Customer.id))) >= 4


def _sleepers(app):
    with app.app_context():
        return [c.id for c in db.session.scalars(
            db.select(Customer).where(Customer.name.like("睡美人%")).order_by(Customer.name))]


def _queue(page, entries):
    """Entries as the log form keeps them, in the order they were logged (saved_at), with
    client ids in that order too (older outboxes sent by client id)."""
    page.evaluate("""entries => Promise.all(entries.map((e, i) => {
        const id = '00000000-0000-4000-8000-00000000000' + (i + 1);
        const at = new Date(Date.now() - (10 - i) * 60000).toISOString();
        return window.kqOutbox.put({client_id: id, label: e.label, saved_at: at,
            payload: Object.assign({client_id: id, channel: 'phone', outcome: 'reached',
                                    contacted_at: at}, e.payload)});
    }))""", entries)


def _stored_notes(app):
    with app.app_context():
        return sorted(c.notes for c in db.session.scalars(db.select(Contact)))


def test_a_refused_entry_is_shown_with_its_reason_and_the_rest_are_stored(live, phone):
    """Three entries queued offline; the server refuses the middle one (a customer number no
    store has: 422). The first and third are stored; the middle waits on the phone with the
    server's reason and a Discard button, and is not sent again."""
    app, base = live
    _world(app)
    ids = _sleepers(app)
    page = phone.new_page()
    _sign_in(page, base)
    phone.set_offline(True)
    _queue(page, [
        {"label": "睡美人0", "payload": {"customer_id": str(ids[0]), "notes": "first"}},
        {"label": "坏条目", "payload": {"customer_id": "9223372036854775808", "notes": "bad"}},
        {"label": "睡美人1", "payload": {"customer_id": str(ids[1]), "notes": "third"}},
    ])
    _outbox_is(page, 3)
    phone.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    assert _eventually(page, "window.kqOutbox.all().then(e => e.length === 1 && "
                             "!!e[0].rejected)")
    assert _stored_notes(app) == ["first", "third"]
    refused = page.locator("[data-rejected] li")
    assert _eventually(page, "document.querySelectorAll('[data-rejected] li').length === 1")
    assert "坏条目" in refused.inner_text() and "not valid" in refused.inner_text()
    # Sent again (a later sync, the next app start): refused entries stay put, not re-sent.
    page.evaluate("window.kqOutbox.sync()")
    page.reload()
    assert _eventually(page, "document.querySelectorAll('[data-rejected] li').length === 1")
    assert _stored_notes(app) == ["first", "third"]
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("[data-rejected] li button", has_text="Discard").click()
    _outbox_is(page, 0)
    assert _eventually(page, "document.querySelector('[data-outbox-status]').hidden")
    assert _stored_notes(app) == ["first", "third"]


def test_a_server_error_on_one_entry_never_holds_back_the_others(live, phone):
    """The server fails on the middle entry (503, then a dropped connection): it waits and is
    tried again later, and the entries after it are stored meanwhile."""
    app, base = live
    _world(app)
    ids = _sleepers(app)
    page = phone.new_page()
    _sign_in(page, base)
    failures = []

    def flaky(route):
        if "00000000-0000-4000-8000-000000000002" in (route.request.post_data or ""):
            failures.append(route.request.url)
            if len(failures) == 1:
                return route.fulfill(status=503, content_type="application/json",
                                     body='{"error": "unavailable"}')
            return route.abort("connectionreset")
        return route.continue_()

    phone.route("**/api/contacts", flaky)
    phone.set_offline(True)
    _queue(page, [
        {"label": "睡美人0", "payload": {"customer_id": str(ids[0]), "notes": "first"}},
        {"label": "睡美人1", "payload": {"customer_id": str(ids[1]), "notes": "second"}},
        {"label": "睡美人2", "payload": {"customer_id": str(ids[2]), "notes": "third"}},
    ])
    phone.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    assert _eventually(page, "window.kqOutbox.all().then(e => e.length === 1)")
    assert _stored_notes(app) == ["first", "third"]
    waiting = page.evaluate("window.kqOutbox.all()")[0]
    assert not waiting.get("rejected") and waiting["attempts"] >= 1 and waiting["next_try"]
    assert _eventually(page, "document.querySelector('[data-waiting]').textContent"
                             ".includes('1 waiting')")
    # Its turn comes again (by its timer, or here at once): a dropped connection is transient
    # too, and the entry still waits.
    page.evaluate("window.kqOutbox.sync({now: true})")
    assert _eventually(page, "window.kqOutbox.all().then(e => e.length === 1 && "
                             "e[0].attempts >= 2 && !e[0].rejected)")
    assert len(failures) >= 2
    phone.unroute("**/api/contacts")
    page.evaluate("window.kqOutbox.sync({now: true})")
    _outbox_is(page, 0)
    assert _stored_notes(app) == ["first", "second", "third"]


def _summary(page):
    """The figures at the top of Today, as she reads them (the first number of each)."""
    return page.evaluate("""() => {
        const n = s => { const e = document.querySelector(s);
                         return e ? (e.textContent.match(/\\d+/) || [null])[0] : null; };
        return {done: n('[data-done]'), total: n('[data-total]'), red: n('[data-red]'),
                progress: document.querySelector('progress.progress').value};
    }""")


def test_the_log_panel_sends_what_she_entered_with_the_outcome(live, phone):
    """Finding 2: the outcome tap saved before the rating, note and follow-up folded below it,
    and a "no answer" went out with a 4/5 rating. Now what she enters comes first and the
    outcome tap sends it; a rating only goes with an outcome where she spoke with her."""
    app, base = live
    _world(app)
    page = phone.new_page()
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json)
            if r.url.endswith("/api/contacts") and r.method == "POST" else None)
    _sign_in(page, base)
    task = page.locator("li.task").nth(0)
    task.locator("[data-log-open]").click()
    form = task.locator("form[data-log-form]")
    # What she may add comes before the outcome buttons that save.
    assert form.evaluate("f => !!(f.querySelector('details.more').compareDocumentPosition("
                         "f.querySelector('.outcomes')) & Node.DOCUMENT_POSITION_FOLLOWING)")
    form.locator("details.more > summary").click()
    form.locator('label.seg-opt:has(input[name="satisfaction"][value="4"])').click()
    form.locator('textarea[name="notes"]').fill("想做补水")
    tomorrow = page.evaluate("document.querySelector('input[name=next_follow_up_on]').min")
    form.locator('input[name="next_follow_up_on"]').fill(tomorrow)
    form.locator('button[name="outcome"][value="reached"]').click()
    _outbox_is(page, 0)
    # No answer: the rating she tapped by mistake is not sent, the note is.
    task = page.locator("li.task").nth(1)
    task.locator("[data-log-open]").click()
    form = task.locator("form[data-log-form]")
    form.locator("details.more > summary").click()
    form.locator('label.seg-opt:has(input[name="satisfaction"][value="5"])').click()
    form.locator('input[name="suggestions"]').fill("早点开门")
    form.locator('textarea[name="notes"]').fill("没人接")
    form.locator('button[name="outcome"][value="no_answer"]').click()
    _outbox_is(page, 0)
    assert [(b["outcome"], b.get("satisfaction"), b.get("suggestions"), b.get("notes"))
            for b in sent] == [("reached", "4", None, "想做补水"),
                               ("no_answer", None, None, "没人接")]
    with app.app_context():
        stored = {c.outcome: (c.satisfaction, c.notes, c.next_follow_up_on)
                  for c in db.session.scalars(db.select(Contact))}
    assert stored["reached"][:2] == (4, "想做补水") and stored["reached"][2].isoformat() == tomorrow
    assert stored["no_answer"] == (None, "没人接", None)


def test_counts_move_as_she_logs_online_and_offline(live, phone):
    """Finding 3: "0/139 done" and the red-flag count stayed put until a reload."""
    app, base = live
    _world(app)
    page = phone.new_page()
    _sign_in(page, base)
    _controlled(page)
    page.reload()
    before = _summary(page)
    assert before["done"] == "0"
    _log(page, 0)
    _outbox_is(page, 0)
    assert _eventually(page, "document.querySelector('[data-done]').textContent.trim() === '1'")
    total, red = int(before["total"]), int(before["red"])
    assert _summary(page) == {"done": "1", "total": str(total), "red": str(red - 1),
                              "progress": 1}
    # Once the server has it, the copy of Today kept for offline use is renewed.
    assert _eventually(page, "caches.open('kq-pages-v1').then(c => c.match('/tasks/today'))"
                             ".then(r => r && r.text()).then(t => !!t && t.includes("
                             "'<strong data-done>1</strong>'))")
    phone.set_offline(True)
    _log(page, 1)
    assert _eventually(page, "document.querySelector('[data-done]').textContent.trim() === '2'")
    assert _summary(page)["red"] == str(red - 2)
    # The page as kept offline, with the entry still waiting: the same counts.
    page.reload()
    assert _eventually(page, "document.querySelector('[data-done]').textContent.trim() === '2'")
    assert _summary(page)["red"] == str(red - 2)
    phone.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    _outbox_is(page, 0)
    page.reload()
    assert _summary(page) == {"done": "2", "total": str(total), "red": str(red - 2),
                              "progress": 2}


# The customers of the items she can log: each item's name links to her card.
CUSTOMERS_LOGGABLE = ("[...document.querySelectorAll('li.task [data-log-open]')]"
                      ".map(a => a.closest('li').querySelector('a.task-name')"
                      ".getAttribute('href').split('/').pop())")


def test_what_today_lists_is_there_offline_with_every_card(live, phone):
    """Finding 6: only cards opened while online loaded offline, and the rest of the list was
    not kept. After Today loads online, the backlog page and the card of every listed customer
    are kept: offline, a card never opened before shows."""
    app, base = live
    world = _world(app)
    with app.app_context():
        load(Store, world.store1).daily_contact_target = 2  # the others wait on "more"
        db.session.commit()
    page = phone.new_page()
    _sign_in(page, base)
    _controlled(page)
    page.reload()
    planned = page.evaluate(CUSTOMERS_LOGGABLE)
    page.goto(base + "/tasks/today/more")
    later = page.evaluate(CUSTOMERS_LOGGABLE)
    assert later and not set(later) & set(planned)
    page.goto(base + "/tasks/today")  # Today is where the phone keeps the day
    cards = [f"/customers/{c}" for c in planned + later]
    assert _eventually(page, "cards => caches.open('kq-pages-v1').then(c => Promise.all("
                             "cards.map(p => c.match(p)))).then(r => r.every(Boolean))",
                       cards, timeout=30), cards
    phone.set_offline(True)
    for customer in (later[-1], planned[0]):  # neither opened before
        page.goto(f"{base}/customers/{customer}")
        with app.app_context():
            name = load(Customer, int(customer)).name
        assert name in page.content()
    page.goto(base + "/tasks/today/more")
    assert page.locator("li.task").count() == len(later)
    page.goto(base + "/tasks/today")
    assert page.locator("li.task").count() == len(planned)


def _navigation_world(app):
    """The browser world, with a referrer, points and a logged contact on the first sleeper's
    card (name links in three places) and a colleague's customer in the store."""
    world = _world(app)
    with app.app_context():
        first, second = [load(Customer, i) for i in _sleepers(app)[:2]]
        first.referred_by_id, first.points_balance = second.id, 3
        db.session.add(Contact(store_id=first.store_id, customer_id=first.id,
                               staff_id=world.users["beautician1"], client_id="kq15-contact",
                               channel="phone", outcome="booked",
                               contacted_at=at(load(Store, world.store1).today())))
        db.session.commit()
        return world, first.id


def test_the_back_control_takes_her_one_level_up(live, phone):
    """Finding 4: installed on an iPhone (display: standalone) a card had no way back but the
    bottom tabs. The header's "‹" goes to the list she came from, from a card's own page to
    the card; it is a link, so it needs no browser back."""
    app, base = live
    world, first = _navigation_world(app)
    page = phone.new_page()
    _sign_in(page, base)
    assert page.locator("a.topbar-back").count() == 0  # Today is a tab: nothing above it
    page.locator("a.task-name").first.click()
    page.wait_for_url(f"{base}/customers/*")
    back = page.locator("a.topbar-back")
    assert back.get_attribute("aria-label") == "Back"
    box = back.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    back.click()
    page.wait_for_url(f"{base}/tasks/today")
    listed = f"{base}/customers/?staff=all&sort=name&page=1"
    page.goto(listed)
    page.locator(f'a.row-main[href="/customers/{first}"]').click()
    page.wait_for_url(f"{base}/customers/{first}")
    page.locator(f'a[href="/customers/{first}/visits/new"]').click()
    page.wait_for_url(f"{base}/customers/{first}/visits/new")
    page.locator("a.topbar-back").click()
    page.wait_for_url(f"{base}/customers/{first}")
    page.locator(f'a[href="/customers/{first}/points"]').click()
    page.locator("a.topbar-back").click()
    page.wait_for_url(f"{base}/customers/{first}")
    page.locator("a.topbar-back").click()  # she came to the card from its own page: the tab
    page.wait_for_url(f"{base}/customers/")
    page.goto(listed)
    page.locator(f'a.row-main[href="/customers/{first}"]').click()
    page.locator("a.topbar-back").click()
    page.wait_for_url(listed)


def _contrast(page, selector):
    return page.evaluate("""s => {
        const e = document.querySelector(s), st = getComputedStyle(e);
        const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
        const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255;
            return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const [hi, lo] = [lum(st.color), lum(st.backgroundColor)].sort((a, b) => b - a);
        return {ratio: (hi + 0.05) / (lo + 0.05), size: parseFloat(st.fontSize)};
    }""", selector)


SMALL_NAME_LINKS = """[...document.querySelectorAll('main a[href]:not(.btn)')]
    .filter(a => /^\\/customers\\/\\d+(\\/points)?$/.test(a.getAttribute('href'))
                 || a.matches('.row-link, .name-link'))
    .filter(a => a.offsetParent)
    .map(a => { a.scrollIntoView({block: 'center'}); const r = a.getBoundingClientRect();
        const x = r.left + Math.min(r.width / 2, 8);
        const hit = y => { const e = document.elementFromPoint(x, y); return !!e && a.contains(e); };
        return {text: a.textContent.trim(), height: r.height, top: hit(r.top + 2),
                bottom: hit(r.bottom - 2)}; })
    .filter(l => l.height < 44 || !l.top || !l.bottom)"""


def test_names_actions_and_badges_fit_a_phone(live, phone):
    """Finding 10, on screen at 360, 390 and 430 px in English: name links were 18–26 px tall;
    "+ Promise" and "+ Complaint" wrapped leaving "+" alone; the SMS chip was clipped; Booked
    looked selected; the red-flag badge was 4.44:1 at 12 px."""
    app, base = live
    world, first = _navigation_world(app)
    page = phone.new_page()
    _sign_in(page, base)
    for width in (360, 390, 430):
        page.set_viewport_size({"width": width, "height": 844})
        for path in ("/tasks/today", f"/customers/{first}", f"/customers/{first}/points",
                     "/calls/"):
            page.goto(base + path)
            small = page.evaluate(SMALL_NAME_LINKS)
            assert small == [], (width, path, small)
        page.goto(f"{base}/customers/{first}")
        wrapped = page.evaluate("""[...document.querySelectorAll('.card-actions .btn')]
            .filter(b => b.offsetParent && b.getBoundingClientRect().height > 46)
            .map(b => b.textContent.trim())""")
        assert wrapped == [], (width, wrapped)
        page.goto(base + "/tasks/today")
        badge = _contrast(page, ".kind-red_flag .task-name + .badge")
        assert badge["ratio"] >= 4.5 and badge["size"] >= 13, badge
        task = page.locator("li.task").first
        task.locator("[data-log-open]").click()
        chips = page.evaluate("""() => {
            const seg = document.querySelector('li.task form[data-log-form] .seg');
            const box = seg.getBoundingClientRect();
            return [...seg.querySelectorAll('.seg-opt')].map(o => {
                const r = o.getBoundingClientRect();
                return {text: o.textContent.trim(), inside: r.left >= box.left - 0.5
                        && r.right <= box.right + 0.5 && seg.scrollWidth <= seg.clientWidth};
            }).filter(o => !o.inside).map(o => o.text);
        }""")
        assert chips == [], (width, chips)
        looks = page.evaluate("""() => {
            const f = document.querySelector('li.task form[data-log-form]');
            const s = v => { const st = getComputedStyle(f.querySelector(
                `button[name=outcome][value=${v}]`));
                return [st.borderColor, st.color, st.backgroundColor, st.fontWeight]; };
            return {booked: s('booked'), reached: s('reached')};
        }""")
        assert looks["booked"] == looks["reached"], (width, looks)


# Manager on a phone (issue 15, finding 7) ----------------------------------------------------

MANAGER_SECTIONS = ["/manager/meeting/morning", "/manager/meeting/evening",
                    "/manager/assignments", "/manager/dormant", "/manager/ledger",
                    "/manager/proposals", "/manager/complaints", "/manager/offers",
                    "/manager/performance", "/reports/", "/gifts/totals", "/manager/scripts",
                    "/manager/staff", "/manager/import", "/manager/settings"]


def _tap(page, locator):
    """Tap and wait for the page it leads to."""
    with page.expect_navigation():
        locator.tap()
    page.wait_for_load_state("networkidle")


def _sign_in_manager(page, base):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_every_manager_section_is_reachable_by_taps_on_a_phone(live, phone):
    """Finding 7: at 390 px only 5 of the manager's 15 tabs showed; Reports, Import, Staff and
    Settings were off-screen to the right. The Manage home lists them all as big links."""
    app, base = live
    _world(app)
    page = phone.new_page()
    _sign_in_manager(page, base)
    _tap(page, page.locator(".bottom-nav a[href='/manager/']"))
    assert page.url == f"{base}/manager/"
    for path in MANAGER_SECTIONS:
        link = page.locator(f".manage-home a[href='{path}']")
        assert link.count() == 1, path
        link.scroll_into_view_if_needed()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 44, \
            (path, box)
        _tap(page, link)
        assert page.url == base + path
        assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0, path
        _tap(page, page.locator(".bottom-nav a[href='/manager/']"))  # and home by a tap
        assert page.url == f"{base}/manager/"


def test_giving_all_asks_first_from_a_slim_bar_and_can_be_undone(live, phone):
    """Finding 7: "全部分配（1000 位）" was the filled primary button of a sticky panel that
    covered a third of the screen, and one tap gave every customer to one beautician."""
    app, base = live
    world = _world(app)
    with app.app_context():
        for _ in range(60):
            CustomerFactory(store_id=world.store1)
        db.session.commit()

    def unassigned():
        with app.app_context():
            return db.session.scalar(db.select(db.func.count(Customer.id)).where(
                Customer.store_id == world.store1, Customer.assigned_staff_id.is_(None)))

    page = phone.new_page()
    _sign_in_manager(page, base)
    page.goto(f"{base}/manager/assignments?staff=none")
    every = page.locator("button[name=scope][value=all]")
    assert "btn-primary" not in every.get_attribute("class")
    bar = every.evaluate("""b => { let e = b;
        while (e && getComputedStyle(e).position !== 'sticky') e = e.parentElement;
        return e ? e.getBoundingClientRect().height : 0; }""")
    assert 0 < bar <= 844 * 0.12, bar  # one row of two buttons, not a third of the screen
    page.locator("label.choice", has_text=_display_name(app, world, "beautician2")).tap()
    _tap(page, every)
    question = page.locator(".confirm-question").inner_text()
    assert question.startswith("Give 60 customers to "), question
    assert unassigned() == 60  # asked, nothing changed
    _tap(page, page.locator(".confirm button[type=submit]"))
    assert unassigned() == 0
    _tap(page, page.locator(".undo-card button"))
    assert unassigned() == 60


def _display_name(app, world, username):
    with app.app_context():
        return load(User, world.users[username]).display_name


def test_message_links_get_their_text_and_the_buttons_look_as_before(live, phone):
    """Today's Message link names the number only; the page's script gives it the text of its
    kind with the customer's greeting name (the text is once on the page). Call, Message and
    Log keep the look of buttons (44 px, icons, Log the primary) without naming it per item."""
    from urllib.parse import unquote

    from kq.scripts import DEFAULTS, message_for

    app, base = live
    world = _world(app)
    with app.app_context():
        store, staff = load(Store, world.store1), load(User, world.users["beautician1"])
        expected = {c.greeting_name: message_for(DEFAULTS["red_flag"], c, staff, store,
                                                 store.today())
                    for c in db.session.scalars(db.select(Customer).where(
                        Customer.name.startswith("睡美人")))}
    page = phone.new_page()
    _sign_in(page, base)
    links = page.evaluate("""[...document.querySelectorAll('li.task a[href^="sms:"]')].map(a =>
        [a.closest('li').querySelector('.task-name').textContent, a.getAttribute('href')])""")
    assert len(links) >= 4
    for name, href in links:
        if name in expected:
            number, body = href.split("?&body=")
            assert number.startswith("sms:") and unquote(body) == expected[name], (name, href)
    # the href the tap follows is the one with the text (read at the moment of the click)
    tapped = page.evaluate("""() => new Promise(done => {
        const link = document.querySelector('li.task a[href^="sms:"]');
        document.addEventListener('click', e => { done(e.target.closest('a').href);
            e.preventDefault(); }, {once: true});
        link.click(); })""")
    assert "?&body=" in tapped
    looks = page.evaluate("""() => {
        const item = document.querySelector('li.task.kind-red_flag');
        const [call, text, log] = item.querySelectorAll('.task-actions > a');
        const st = (e, part) => getComputedStyle(e, part);
        const mask = e => st(e, '::before').maskImage || st(e, '::before').webkitMaskImage;
        return {heights: [call, text, log].map(e => e.getBoundingClientRect().height),
                icons: [call, text].map(mask),
                log: st(log).backgroundColor, call: st(call).backgroundColor,
                badge: st(item.querySelector('.task-name + .badge')).color};
    }""")
    assert all(h >= 44 for h in looks["heights"]), looks
    assert all("svg" in (icon or "") for icon in looks["icons"]), looks
    assert looks["log"] == "rgb(180, 35, 90)" and looks["call"] == "rgb(255, 255, 255)", looks
    assert looks["badge"] == "rgb(180, 35, 24)", looks  # red flags' badge, #b42318


def test_call_message_and_log_keep_their_label_on_one_line_in_chinese(live, phone):
    """At 360 px in Chinese, 打电话 and 发短信 broke inside the word (打电 / 话): three buttons
    of about 95 px, each with its icon and 1 rem of padding a side. They stay one line, in
    both languages, from 360 px; each still a 44 px target."""
    app, base = live
    world = _world(app)
    page = phone.new_page()
    _sign_in(page, base)
    for language in ("zh_Hans", "en"):
        with app.app_context():
            load(User, world.users["beautician1"]).locale = language
            db.session.commit()
        for width in (360, 390):
            page.set_viewport_size({"width": width, "height": 844})
            page.goto(base + "/tasks/today")
            buttons = page.evaluate("""[...document.querySelectorAll(
                'li.task .task-actions > a')].filter(a => a.offsetParent).map(a => {
                const r = a.getBoundingClientRect(), line = parseFloat(getComputedStyle(a).lineHeight)
                    || 1.2 * parseFloat(getComputedStyle(a).fontSize);
                const text = document.createRange(); text.selectNodeContents(a);
                return {text: a.textContent, height: r.height, width: r.width,
                        lines: Math.round(text.getBoundingClientRect().height / line),
                        row: Math.round(r.top) === Math.round(a.parentNode
                            .firstElementChild.getBoundingClientRect().top)}; })""")
            assert buttons and buttons[0]["text"] in ("打电话", "Call"), buttons
            assert buttons, (language, width)
            assert all(b["lines"] == 1 for b in buttons), (language, width, buttons)
            assert all(b["height"] >= 44 and b["width"] >= 44 for b in buttons), buttons
            assert all(b["row"] for b in buttons), (language, width, buttons)  # one row
            assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0


def test_the_log_panel_takes_the_channel_she_just_used(live, phone):
    """She taps Message, sends the text, comes back and taps Log: the panel has SMS chosen, so
    "Reached" is one tap and not recorded as a phone call; after Call it is the phone. A panel
    already open follows the button tapped after it."""
    app, base = live
    _world(app)
    page = phone.new_page()
    _sign_in(page, base)
    # the SMS and phone apps are not there in the test: the tap is followed but goes nowhere
    page.evaluate("""document.addEventListener('click', e => {
        if (e.target.closest('a[href^="sms:"], a[href^="tel:"]')) e.preventDefault(); })""")
    first, second = page.locator("li.task").nth(0), page.locator("li.task").nth(1)
    checked = "f => f.querySelector('input[name=channel]:checked').value"
    first.locator('a[href^="sms:"]').click()
    first.locator("[data-log-open]").click()
    assert first.locator("form[data-log-form]").evaluate(checked) == "sms"
    first.locator('a[href^="tel:"]').click()
    assert first.locator("form[data-log-form]").evaluate(checked) == "phone"
    first.locator('a[href^="sms:"]').click()
    first.locator('button[name="outcome"][value="reached"]').click()
    _outbox_is(page, 0)
    second.locator("[data-log-open]").click()  # nothing tapped on this one: the phone
    assert second.locator("form[data-log-form]").evaluate(checked) == "phone"
    with app.app_context():
        assert [c.channel for c in db.session.scalars(db.select(Contact))] == ["sms"]
