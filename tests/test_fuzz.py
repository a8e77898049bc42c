"""Fuzz every route (issue 17, finding 5): property-based requests over every rule in
app.url_map — read when the test runs, so a new route is fuzzed without a line here — as a
manager and as a beautician, GET and POST, with fuzzed path parameters, query strings, form
fields and JSON bodies. No answer is a 500, and no text with a NUL or another control character
reaches a row (PostgreSQL refuses NUL: there it would have been a 500 as well).

Bounded: FUZZ_EXAMPLES requests per role (default 250; the whole test stays well under 90 s on
SQLite). With CI=true the examples are derandomized, so a failure in CI is the same failure on a
developer's machine; elsewhere each run explores new inputs. Hypothesis keeps no example
database in the work tree. A failure shows the request and the server's traceback."""
import json
import os
import re
import traceback
from pathlib import Path

import pytest
from flask import got_request_exception
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from wtforms.fields.core import UnboundField

from kq.extensions import db, queue
from kq.models import User
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))
IS_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

settings.register_profile(
    "kq-fuzz", max_examples=EXAMPLES, deadline=None, derandomize=IS_CI, database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink) if not IS_CI
    else (Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck), print_blob=True)

# Routes whose purpose is to end the fuzzing session; they are tested in test_auth.
SKIP = {"auth.logout"}
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

NASTY = [
    "", " ", "\u3000", "\x00", "a\x00b", "\x07", "\x1b[31m", "\ud800", "\udfff", "\t\r\n",
    "0", "-1", "1", "2", "3", str(2**31 - 1), str(2**31), str(2**63 - 1), str(2**63),
    str(2**64 + 5), "-" + str(2**63), "9" * 30, "9" * 5000, "1e400", "-1e400", "NaN", "inf",
    "1.5", "0x10", "١٢", "２", "true", "null", "[]", "{}", "2026-02-30", "2026-01-05",
    "0001-01-01", "9999-12-31", "today", "13812345678", "+8613812345678", "x" * 300,
    "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "%00", "梁小娟",
    "phone", "reached", "csv", "xlsx", "pdf", "en", "zh_Hant", "manager", "beautician",
]


def _field_names():
    """Every field any form declares, and every name a view reads from args or form."""
    from flask_wtf import FlaskForm

    names = set()
    todo = list(FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        names.update(n for n in dir(cls) if isinstance(getattr(cls, n, None), UnboundField))
    for path in (ROOT / "kq").rglob("*.py"):
        names.update(re.findall(r"request\.(?:args|form|values)\.get(?:list)?\(\s*\"(\w+)\"",
                                path.read_text(encoding="utf-8")))
    names.update({"id", "page", "q", "format", "customer_id", "task_id", "store_id", "staff",
                  "next", "kind", "day", "lang", "action"})
    return sorted(names)


texts = st.one_of(st.sampled_from(NASTY), st.text(max_size=12),
                  st.integers(min_value=-(2**70), max_value=2**70).map(str))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70),
                                                               max_value=2**70),
                         st.floats(allow_nan=False), texts)


def _json(names):
    return st.recursive(json_scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(names) | st.text(max_size=5), inner, max_size=4)),
        max_leaves=8)


def _path(rule, ids):
    """The rule's URL with each parameter drawn: a real id, an odd one, or any text."""
    parts = {}
    for converter, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule.rule):
        if converter == "int":
            parts[name] = st.one_of(st.sampled_from(ids), st.integers(-3, 2**70),
                                    st.sampled_from(["0", "9" * 40]))
        elif converter == "path":
            parts[name] = st.one_of(st.just("css/app.css"), texts)
        else:
            parts[name] = texts
    return st.fixed_dictionaries(parts).map(lambda values: _fill(rule.rule, values))


def _fill(template, values):
    from urllib.parse import quote

    def one(match):
        value = str(values[match.group(2)])
        return quote(value.encode("utf-8", "surrogatepass"), safe="")
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", one, template)


def _encode(pairs):
    from urllib.parse import urlencode

    return urlencode(pairs, encoding="utf-8", errors="surrogatepass")


@st.composite
def requests_(draw, rules, ids, names):
    rule = draw(st.sampled_from(rules))
    methods = sorted(rule.methods & {"GET", "POST"})
    method = draw(st.sampled_from(methods))
    path = draw(_path(rule, ids))
    pairs = draw(st.lists(st.tuples(st.sampled_from(names), texts), max_size=5))
    query = _encode(pairs) if draw(st.booleans()) else ""
    body = {}
    if method == "POST":
        kind = draw(st.sampled_from(["form", "form", "json", "raw", "none"]))
        if kind == "form":
            form = draw(st.lists(st.tuples(st.sampled_from(names), texts), max_size=8))
            body = {"data": _encode(form), "content_type": "application/x-www-form-urlencoded"}
        elif kind == "json":
            payload = draw(_json(names))
            body = {"data": json.dumps(payload, ensure_ascii=True),
                    "content_type": "application/json"}
        elif kind == "raw":
            body = {"data": draw(st.sampled_from([
                b"[" * 5000, b'{"a": ' * 5000, b"\xff\xfe", b'{"x": 1' + b"0" * 400 + b"}",
                b'{"name": "\\ud800"}', b'{"customer_id": NaN}', b"a=%00&b=%ED%A0%80"])),
                "content_type": draw(st.sampled_from(["application/json",
                                                      "application/x-www-form-urlencoded"]))}
    return method, path, query, body


def _sign_in(app, username):
    """A client signed in as the user, made active with the test password again first (a
    fuzzed request may have deactivated her or reset her password)."""
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        if not user.active or not user.check_password(PASSWORD):
            user.active = True
            user.set_password(PASSWORD)
            db.session.commit()
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, f"sign-in as {username} failed"
    return client


def _control_chars_stored():
    found = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(db.select(table)).mappings():
            for column, value in row.items():
                if isinstance(value, str) and CONTROL.search(value.replace("\t", " ")
                                                             .replace("\n", " ")
                                                             .replace("\r", " ")):
                    found.append((table.name, column, value[:40]))
    return found


@pytest.fixture
def app(make_app):
    return make_app(PROPAGATE_EXCEPTIONS=False)


@pytest.mark.parametrize("username", ["manager", "beautician1"])
def test_no_fuzzed_request_to_any_route_is_a_500_or_stores_a_control_character(
        app, world, username):
    rules = sorted((r for r in app.url_map.iter_rules()
                    if r.endpoint not in SKIP and r.methods & {"GET", "POST"}),
                   key=lambda r: (r.rule, sorted(r.methods)))
    assert len(rules) > 60
    ids = sorted({*world.customers.values(), *world.users.values(), world.store1,
                  world.store2, 1, 2})
    names = _field_names()
    failures = []

    def record(sender, exception, **extra):
        failures.append("".join(traceback.format_exception(exception))[-3000:])

    got_request_exception.connect(record, app)
    session = {"client": _sign_in(app, username)}

    @settings(settings.get_profile("kq-fuzz"))
    @given(requests_(rules, ids, names))
    def one_request(req):
        method, path, query, body = req
        failures.clear()
        client = session["client"]
        response = client.open(path, method=method, query_string=query or None, **body)
        assert response.status_code < 500, (method, path, query, body.get("data", b"")[:300],
                                            response.status_code, failures)
        if response.status_code in (302, 401) and "/login" in response.headers.get(
                "Location", "") and not path.startswith("/login"):
            session["client"] = _sign_in(app, username)  # signed out by what it fuzzed

    try:
        one_request()
    finally:
        got_request_exception.disconnect(record, app)
        with app.app_context():
            queue.wait(60)  # reports asked for in passing finish before the tables go
    with app.app_context():
        assert _control_chars_stored() == []
