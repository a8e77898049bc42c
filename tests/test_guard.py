"""Bad input is a 4xx naming the field, never a 500 (issue 17, finding 5): ids of 2^63 and
more in URLs, query strings, forms and JSON; a name of one space; a lone surrogate, 5,000-deep
nesting or 10^400 in JSON; NUL and other control characters in every text a form sends — on
SQLite and PostgreSQL alike (PostgreSQL refuses NUL outright)."""
import re
import uuid

import pytest

from kq.extensions import db
from kq.guard import MAX_JSON_DEPTH

HUGE = 2**63
EN = {"Accept-Language": "en"}


@pytest.fixture
def app(make_app):
    """Errors answer as in production (a 500 page), not raised into the test."""
    return make_app(PROPAGATE_EXCEPTIONS=False)


def _text_cells():
    """Every text value stored in any table: (table, column, value)."""
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(db.select(table)).mappings():
            for column, value in row.items():
                if isinstance(value, str):
                    yield table.name, column, value


def _control_chars_stored(app):
    with app.app_context():
        return [(t, c, v) for t, c, v in _text_cells()
                if re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]", v)]


def _form_fields(client, path):
    """The named fields of the form on a page, with their shown values (selects: the first
    option), so that one field at a time can be spoiled."""
    html = client.get(path).get_data(as_text=True)
    fields = {}
    for tag in re.findall(r"<(?:input|textarea|select)\b[^>]*>", html):
        name = re.search(r'\bname="([^"]+)"', tag)
        if not name or name.group(1) == "csrf_token":
            continue
        if re.search(r'type="(?:checkbox|radio)"', tag) and "checked" not in tag:
            continue
        value = re.search(r'\bvalue="([^"]*)"', tag)
        fields.setdefault(name.group(1), value.group(1) if value else "")
    for name, first in re.findall(r'<select\b[^>]*name="([^"]+)"[^>]*>\s*<option[^>]*value="([^"]*)"',
                                  html):
        fields[name] = fields.get(name) or first
    return fields


# --- ids no row can have ------------------------------------------------------------------

@pytest.mark.parametrize("ident", [str(2**31), str(HUGE), str(2**64 + 5), "9" * 400])
def test_ids_past_any_column_in_the_url_are_404(app, login, world, ident):
    client = login("manager")
    mine = world.customers["mine"]
    for path in (f"/customers/{ident}", f"/customers/{mine}/cards/{ident}",
                 f"/gifts/{ident}", f"/reports/{ident}/status", f"/manager/staff/{ident}"):
        assert client.get(path).status_code == 404, path
    for path in (f"/customers/{mine}/cards/{ident}/close", f"/manager/ledger/{ident}/void",
                 f"/gifts/handouts/{ident}/cancel", f"/manager/undo/{ident}"):
        assert client.post(path, data={}).status_code == 404, path


@pytest.mark.parametrize("ident", [str(2**31), str(HUGE), "9" * 5000])
def test_ids_past_any_column_in_query_strings_and_forms_are_404(app, login, world, ident):
    client = login("manager")
    for path in (f"/calls/?customer_id={ident}", f"/calls/log?customer_id={ident}",
                 f"/calls/log?customer_id={world.customers['mine']}&task_id={ident}",
                 f"/gifts/give/{world.customers['mine']}?gift_id={ident}"):
        assert client.get(path).status_code == 404, path
    response = client.post("/tasks/store", data={"store_id": ident})
    assert response.status_code == 404


def test_a_number_no_column_holds_in_any_query_field_is_422_naming_it(app, login, world):
    client = login("manager")
    for path in (f"/customers/?page={HUGE}", f"/tasks/today/more?page={HUGE}",
                 f"/tasks/export?staff={HUGE}", f"/manager/dormant?page={10**400}"):
        response = client.get(path, headers=EN)
        assert response.status_code == 422, path
        assert "too large" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", [HUGE, -HUGE, 10**400, 2**31])
def test_json_ids_past_any_column_are_422_naming_the_field(app, login, world, value):
    client = login("beautician1")
    response = client.post("/api/contacts", json={
        "customer_id": value, "channel": "phone", "outcome": "reached",
        "client_id": str(uuid.uuid4())})
    assert response.status_code == 422
    assert "customer_id" in response.get_json()["errors"]


def test_json_sent_to_a_page_form_is_read_as_text_fields_or_refused(app, login, world):
    """Flask-WTF reads a JSON object as the form: a number where text goes was a TypeError."""
    client = login("manager")
    for body in ({"name": HUGE, "phone": "13811112222"}, {"name": 10**400},
                 {"name": ["a", 1]}, {"name": {"a": "b"}}, [1, 2], "text"):
        response = client.post("/customers/new", json=body)
        assert response.status_code == 422, body
    assert client.post("/customers/new", json={"name": " ", "phone": "13811112222"}
                       ).status_code == 422


# --- text ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path,fields", [
    ("/customers/new", {"name": " ", "phone": "13811112222"}),
    ("/customers/new", {"name": "\u3000", "phone": "13811112222"}),
    ("/gifts/new", {"name": " ", "face_value": "10", "unit_cost": "5", "quantity": "3"}),
    ("/manager/staff/new", {"username": "newbie", "display_name": " ",
                            "password": "a-long-pass-phrase", "role": "beautician"}),
])
def test_a_name_of_one_space_is_422_required(app, login, world, path, fields):
    client = login("manager")
    before = _count_rows(app)
    response = client.post(path, data=fields, headers=EN)
    assert response.status_code == 422
    assert _count_rows(app) == before


def _count_rows(app):
    with app.app_context():
        return sum(db.session.scalar(db.select(db.func.count()).select_from(t))
                   for t in db.metadata.sorted_tables)


@pytest.mark.parametrize("raw", [
    '{"name": "a\\ud800b", "phone": "13811112222"}',
    '{"name": "\\udfff", "phone": "13811112222"}',
    '{"name": "a\\u0000b", "phone": "13811112222"}',
    '{"name": "a\\u0007b", "phone": "13811112222"}',
])
def test_lone_surrogates_and_control_characters_in_json_are_422_naming_the_field(
        app, login, world, raw):
    client = login("manager")
    for path in ("/customers/new", "/api/contacts"):
        response = client.post(path, data=raw, content_type="application/json", headers=EN)
        assert response.status_code == 422, path
        assert "name" in response.get_json()["errors"]
    assert _control_chars_stored(app) == []


@pytest.mark.parametrize("raw", [
    "[" * 5000 + "]" * 5000,
    '{"a": ' * 5000 + "1" + "}" * 5000,
    '{"name": ' + "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1) + "}",
    '{"customer_id": 1' + "0" * 400 + "}",
    '{"satisfaction": 1e400}', '{"satisfaction": -1e400}', '{"satisfaction": NaN}',
    '{"satisfaction": Infinity}',
    '{"notes": "' + "x" * (1024 * 1024 + 1) + '"}',
])
def test_deep_huge_or_not_finite_json_is_422_everywhere(app, login, world, raw):
    client = login("manager")
    for path in ("/api/contacts", "/customers/new", f"/customers/{world.customers['mine']}/edit",
                 "/manager/settings", "/lang"):
        response = client.post(path, data=raw, content_type="application/json", headers=EN)
        assert response.status_code == 422, (path, response.status_code)
        assert response.get_json()["error"] == "invalid"


def test_brackets_inside_json_strings_are_not_nesting(app, login, world):
    client = login("beautician1")
    response = client.post("/api/contacts", json={
        "customer_id": world.customers["mine"], "channel": "phone", "outcome": "reached",
        "client_id": str(uuid.uuid4()), "notes": "[[[{{{" * 100 + '\\"]'})
    assert response.status_code == 201


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f"])
def test_control_characters_in_a_form_field_are_422_naming_it(app, login, world, char):
    client = login("beautician1")
    path = f"/customers/{world.customers['mine']}/care-notes/new"
    fields = _form_fields(client, path)
    fields["feedback"] = f"她说{char}好"
    response = client.post(path, data=fields, headers=EN)
    assert response.status_code == 422
    assert "feedback" in response.get_data(as_text=True)
    assert _control_chars_stored(app) == []


def test_tabs_and_line_breaks_are_text(app, login, world):
    client = login("beautician1")
    path = f"/customers/{world.customers['mine']}/care-notes/new"
    fields = _form_fields(client, path)
    fields["feedback"] = "第一行\r\n第二行\t完"
    response = client.post(path, data=fields)
    assert response.status_code in (200, 302, 303), response.status_code


def test_control_characters_in_the_query_string_are_422_and_in_the_path_404(app, login, world):
    client = login("manager")
    response = client.get("/customers/?q=%E6%9D%8E%00", headers=EN)
    assert response.status_code == 422 and "q" in response.get_data(as_text=True)
    assert client.get("/tasks/2026-01-01%00").status_code == 404
    assert client.get("/static/css%00/app.css").status_code == 404


def _form_pages(app, world):
    """Every GET+POST page of the app whose GET shows a form, with its URL filled in."""
    ids = {"customer_id": world.customers["mine"]}
    pages = []
    for rule in app.url_map.iter_rules():
        if not {"GET", "POST"} <= rule.methods or rule.endpoint.startswith("auth."):
            continue
        params = re.findall(r"<(?:\w+:)?(\w+)>", rule.rule)
        if any(p not in ids for p in params):
            continue
        pages.append(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule.rule))
    return sorted(pages)


@pytest.mark.parametrize("char", ["\x00", "\x01"])
def test_nul_and_controls_in_every_text_field_of_every_form_never_reach_a_row(
        app, login, world, char):
    """Each field of each form in turn carries the character, the others their shown values:
    no 500 (PostgreSQL refuses NUL in text), and nothing with it is stored."""
    client = login("manager")
    tried = 0
    for path in _form_pages(app, world):
        fields = _form_fields(client, path)
        for name in fields:
            spoiled = dict(fields, **{name: f"{fields[name] or 'x'}{char}y"})
            response = client.post(path, data=spoiled)
            assert response.status_code < 500, (path, name)
            assert response.status_code == 422, (path, name, response.status_code)
            tried += 1
    assert tried > 30
    assert _control_chars_stored(app) == []


def test_a_view_marked_accepts_json_gets_numbers_and_nesting_within_the_limits(app, login,
                                                                            world):
    from flask import jsonify, request

    from kq.guard import accepts_json

    app.add_url_rule("/_json", "json_echo", accepts_json(lambda: jsonify(request.get_json())),
                     methods=["POST"])
    app.add_url_rule("/_form", "form_echo", lambda: "form", methods=["POST"])
    client = login("manager")
    body = {"customer_id": 5, "flags": [True, None], "nested": {"a": [1.5]}}
    assert client.post("/_json", json=body).get_json() == body
    assert client.post("/_form", json=body).status_code == 422
    assert client.post("/_form", json={"name": "ok", "tags": ["a", "b"]}).status_code == 200
    assert client.post("/_json", json={"customer_id": HUGE}).status_code == 422


def test_text_reaching_a_row_by_another_way_loses_its_control_characters(app, world):
    """The last line of defence (kq.extensions): an import or a command writes no control
    character either; tabs and line breaks stay."""
    from kq.models import Customer

    with app.app_context():
        customer = db.session.get(Customer, world.customers["mine"])
        customer.name = "梁\x07小\x1b娟\x00"
        customer.notes = "第一行\r\n第二行\t完\x7f"
        db.session.commit()
        db.session.expire_all()
        customer = db.session.get(Customer, world.customers["mine"])
        assert (customer.name, customer.notes) == ("梁小娟", "第一行\r\n第二行\t完")


def test_a_view_that_aborts_422_answers_in_the_users_language(app, login, world):
    from flask import abort

    app.add_url_rule("/_bad", "bad", lambda: abort(422))
    client = login("manager")
    page = client.get("/_bad")
    assert page.status_code == 422 and "请检查填写的内容" in page.get_data(as_text=True)
    assert client.get("/_bad", headers={"Accept": "application/json"}).get_json()["error"]


def test_a_wechat_id_that_is_a_phone_number_is_text_not_an_id(app, login, world):
    client = login("manager")
    path = f"/customers/{world.customers['mine']}/edit"
    fields = _form_fields(client, path)
    fields["wechat_id"] = "13812345678"
    response = client.post(path, data=fields)
    assert response.status_code in (302, 303), response.status_code
    with app.app_context():
        from kq.models import Customer

        assert db.session.get(Customer, world.customers["mine"]).wechat_id == "13812345678"
