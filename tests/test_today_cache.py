"""Today from a versioned cache (kq.pagecache): every write that changes her list gives a new
ETag at once, in this process and in another; other staff's writes leave hers alone; an
unchanged page is a 304; what is per session (CSRF token, flash messages) is never reused."""
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, update

from kq.extensions import db
from kq.models import (CareNote, Contact, Customer, MessageTemplate, PageVersion,
                       Store, Task, User)
from kq.services.assignments import assign
from kq.services.checklist import generate_day
from kq.services.visits import record_visit
from tests.conftest import PASSWORD, _free_port
from tests.factories import CustomerFactory
from tests.helpers import at, load

TODAY = "/tasks/today"


def _get(client, path=TODAY, **headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.status_code
    return response


def _etag(client, path=TODAY):
    return _get(client, path).headers["ETag"]


def _dormant(store_id, staff_id, name, days=40):
    store = db.session.get(Store, store_id)
    customer = CustomerFactory(store_id=store_id, greeting_name=name,
                               last_visit_at=at(store.today() - timedelta(days=days)))
    assign(customer, db.session.get(User, staff_id), at=at(store.today() - timedelta(days=300)),
           commit=False)
    return customer


@pytest.fixture
def day(app, world, login):
    """Beautician1's and beautician2's lists generated for today, and their clients."""
    with app.app_context():
        store = load(Store, world.store1)
        _dormant(store.id, world.users["beautician1"], "沉睡甲")
        _dormant(store.id, world.users["beautician2"], "沉睡乙")
        db.session.commit()
        generate_day(store, store.today())
    return login("beautician1"), login("beautician2")


def _write(app, change):
    with app.app_context():
        change()
        db.session.commit()


def test_a_304_for_an_unchanged_page_and_the_same_html_again(app, world, day):
    mine, _theirs = day
    first = _get(mine)
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert first.headers["ETag"].startswith('W/"')
    again = _get(mine)
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert "沉睡甲" in again.get_data(as_text=True)
    unchanged = mine.get(TODAY, headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304
    assert unchanged.get_data() == b""
    assert unchanged.headers["ETag"] == first.headers["ETag"]
    stale = mine.get(TODAY, headers={"If-None-Match": 'W/"something-else"'})
    assert stale.status_code == 200


def _log_contact(client, customer_id, task_id=None):
    data = {"customer_id": customer_id, "channel": "phone", "outcome": "reached",
            "client_id": str(uuid.uuid4()), "next": TODAY}
    if task_id:
        data["task_id"] = task_id
    response = client.post("/calls/log", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def _task_of(app, staff_id, name):
    with app.app_context():
        return db.session.scalar(db.select(Task.id).join(Customer, Customer.id == Task.customer_id)
                                 .where(Task.staff_id == staff_id,
                                        Customer.greeting_name == name))


def test_logging_a_contact_changes_her_page_at_once_and_not_her_colleagues(app, world, day):
    mine, theirs = day
    before, colleague = _etag(mine), _etag(theirs)
    task = _task_of(app, world.users["beautician1"], "沉睡甲")
    with app.app_context():
        customer = db.session.scalar(db.select(Customer.id).where(
            Customer.greeting_name == "沉睡甲"))
    _log_contact(mine, customer, task)
    mine.get(TODAY)  # shows the flash of the log, rendered for it
    after = _get(mine)
    assert after.headers["ETag"] != before
    assert re.search(r'id="t%d"[^>]*data-state="done"' % task, after.get_data(as_text=True))
    assert _etag(theirs) == colleague  # her colleague's page is the one she had


def test_other_staffs_and_other_stores_writes_leave_her_page_alone(app, world, day):
    mine, theirs = day
    before = _etag(mine)
    task = _task_of(app, world.users["beautician2"], "沉睡乙")
    with app.app_context():
        customer = db.session.scalar(db.select(Customer.id).where(
            Customer.greeting_name == "沉睡乙"))
    colleague = _etag(theirs)
    _log_contact(theirs, customer, task)
    theirs.get(TODAY)  # the flash
    assert _etag(theirs) != colleague
    other = world.customers["other_store"]
    _write(app, lambda: record_visit(load(Customer, other), visited_at=at(
        load(Store, world.store2).today()), staff=load(User, world.users["beautician7"]),
        commit=False))
    _write(app, lambda: setattr(load(Store, world.store2), "daily_contact_target", 3))
    assert _etag(mine) == before


def _changes(app, world, change):
    """Each write below changes something on her page, or may: the ETag is new at once."""
    _write(app, lambda: change(world))


def _new_dormant_and_run(world):
    _dormant(world.store1, world.users["beautician1"], "新沉睡")
    db.session.flush()
    store = load(Store, world.store1)
    generate_day(store, store.today(), commit=False)


def _reassign_colleagues_customer(world):
    assign(db.session.scalar(db.select(Customer).where(Customer.greeting_name == "沉睡乙")),
           load(User, world.users["beautician1"]), commit=False)


def _visit(world):
    customer = db.session.scalar(db.select(Customer).where(Customer.greeting_name == "沉睡甲"))
    record_visit(customer, visited_at=at(load(Store, world.store1).today()),
                 staff=load(User, world.users["beautician1"]), commit=False)


def _care_note(world):
    customer_id = db.session.scalar(db.select(Customer.id).where(
        Customer.greeting_name == "沉睡甲"))
    db.session.add(CareNote(store_id=world.store1, customer_id=customer_id,
                            staff_id=world.users["beautician1"], feedback="喜欢玫瑰精油"))


def _rename(world):
    customer = db.session.scalar(db.select(Customer).where(Customer.greeting_name == "沉睡甲"))
    customer.greeting_name = "甲小姐"


def _bulk_update(world):
    db.session.execute(update(Customer).where(Customer.greeting_name == "沉睡甲")
                       .values(is_key=True))


def _bulk_update_by_key(world):
    customer_id = db.session.scalar(db.select(Customer.id).where(
        Customer.greeting_name == "沉睡甲"))
    db.session.execute(update(Customer), [{"id": customer_id, "greeting_name": "甲女士"}])


def _bulk_insert_contact(world):
    customer_id = db.session.scalar(db.select(Customer.id).where(
        Customer.greeting_name == "沉睡甲"))
    store = load(Store, world.store1)
    db.session.execute(insert(Contact).values(
        store_id=store.id, customer_id=customer_id, staff_id=world.users["manager"],
        client_id=str(uuid.uuid4()), channel="phone", outcome="no_answer",
        contacted_at=at(store.today())))


def _item_done(world):
    task = db.session.scalar(db.select(Task).where(Task.staff_id == world.users["beautician1"]))
    task.status = "done"


def _item_deleted(world):
    db.session.delete(db.session.scalar(db.select(Task).where(
        Task.staff_id == world.users["beautician1"])))


def _store_text(world):
    db.session.add(MessageTemplate(store_id=world.store1, kind="red_flag", channel="sms",
                                   body="{greeting}您好，好久不见"))


@pytest.mark.parametrize("change", [
    _new_dormant_and_run, _reassign_colleagues_customer, _visit, _care_note, _rename,
    _bulk_update, _bulk_update_by_key, _bulk_insert_contact, _item_done, _item_deleted,
    _store_text])
def test_every_write_path_gives_her_a_new_etag_at_once(app, world, day, change):
    mine, _theirs = day
    before = _etag(mine)
    _changes(app, world, change)
    assert _etag(mine) != before


def test_a_setting_moves_every_page_of_the_store_on(app, world, day):
    mine, theirs = day
    before, colleague = _etag(mine), _etag(theirs)
    _write(app, lambda: setattr(load(Store, world.store1), "daily_contact_target", 1))
    assert _etag(mine) != before and _etag(theirs) != colleague


def test_a_write_rolled_back_moves_nothing(app, world, day):
    mine, _theirs = day
    before = _etag(mine)
    with app.app_context():
        _rename(world)
        db.session.flush()
        db.session.rollback()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(PageVersion)) >= 0
    assert _etag(mine) == before


def test_more_and_past_days_and_the_owners_list(app, world, day, login):
    mine, _theirs = day
    with app.app_context():
        yesterday = (load(Store, world.store1).today() - timedelta(days=1)).isoformat()
    paths = ["/tasks/today/more", f"/tasks/{yesterday}"]
    before = {p: _etag(mine, p) for p in paths}
    owner = login("owner")
    owners = _etag(owner)
    _write(app, lambda: setattr(load(Store, world.store1), "daily_contact_target", 2))
    assert all(_etag(mine, p) != before[p] for p in paths)
    assert _etag(owner) != owners
    owners = _etag(owner)
    _write(app, lambda: setattr(load(Store, world.store2), "daily_contact_target", 2))
    assert _etag(owner) != owners  # her list spans every store


def test_language_switch_changes_the_page(app, world, day):
    mine, _theirs = day
    mine.post("/lang", data={"locale": "en", "next": TODAY})
    english = _get(mine)
    mine.post("/lang", data={"locale": "zh_Hans", "next": TODAY})
    chinese = _get(mine)
    assert english.headers["ETag"] != chinese.headers["ETag"]
    assert "Red flags for today" in english.get_data(as_text=True)
    assert "Red flags for today" not in chinese.get_data(as_text=True)
    assert 'lang="en"' in english.get_data(as_text=True)


def _csrf(page):
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def test_a_reused_page_carries_this_sessions_csrf_token_and_no_stale_flash(app, world, day,
                                                                             login):
    first, _theirs = day
    second = login("beautician1")  # the same staff member on another phone
    a, b = _get(first), _get(second)
    assert a.headers["ETag"] != b.headers["ETag"]  # a browser's copy is its session's
    token_a, token_b = _csrf(a.get_data(as_text=True)), _csrf(b.get_data(as_text=True))
    assert token_a != token_b
    with app.test_request_context():
        from flask import session as flask_session
        from itsdangerous import URLSafeTimedSerializer

        serializer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")
        assert serializer.loads(token_a) != serializer.loads(token_b)
        assert flask_session is not None
    assert "kq-csrf-placeholder" not in a.get_data(as_text=True)
    # A flash shows once, on a page rendered for it, and never again from a kept copy.
    with first.session_transaction() as s:
        s["_flashes"] = [("info", "一次性消息")]
    flashed = _get(first)
    assert "一次性消息" in flashed.get_data(as_text=True)
    assert "ETag" not in flashed.headers
    assert "一次性消息" not in _get(first).get_data(as_text=True)


def test_page_cache_off_renders_every_time(make_app, world, login):
    app = make_app(PAGE_CACHE=False)
    client = login("beautician1", client=app.test_client())
    response = _get(client)
    assert "ETag" not in response.headers
    assert response.headers["Cache-Control"] == "private, no-cache"


# ------------------------------------------------------------------------------------------
# Two worker processes on the same database: a write through one is seen through the other.

def make_wsgi():
    """gunicorn's app factory for the test below (tests.test_today_cache:make_wsgi())."""
    from kq import create_app
    from kq.config import TestConfig

    config = TestConfig(os.environ["KQ_LIVE_DATABASE_URL"])
    config.SECRET_KEY = os.environ["KQ_LIVE_SECRET"]
    return create_app(config)


def _serve(database_url, secret):
    port = _free_port()
    env = {**os.environ, "KQ_LIVE_DATABASE_URL": database_url, "KQ_LIVE_SECRET": secret,
           "KQ_INSTANCE_DIR": os.environ.get("KQ_INSTANCE_DIR") or "/tmp/kq-live-instance"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
         "tests.test_today_cache:make_wsgi()"], env=env, cwd=os.path.dirname(
            os.path.dirname(os.path.abspath(__file__))),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def _up(base, process):
    import requests

    for _ in range(300):
        if process.poll() is not None:
            pytest.fail("gunicorn stopped: " + process.stderr.read().decode()[-2000:])
        try:
            requests.get(base + "/login", timeout=30)
            return
        except requests.RequestException:
            time.sleep(0.1)
    pytest.fail("gunicorn did not answer")


def test_two_processes_see_each_others_writes_at_once(app, world, day, database_url):
    requests = pytest.importorskip("requests")
    secret = "live-" + uuid.uuid4().hex
    servers = [_serve(database_url, secret) for _ in range(2)]
    try:
        for process, base in servers:
            _up(base, process)
        (_pa, a), (_pb, b) = servers
        http = requests.Session()
        signed_in = http.post(a + "/login", data={"username": "beautician1",
                                                  "password": PASSWORD},
                              allow_redirects=False)
        assert signed_in.status_code == 302
        first_a = http.get(a + TODAY)
        first_b = http.get(b + TODAY)  # the same session cookie: the other process knows it
        assert first_a.status_code == first_b.status_code == 200
        assert first_a.headers["ETag"] == first_b.headers["ETag"]
        assert http.get(b + TODAY, headers={"If-None-Match": first_b.headers["ETag"]}
                        ).status_code == 304
        task = _task_of(app, world.users["beautician1"], "沉睡甲")
        with app.app_context():
            customer = db.session.scalar(db.select(Customer.id).where(
                Customer.greeting_name == "沉睡甲"))
        logged = http.post(a + "/calls/log", data={
            "customer_id": customer, "task_id": task, "channel": "phone", "outcome": "reached",
            "client_id": str(uuid.uuid4()), "next": "/"}, allow_redirects=False)
        assert logged.status_code == 302
        http.get(b + "/more")  # the flash of the log shows there
        changed = http.get(b + TODAY, headers={"If-None-Match": first_b.headers["ETag"]})
        assert changed.status_code == 200
        assert changed.headers["ETag"] != first_b.headers["ETag"]
        assert re.search(r'id="t%d"[^>]*data-state="done"' % task, changed.text)
        assert http.get(a + TODAY).headers["ETag"] == changed.headers["ETag"]
    finally:
        for process, _base in servers:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        with app.app_context():
            db.session.remove()
