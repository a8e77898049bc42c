"""What goes over the wire (kq.assets): text responses compressed as Accept-Encoding asks
(brotli, gzip, or not at all), Vary set, nothing compressed that is tiny or compressed already;
static files under fingerprinted names, cached for a year and compressed ahead."""
import gzip
import re
from pathlib import Path

import brotli
import pytest

STATIC = Path(__file__).resolve().parent.parent / "kq" / "static"


def _decode(response):
    body = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(body)
    if encoding == "gzip":
        return gzip.decompress(body)
    assert encoding is None, encoding
    return body


@pytest.mark.parametrize("path", ["/offline", "/login"])
def test_accept_encoding_is_honoured(client, path):
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert len(plain.get_data()) >= 500
    for asked, expected in (("br", "br"), ("gzip", "gzip"), ("gzip, deflate, br", "br"),
                            ("gzip;q=1.0, br;q=0", "gzip")):
        response = client.get(path, headers={"Accept-Encoding": asked})
        assert response.headers.get("Content-Encoding") == expected, asked
        assert "accept-encoding" in response.headers["Vary"].lower()
        assert len(response.get_data()) < len(plain.get_data())
        # the same page (the CSRF token differs per request on the sign-in page)
        strip = re.compile(rb'content="[^"]{40,}"|value="[^"]{40,}"')
        assert strip.sub(b"", _decode(response)) == strip.sub(b"", plain.get_data())
    assert "accept-encoding" in plain.headers["Vary"].lower()


def test_tiny_responses_are_not_compressed(client):
    response = client.get("/healthz", headers={"Accept-Encoding": "br, gzip"})
    assert len(response.get_data()) < 500
    assert "Content-Encoding" not in response.headers


def test_images_and_spreadsheets_are_not_compressed_again(app, world, login):
    client = login("beautician1")
    with app.test_request_context():
        from flask import url_for

        icon = url_for("static", filename="icons/icon-192.png")
    response = client.get(icon, headers={"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == (STATIC / "icons" / "icon-192.png").read_bytes()
    sheet = client.get("/tasks/export?format=xlsx", headers={"Accept-Encoding": "br, gzip"})
    if sheet.status_code == 404:  # the export names its day in the path
        sheet = client.get(re.search(r'href="([^"]*format=xlsx)"', client.get(
            "/tasks/today").get_data(as_text=True)).group(1).replace("&amp;", "&"),
            headers={"Accept-Encoding": "br, gzip"})
    assert sheet.status_code == 200
    assert "Content-Encoding" not in sheet.headers
    assert sheet.get_data()[:2] == b"PK"


def test_today_compressed_is_the_page_with_her_token(app, world, login):
    client = login("beautician1")
    plain = client.get("/tasks/today", headers={"Accept-Encoding": "identity"})
    first = client.get("/tasks/today", headers={"Accept-Encoding": "br"})
    again = client.get("/tasks/today", headers={"Accept-Encoding": "br"})
    assert first.headers["Content-Encoding"] == "br"
    assert first.get_data() == again.get_data()  # compressed once, kept
    assert _decode(first) == plain.get_data()
    assert first.headers["ETag"] == plain.headers["ETag"]
    zipped = client.get("/tasks/today", headers={"Accept-Encoding": "gzip"})
    assert _decode(zipped) == plain.get_data()


def _asset(page, name):
    found = re.search(r'(/static/%s\.([0-9a-f]{10})%s)"' % tuple(
        re.escape(part) for part in name.rsplit(".", 1)[0:1] + ["." + name.rsplit(".", 1)[1]]),
        page)
    assert found, name
    return found.group(1), found.group(2)


def test_static_files_have_fingerprinted_names_cached_for_a_year(client):
    page = client.get("/login").get_data(as_text=True)
    url, digest = _asset(page, "css/app.css")
    import hashlib

    content = (STATIC / "css" / "app.css").read_bytes()
    assert digest == hashlib.sha256(content).hexdigest()[:10]
    for asked, encoding in (("br", "br"), ("gzip", "gzip"), ("identity", None)):
        response = client.get(url, headers={"Accept-Encoding": asked})
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers.get("Content-Encoding") == encoding
        assert "accept-encoding" in response.headers["Vary"].lower()
        assert _decode(response) == content
        assert response.mimetype == "text/css"
        again = client.get(url, headers={"Accept-Encoding": asked,
                                         "If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304
    script, _ = _asset(page, "js/app.js")
    assert client.get(script).status_code == 200


def test_an_old_or_wrong_hash_is_not_cached_for_a_year(client):
    old = client.get("/static/css/app.0123456789.css")
    assert old.status_code == 200
    assert "immutable" not in old.headers["Cache-Control"]
    assert old.headers["Cache-Control"] == "no-cache"
    plain = client.get("/static/css/app.css")
    assert plain.status_code == 200 and "immutable" not in plain.headers["Cache-Control"]
    assert client.get("/static/css/nothing.0123456789.css").status_code == 404
    assert client.get("/static/css/nothing.css").status_code == 404
    assert client.get("/static/../config.py").status_code == 404


def test_static_files_carry_no_session_cookie_and_do_not_vary_on_it(app, world, login):
    """A year-long public file is not the place for her session cookie: a shared cache could
    keep it, and it is bytes on every file of a first load. Pages still renew it."""
    client = login("beautician1")
    with app.test_request_context():
        from flask import url_for

        paths = [url_for("static", filename=name)
                 for name in ("css/app.css", "js/app.js", "icons/icon-192.png")]
    for path in paths + ["/manifest.webmanifest", "/sw.js"]:
        response = client.get(path, headers={"Accept-Encoding": "br, gzip"})
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
        # the browser's cache keeps the file although the cookie changes on every page
        assert "cookie" not in response.headers.get("Vary", "").lower(), path
    page = client.get("/tasks/today")
    assert page.status_code == 200
    assert "session=" in page.headers.get("Set-Cookie", "")
    # the plain (unfingerprinted) name, as the service worker asks for it, too
    assert "Set-Cookie" not in client.get("/static/css/app.css").headers


def test_a_signed_in_request_reads_her_account_and_sign_in_in_one_query(app, world, login):
    """load_user runs on every signed-in request: one statement for the account and its
    sign-in row, and a signed-out cookie copy is still refused."""
    from sqlalchemy import event

    from kq.extensions import db

    client = login("beautician1")
    seen = []

    def count(conn, cursor, statement, *args):
        if "user_sessions" in statement:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/healthz").status_code == 200
        seen.clear()
        assert client.get("/customers/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1, reads
    assert "users" in reads[0]
    # her store came with it: Today (its day made already) asks for no store of its own
    assert client.get("/tasks/today").status_code == 200
    stores = []

    def count_stores(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and \
                re.search(r"\bFROM stores\b", statement):
            stores.append(statement)

    event.listen(engine, "before_cursor_execute", count_stores)
    try:
        assert client.get("/tasks/today").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count_stores)
    assert stores == [], stores


def test_the_layouts_static_urls_are_url_fors(app, tmp_path):
    """base.html names its files with static_url (kept per file and hash): the same URL as
    url_for('static'), also under a script root, and a changed file gets its new name."""
    from flask import url_for

    from kq.assets import static_url

    names = ("css/app.css", "js/app.js", "icons/icon-192.png", "no-such.css", "../app.py", "css")
    for root in ("", "/kq"):
        with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": root}):
            for name in names:
                assert static_url(name) == static_url(name) == url_for("static", filename=name)
            assert static_url("css/app.css").startswith(root + "/static/css/app.")
    (tmp_path / "a.css").write_text("a {}")
    app.static_folder = str(tmp_path)
    with app.test_request_context("/"):
        before = static_url("a.css")
        (tmp_path / "a.css").write_text("b { color: red }")
        after = static_url("a.css")
        assert before != after == url_for("static", filename="a.css")
