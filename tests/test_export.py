"""Exports (SPEC §10, §11): each list's file by value in CSV (UTF-8 with BOM) and .xlsx, its
filters, phones as the user may see them, formula cells neutralised, one audit event per file,
who may export what, and never another store's rows."""
import codecs
import csv
import io
import uuid
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from kq.extensions import db
from kq.models import (AuditEvent, Complaint, ComplaintStep, Contact, Customer, CustomerTag,
                       LedgerEntry, Store, User)
from kq.services import exporting
from kq.services import gifts as gift_service
from kq.services.customers import refresh_search_keys
from tests.factories import CustomerFactory
from tests.helpers import at, load

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
CUSTOMER_HEADER = ["Name", "Greeting name", "Phone", "Status", "Key customer", "Tier",
                   "Visit frequency", "Looked after by", "Last visit", "Days since last visit",
                   "Visits", "Total spent (yuan)", "Points", "Tags"]


def csv_rows(response):
    assert response.status_code == 200, response.status_code
    assert response.content_type == "text/csv; charset=utf-8"
    body = response.get_data()
    assert body.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def xlsx_rows(response):
    assert response.status_code == 200, response.status_code
    assert response.mimetype == exporting.XLSX_TYPE
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()], sheet


def by_first(rows):
    return {row[0]: row for row in rows[1:] if row and row[0]}


def exports(app):
    with app.app_context():
        return [(e.user_id, e.store_id, e.detail) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id))]


def _today(world):
    return load(Store, world.store1).today()


def _shape_customers(app, world):
    """Her own customer 40 days unseen with money, a tag and a tier; the colleague's seen
    5 days ago."""
    with app.app_context():
        today = _today(world)
        mine = load(Customer, world.customers["mine"])
        mine.last_visit_at, mine.visit_count, mine.total_spent_fen = \
            at(today - timedelta(days=40), 15), 3, 128050
        mine.tier, mine.is_key, mine.points_balance = "A", True, 64
        db.session.add(CustomerTag(store_id=world.store1, customer_id=mine.id, name="VIP"))
        colleague = load(Customer, world.customers["colleague"])
        colleague.last_visit_at, colleague.visit_count = at(today - timedelta(days=5), 11), 1
        for customer in (mine, colleague):
            refresh_search_keys(customer)
        db.session.commit()
        return today


# The customer list ---------------------------------------------------------------------------

def test_customer_list_as_csv_for_the_manager_by_value(app, login, world):
    today = _shape_customers(app, world)
    response = login("manager").get("/customers/?format=csv", headers=EN)
    rows = csv_rows(response)
    assert rows[0] == CUSTOMER_HEADER
    assert len(rows) == 3  # the header and this store's two; never 赵敏 of the other store
    got = by_first(rows)
    assert got["梁小娟"] == ["梁小娟", "梁小姐", "13812345678", "Dormant", "Key", "A", "",
                          load_staff_name(app, world, "beautician1"),
                          (today - timedelta(days=40)).isoformat(), "40", "3", "1280.50", "64",
                          "VIP"]
    assert got["王芳"][2:4] == ["13900001111", "Active"]  # the manager may see every number
    assert got["王芳"][9:12] == ["5", "1", "0.00"]
    assert [r[0] for r in rows[1:]] == ["梁小娟", "王芳"]  # the page's order: longest unseen
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert f'filename="keqing-customers-{today.isoformat()}.csv"' in disposition
    assert f"filename*=UTF-8''{quote(f'一店 Customers {today.isoformat()}.csv', safe='')}" \
        in disposition
    assert response.headers["Cache-Control"] == "no-store"


def test_customer_list_as_xlsx_in_chinese_with_numbers_and_dates(app, login, world):
    today = _shape_customers(app, world)
    response = login("manager").get("/customers/?format=xlsx&sort=name", headers=ZH)
    rows, sheet = xlsx_rows(response)
    assert rows[0][:4] == ["姓名", "称呼", "电话", "状态"]
    assert rows[0][11] == "累计消费（元）"
    mine = by_first(rows)["梁小娟"]
    assert mine[1] == "梁小姐" and mine[3] == "沉睡"
    assert mine[8] == datetime.combine(today - timedelta(days=40), datetime.min.time())
    assert (mine[9], mine[10], mine[11], mine[12]) == (40, 3, 1280.5, 64)
    assert sheet["L2"].number_format == "#,##0.00" and sheet["I2"].number_format == "yyyy-mm-dd"
    assert "filename*=UTF-8''" + quote(f"一店 顾客 {today.isoformat()}.xlsx", safe="") in \
        response.headers["Content-Disposition"]


def test_a_beautician_exports_only_her_own_customers(app, login, world):
    _shape_customers(app, world)
    client = login("beautician1")
    got = by_first(csv_rows(client.get("/customers/?format=csv", headers=EN)))
    assert set(got) == {"梁小娟"}  # not her colleague's 王芳, not the other store's
    assert got["梁小娟"][2] == "13812345678"  # her own customer: the whole number
    managed = by_first(csv_rows(login("manager").get("/customers/?format=csv", headers=EN)))
    assert set(managed) == {"梁小娟", "王芳"}
    rows, _sheet = xlsx_rows(client.get("/customers/?format=xlsx&staff=me", headers=EN))
    assert [r[:3] for r in rows[1:]] == [["梁小娟", "梁小姐", "13812345678"]]


@pytest.mark.parametrize("query,names", [
    ("q=王芳", {"王芳"}),
    ("q=lxj", {"梁小娟"}),
    ("staff=none", set()),
    ("status=dormant", {"梁小娟"}),
    ("status=active", {"王芳"}),
    ("key=key", {"梁小娟"}),
    ("tier=A", {"梁小娟"}),
    ("tag=VIP", {"梁小娟"}),
    ("window=30", {"梁小娟"}),
    ("days=3", {"梁小娟", "王芳"}),
])
def test_the_customer_file_keeps_the_page_filters(app, login, world, query, names):
    _shape_customers(app, world)
    rows = csv_rows(login("manager").get(f"/customers/?format=csv&{query}", headers=EN))
    assert {r[0] for r in rows[1:]} == names
    assert exports(app)[-1][2]["filters"] == dict([query.split("=")])


def test_a_manager_of_the_other_store_exports_only_hers(app, login, world):
    rows = csv_rows(login("manager2").get("/customers/?format=csv", headers=EN))
    assert [r[:3] for r in rows[1:]] == [["赵敏", "赵女士", "13700002222"]]


def test_a_long_list_is_fetched_and_written_in_batches(app, login, world, monkeypatch):
    """Rows are fetched a batch at a time (a server-side cursor on PostgreSQL) while each
    batch's tags are looked up; every row arrives once, in the page's order."""
    monkeypatch.setattr(exporting, "BATCH", 2)
    with app.app_context():
        for i in range(7):
            customer = CustomerFactory(store_id=world.store1, name=f"批量{i}",
                                       phone=f"+8613500000{i:03d}")
            db.session.add(CustomerTag(store_id=world.store1, customer_id=customer.id,
                                       name=f"t{i}"))
        db.session.commit()
    for fmt in ("csv", "xlsx"):
        response = login("manager").get(f"/customers/?format={fmt}&sort=name", headers=EN)
        rows = csv_rows(response) if fmt == "csv" else xlsx_rows(response)[0]
        batch = [(r[0], r[13]) for r in rows[1:] if r[0].startswith("批量")]
        assert batch == [(f"批量{i}", f"t{i}") for i in range(7)]
        assert len(rows) == 10


# Formula cells -------------------------------------------------------------------------------

DANGEROUS = ['=HYPERLINK("http://x.example","点我")', "+1", "-2", "@x", "\tTAB", "＝1+1"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_cells_that_would_run_as_formulas_are_neutralised(app, login, world, fmt):
    with app.app_context():
        for i, name in enumerate(DANGEROUS):
            customer = CustomerFactory(store_id=world.store1, name=name, greeting_name=name[:20],
                                       phone=f"+8613600000{i:03d}")
            customer.total_spent_fen = -5000 if i == 0 else 0  # negative money stays a number
        db.session.commit()
    response = login("manager").get(f"/customers/?format={fmt}&sort=name", headers=EN)
    if fmt == "csv":
        rows = csv_rows(response)
    else:
        rows, sheet = xlsx_rows(response)
        # every name cell is a plain string, never a formula
        assert {sheet.cell(row=r, column=1).data_type for r in range(2, len(rows) + 1)} == {"s"}
    names = {r[0] for r in rows[1:]}
    assert names == {"梁小娟", "王芳"} | {"'" + n for n in DANGEROUS}
    link = by_first(rows)["'" + DANGEROUS[0]]
    assert link[11] == ("-50.00" if fmt == "csv" else -50)


@pytest.mark.parametrize("value,cell", [
    ("=1+1", "'=1+1"), ("\x01=1+1", "'=1+1"), ("\r=1", "'\r=1"), ("－5", "'－5"),
    ("a=b", "a=b"), ("'=x", "'=x"), ("", None), ("梁小姐", "梁小姐"),
])
def test_a_text_cell_is_cleaned_then_neutralised(value, cell):
    assert exporting._cell(value, exporting.TEXT, None, {}) == cell


# Audit, refusals, formats --------------------------------------------------------------------

def test_each_export_is_one_audit_event(app, login, world):
    client = login("manager")
    csv_rows(client.get("/customers/?format=csv&staff=me&page=2", headers=EN))
    xlsx_rows(client.get("/manager/dormant?format=xlsx&window=6m", headers=EN))
    manager = world.users["manager"]
    assert exports(app) == [
        (manager, world.store1, {"list": "customers", "format": "csv", "rows": 0,
                                 "filters": {"staff": "me"}}),
        (manager, world.store1, {"list": "dormant", "format": "xlsx", "rows": 2,
                                 "filters": {"window": "6m"}}),
    ]


@pytest.mark.parametrize("url", ["/manager/dormant", "/manager/ledger", "/manager/complaints",
                                 "/gifts/totals"])
def test_manager_lists_refuse_a_beautician(app, login, world, url):
    client = login("beautician1")
    for fmt in ("csv", "xlsx"):
        assert client.get(f"{url}?format={fmt}").status_code == 403
    assert exports(app) == []


@pytest.mark.parametrize("url", ["/customers/?format=pdf", "/calls/?format=", "/gifts/?format=XLSX",
                                 "/manager/ledger?format=json", "/tasks/export",
                                 "/tasks/export?format=doc"])
def test_an_unknown_format_is_a_400_with_a_message(app, login, world, url):
    response = login("manager").get(url, headers=EN)
    assert response.status_code == 400
    assert "Unknown export format" in response.get_data(as_text=True)
    assert exports(app) == []


def test_a_file_over_the_cap_says_so(app, login, world, monkeypatch):
    monkeypatch.setitem(exporting.MAX_ROWS, "csv", 1)
    monkeypatch.setitem(exporting.MAX_ROWS, "xlsx", 1)
    client = login("manager")
    rows = csv_rows(client.get("/customers/?format=csv", headers=EN))
    assert len(rows) == 4 and rows[2] == []
    assert rows[3] == ["Only the first 1 of 2 rows are in this file; narrow the filters to "
                       "export the rest."]
    rows, _sheet = xlsx_rows(client.get("/customers/?format=xlsx", headers=EN))
    assert rows[1][0] == "梁小娟" and rows[-1][0].startswith("Only the first 1 of 2 rows")
    assert [e[2]["rows"] for e in exports(app)] == [1, 1]
    assert [e[2]["truncated_from"] for e in exports(app)] == [2, 2]


# The contact log -----------------------------------------------------------------------------

def _contact(world, customer, staff, moment, outcome="reached", **fields):
    store = world.store2 if customer == "other_store" else world.store1
    db.session.add(Contact(store_id=store, customer_id=world.customers[customer],
                           staff_id=world.users[staff], client_id=str(uuid.uuid4()),
                           channel="phone", outcome=outcome, contacted_at=moment, **fields))


def test_contact_log_export_keeps_the_filters_and_her_own_rows(app, login, world):
    with app.app_context():
        today = _today(world)
        day = today - timedelta(days=3)
        # 23:30 in Shanghai is 15:30 UTC: the file shows the store's clock
        _contact(world, "mine", "beautician1", at(day, 23, 30), satisfaction=5,
                 notes="=cmd|' /C calc'!A0", next_follow_up_on=today + timedelta(days=2))
        _contact(world, "colleague", "beautician2", at(day, 9), outcome="no_answer")
        _contact(world, "other_store", "beautician7", at(day, 9))
        _contact(world, "mine", "beautician1", at(today - timedelta(days=20), 9))  # outside
        db.session.commit()
    query = f"period=range&from={(today - timedelta(days=7)).isoformat()}&to={today.isoformat()}"
    manager = csv_rows(login("manager").get(f"/calls/?format=csv&{query}", headers=EN))
    assert manager[0] == ["Time", "Customer", "Name", "Staff", "Channel", "Outcome",
                          "Satisfaction (1–5)", "Suggestions", "Notes", "Next follow-up"]
    assert [r[1] for r in manager[1:]] == ["梁小姐", "王小姐"]  # newest first, this store only
    assert manager[1][0] == f"{day.isoformat()} 23:30"
    assert manager[1][4:] == ["Phone", "Reached", "5", "", "'=cmd|' /C calc'!A0",
                              (today + timedelta(days=2)).isoformat()]
    own = csv_rows(login("beautician1").get(f"/calls/?format=csv&{query}", headers=EN))
    assert [r[1] for r in own[1:]] == ["梁小姐"]
    rows, _sheet = xlsx_rows(login("manager").get(
        f"/calls/?format=xlsx&{query}&outcome=no_answer", headers=ZH))
    assert rows[1][1:6] == ["王小姐", "王芳", load_staff_name(app, world, "beautician2"),
                            "电话", "未接听"]
    assert rows[1][0] == datetime.combine(day, datetime.min.time()).replace(hour=9)
    assert exports(app)[-1][2]["filters"]["outcome"] == "no_answer"


def load_staff_name(app, world, username):
    with app.app_context():
        return load(User, world.users[username]).display_name


# The dormant list ----------------------------------------------------------------------------

def test_dormant_export_in_chinese_with_its_window_and_staff(app, login, world):
    today = _shape_customers(app, world)
    client = login("manager")
    rows, _sheet = xlsx_rows(client.get("/manager/dormant?format=xlsx", headers=ZH))
    assert rows[0][:3] == ["姓名", "称呼", "电话"]
    assert [r[:3] for r in rows[1:]] == [["梁小娟", "梁小姐", "13812345678"]]
    assert rows[1][4] == datetime.combine(today - timedelta(days=40), datetime.min.time())
    assert (rows[1][5], rows[1][7]) == (40, 1280.5)
    assert rows[1][3] == load_staff_name(app, world, "beautician1")
    assert csv_rows(client.get("/manager/dormant?format=csv&window=custom&days=50",
                               headers=EN))[1:] == []
    b2 = world.users["beautician2"]
    assert csv_rows(client.get(f"/manager/dormant?format=csv&staff={b2}&window=custom&days=3",
                               headers=EN))[1][0] == "王芳"
    assert [e[2]["rows"] for e in exports(app)] == [1, 0, 1]


# The ledger ----------------------------------------------------------------------------------

def _entry(world, staff, customer, amount, day, n, store=None, voided=False):
    entry = LedgerEntry(store_id=store or world.store1, staff_id=world.users[staff],
                        customer_id=world.customers[customer], amount_fen=amount,
                        kind="reward" if amount > 0 else "penalty",
                        reason="dormant:41" if amount > 0 else "no_visit:90", occurred_on=day,
                        period=day.strftime("%Y-%m"), dedupe_key=f"test:{n}")
    if voided:
        entry.voided_at, entry.voided_by_id, entry.void_reason = \
            at(day, 12), world.users["manager"], "+算错了"
    db.session.add(entry)


def test_ledger_export_is_the_month_with_voids_marked_and_summable(app, login, world):
    with app.app_context():
        today = _today(world)
        first = today.replace(day=1)
        _entry(world, "beautician1", "mine", 3000, first, 1)
        _entry(world, "beautician2", "colleague", -3000, first, 2, voided=True)
        _entry(world, "beautician1", "mine", 3000, first - timedelta(days=1), 3)  # last month
        _entry(world, "beautician7", "other_store", 3000, first, 4, store=world.store2)
        db.session.commit()
    month = first.strftime("%Y-%m")
    rows, _sheet = xlsx_rows(login("manager").get(f"/manager/ledger?format=xlsx&month={month}",
                                                  headers=EN))
    assert rows[0] == ["Date", "Staff", "Customer", "Name", "Kind", "Amount (yuan)",
                       "Counted (yuan)", "Reason", "Voided on", "Why voided"]
    got = {r[3]: r for r in rows[1:]}
    assert set(got) == {"梁小娟", "王芳"}
    assert got["梁小娟"][4:8] == ["Reward", 30, 30, "Won back after 41 days away"]
    assert got["王芳"][4:7] == ["Penalty", -30, 0]
    assert got["王芳"][8] == datetime.combine(first, datetime.min.time()).replace(hour=12)
    assert got["王芳"][9] == "'+算错了"
    assert sum(r[6] for r in rows[1:]) == 30  # the month's net, as the page totals it
    previous = (first - timedelta(days=1)).strftime("%Y-%m")
    rows = csv_rows(login("manager").get(f"/manager/ledger?format=csv&month={previous}",
                                         headers=EN))
    assert [(r[3], r[5]) for r in rows[1:]] == [("梁小娟", "30.00")]


# Complaints and gifts ------------------------------------------------------------------------

def test_complaints_export_open_first_then_closed(app, login, world):
    with app.app_context():
        today = _today(world)
        open_one = Complaint(store_id=world.store1, customer_id=world.customers["mine"],
                             staff_id=world.users["beautician1"], received_at=at(today, 10),
                             channel="phone", summary="-脸上过敏", next_step_due_on=today)
        closed = Complaint(store_id=world.store1, customer_id=world.customers["colleague"],
                           staff_id=world.users["beautician2"],
                           received_at=at(today - timedelta(days=9), 10), channel="wechat",
                           summary="等太久", status="closed", closed_at=at(today, 16))
        other = Complaint(store_id=world.store2, customer_id=world.customers["other_store"],
                          staff_id=world.users["beautician7"], received_at=at(today, 10),
                          channel="phone", summary="别的店")
        db.session.add_all([open_one, closed, other])
        db.session.flush()
        db.session.add(ComplaintStep(complaint_id=open_one.id, step="listen",
                                     done_at=at(today, 11), staff_id=world.users["beautician1"]))
        db.session.commit()
    rows = csv_rows(login("manager").get("/manager/complaints?format=csv", headers=EN))
    assert [r[1:] for r in rows[1:]] == [
        ["梁小姐", "梁小娟", load_staff_name(app, world, "beautician1"), "Phone", "'-脸上过敏",
         "Open", "1", "Empathise", today.isoformat(), ""],
        ["王小姐", "王芳", load_staff_name(app, world, "beautician2"), "WeChat", "等太久",
         "Closed", "0", "", "", f"{today.isoformat()} 16:00"],
    ]


def test_gift_exports_waiting_per_user_and_totals(app, login, world):
    with app.app_context():
        store = load(Store, world.store1)
        manager = load(User, world.users["manager"])
        gift = gift_service.create_gift(store, name="玫瑰精油礼盒", face_value_fen=19800,
                                        unit_cost_fen=2900, quantity=5, by=manager)
        today = store.today()
        for customer, staff in (("mine", "beautician1"), ("colleague", "beautician2")):
            gift_service.reserve(store, customer_id=world.customers[customer], gift_id=gift.id,
                                 staff=load(User, world.users[staff]), by=manager,
                                 pickup_after=today + timedelta(days=3), campaign="双十一")
        gift_service.hand_out_now(store, customer_id=world.customers["mine"], gift_id=gift.id,
                                  by=manager)
    own = csv_rows(login("beautician1").get("/gifts/?format=csv", headers=EN))
    assert own[1:] == [["梁小姐", "梁小娟", "玫瑰精油礼盒", "198.00",
                        load_staff_name(app, world, "beautician1"),
                        (today + timedelta(days=3)).isoformat(), "No", "双十一", "",
                        own[1][9]]]
    everyone = csv_rows(login("manager").get("/gifts/?format=csv", headers=EN))
    assert [r[0] for r in everyone[1:]] == ["梁小姐", "王小姐"]
    rows, _sheet = xlsx_rows(login("manager").get("/gifts/totals?format=xlsx", headers=ZH))
    assert rows[0] == ["月份", "礼品", "面值（元）", "成本（元）"]
    assert rows[1:] == [[today.strftime("%Y-%m"), 1, 198, 29]]


# The checklist -------------------------------------------------------------------------------

def test_checklist_export_hers_and_a_managers_choice(app, login, world):
    with app.app_context():
        today = _today(world)
        # joined long ago and never came: a red flag on each beautician's list today
        b1, b2 = world.users["beautician1"], world.users["beautician2"]
    client = login("beautician1")
    rows = csv_rows(client.get("/tasks/export?format=csv", headers=EN))
    assert rows[0] == ["Due", "Staff", "Item", "Customer", "Phone", "Why",
                       "Days since last visit", "Sessions left", "Card balance (yuan)", "Done"]
    name1 = load_staff_name(app, world, "beautician1")
    red = [r for r in rows[1:] if r[2] == "Red flag"]
    assert [r[:5] for r in red] == [[today.isoformat(), name1, "Red flag", "梁小姐",
                                     "13812345678"]]
    assert red[0][9] == "No"
    assert client.get(f"/tasks/export?format=csv&staff={b2}").status_code == 403
    manager = login("manager")
    same = csv_rows(manager.get(f"/tasks/export?format=csv&staff={b1}", headers=EN))
    assert same == rows
    both, _sheet = xlsx_rows(manager.get("/tasks/export?format=xlsx&staff=all", headers=EN))
    assert {(r[1], r[3], r[4]) for r in both[1:] if r[2] == "Red flag"} == {
        (name1, "梁小姐", "13812345678"),
        (load_staff_name(app, world, "beautician2"), "王小姐", "13900001111")}
    assert manager.get(f"/tasks/export?format=csv&staff={world.users['beautician7']}"
                       ).status_code == 404
    future = (today + timedelta(days=1)).isoformat()
    assert manager.get(f"/tasks/export?format=csv&day={future}").status_code == 404
    assert [e[2]["filters"] for e in exports(app)] == [
        {"day": today.isoformat(), "staff": str(b1)},
        {"day": today.isoformat(), "staff": str(b1)},
        {"day": today.isoformat(), "staff": "all"}]


def test_export_links_on_the_pages_carry_the_filters(app, login, world):
    manager = login("manager")
    page = manager.get("/customers/?status=dormant&page=1", headers=EN).get_data(as_text=True)
    assert "/customers/?status=dormant&amp;format=csv" in page
    assert "/customers/?status=dormant&amp;format=xlsx" in page
    for url in ("/calls/?period=week", "/manager/dormant?window=6m", "/manager/ledger",
                "/manager/complaints", "/gifts/", "/gifts/totals?by=campaign", "/tasks/today"):
        page = manager.get(url, headers=EN).get_data(as_text=True)
        assert "Export:" in page and "format=csv" in page and "format=xlsx" in page, url
    assert "by=campaign&amp;format=csv" in manager.get("/gifts/totals?by=campaign").get_data(
        as_text=True)
