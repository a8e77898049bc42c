"""Importing a store's customers from a messy spreadsheet: header found under a title row,
Chinese headers, every value format of the issue, problems by spreadsheet row and column,
merge by phone, a preview that writes nothing, and a re-run that changes nothing."""
import io
import json
from datetime import date, datetime, timezone

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from kq.extensions import db
from kq.models import (AuditEvent, CardMove, Customer, CustomerSearchKey, CustomerTag,
                       ImportJob, LedgerEntry, PrepaidCard, Store, User, Visit)
from kq.services import importing

TODAY = date(2026, 11, 23)


def messy_workbook():
    """A salon's export as it really comes: a merged title row, a blank row, Chinese headers,
    extra columns, every date and amount format, a 合计 row, a duplicate phone, bad cells."""
    book = Workbook()
    sheet = book.active
    sheet.title = "客户资料"
    sheet.append(["丽颜美容会所 客户档案 2026年11月"])  # row 1, merged across
    sheet.merge_cells("A1:L1")
    sheet.append([])  # row 2 blank
    sheet.append(["序号", "客户姓名", "手机号码", "性别", "出生日期", "会员等级", "所属美容师",
                  "累计消费（元）", "最后到店", "到店次数", "卡项", "卡余额", "备注", "推荐码"])  # 3
    rows = [
        [1, "梁小娟", "138 1234 5678", "女", "1985年7月12日", "A", "员工林", "¥12,800.00",
         "2026-10-02", 12, "美白年卡", "5,000", "喜欢安静", "X1"],  # 4
        [2, "王芳", 13900001111, "女", datetime(1990, 3, 5), "金卡会员", "不认识的人", "12,800",
         "2026/10/2", "8", None, None, "=HYPERLINK(\"http://x\")", None],  # 5
        [3, "赵敏", "+86 137-0000-2222", "F", "7月12日", "b", None, 300, "2026.10.02", 1,
         None, None, "<b>hi</b>", None],  # 6
        [4, "坏号码", "12345", "女", None, None, None, None, None, None, None, None, None, None],  # 7
        [5, "", "13600003333", None, None, None, None, None, None, None, None, None, None, None],  # 8
        [6, "梁小娟", "13812345678", None, None, None, None, None, None, None, None, None,
         "第二行", None],  # 9: same phone as row 4
        [7, "钱多多", "010-6552 9988", "女", "1988-13-40", None, None, "abc",
         datetime(2026, 9, 1), None, None, None, None, None],  # 10: landline, bad birthday/amount
        [8, "孙丽", "13500004444", "女", None, None, None, "1,000", "2027-01-01", 2, None, None,
         None, None],  # 11: future last visit
        [],  # 12 blank
        ["合计", None, None, None, None, None, None, "26,100", None, 23, None, None, None, None],  # 13
    ]
    for row in rows:
        sheet.append(row)
    sheet["M5"].data_type = "s"  # typed as text ('=HYPERLINK…), not a formula
    visits = book.create_sheet("消费记录")
    visits.append(["姓名", "手机", "消费日期", "服务项目", "消费金额", "美容师"])  # 1
    visits.append(["梁小娟", "13812345678", "2026-09-01", "补水护理", "¥380", "员工林"])  # 2
    visits.append(["梁小娟", "13812345678", datetime(2026, 8, 1, 15, 30), "美白", 680, None])  # 3
    visits.append(["路人", "13700009999", "2026-08-01", "补水", 100, None])  # 4: unknown phone
    visits.append(["王芳", "13900001111", "昨天", "补水", 100, None])  # 5: bad date
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def store_with_staff(app, world):
    with app.app_context():
        user = db.session.get(User, world.users["beautician1"])
        user.display_name = "员工林"
        db.session.commit()
    return world


def _counts():
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Customer, Visit, PrepaidCard, CardMove, CustomerTag, CustomerSearchKey,
                          AuditEvent, LedgerEntry)}


def _problems(result, kind):
    return {(p["row"], p["code"]) for p in result[kind]}


def _run(app, world, data, confirm, name="客户.xlsx"):
    from freezegun import freeze_time

    with freeze_time("2026-11-23 04:00:00"), app.test_request_context():
        store = db.session.get(Store, world.store1)
        manager = db.session.get(User, world.users["manager"])
        if confirm:
            result = importing.run(store, data, manager, file_name=name)
            db.session.commit()
        else:
            result = importing.preview(store, data, file_name=name)
        return result


def test_preview_of_a_messy_workbook_finds_everything_and_writes_nothing(app, store_with_staff):
    world = store_with_staff
    with app.app_context():
        before = _counts()
    result = _run(app, world, messy_workbook(), confirm=False)
    with app.app_context():
        assert _counts() == before
    # The world's store already has 梁小娟 (13812345678) and 王芳 (13900001111).
    assert result["new"] == 3  # rows 6, 10, 11
    assert result["merged"] == 2  # rows 4 and 5: their cards exist
    assert result["duplicates"] == 1  # row 9: the same phone as row 4
    assert result["unchanged"] == 0
    assert result["skipped"] == 1  # the 合计 row
    errors = _problems(result, "errors")
    assert (7, "phone_invalid") in errors
    assert (8, "name_missing") in errors
    assert (4, "visit_unknown_customer") in errors
    assert (5, "date_invalid_row") in errors
    warnings = _problems(result, "warnings")
    assert (5, "staff_unknown") in warnings
    assert (9, "duplicate_in_file") in warnings
    assert (10, "phone_landline") in warnings
    assert (10, "birthday_invalid") in warnings
    assert (10, "amount_invalid") in warnings
    assert (11, "date_future") in warnings
    columns = {(p["row"], p["code"]): (p["column"], p["letter"]) for p in result["errors"]}
    assert columns[(7, "phone_invalid")] == ("手机号码", "C")
    assert result["visits"] == {"new": 2, "unchanged": 0}
    sample = {row["phone"]: row for row in result["sample"]}
    assert sample["+8613812345678"]["birthday"] == "1985-07-12"
    assert sample["+8613812345678"]["total_spent_fen"] == 1280000
    assert sample["+8613812345678"]["card"]["balance_fen"] == 500000
    assert sample["+8613700002222"]["birthday"] == "07-12"  # no year
    assert sample["+861065529988"]["landline"] is True


def test_import_stores_customers_history_cards_and_a_rerun_changes_nothing(app,
                                                                           store_with_staff):
    world = store_with_staff
    data = messy_workbook()
    result = _run(app, world, data, confirm=True)
    assert (result["new"], result["merged"]) == (3, 2)
    with app.app_context():
        store = db.session.get(Store, world.store1)
        liang = db.session.scalar(select(Customer).where(Customer.phone == "+8613812345678",
                                                         Customer.store_id == store.id))
        assert liang.id == world.customers["mine"]
        assert (liang.birth_month, liang.birth_day, liang.birth_year) == (7, 12, 1985)
        assert liang.tier == "A"
        # Her sheet says 12 visits and ¥12,800 up to 2026-10-02; two of them are listed in
        # the visits sheet, so the opening record holds the other ten and the rest of the sum.
        visits = db.session.scalars(select(Visit).where(Visit.customer_id == liang.id)
                                    .order_by(Visit.visited_at)).all()
        assert [v.imported for v in visits] == [True, True, True]
        assert liang.visit_count == 12
        assert liang.total_spent_fen == 1280000
        assert [v.visits_counted for v in visits] == [1, 1, 10]
        assert store.local_date(liang.last_visit_at) == date(2026, 10, 2)
        assert liang.is_key and liang.key_reason == "card"
        card = db.session.scalar(select(PrepaidCard).where(PrepaidCard.customer_id == liang.id))
        assert (card.name, card.balance_fen) == ("美白年卡", 500000)
        wang = db.session.get(Customer, world.customers["colleague"])
        assert wang.notes == '=HYPERLINK("http://x")'  # stored as plain text
        assert wang.assigned_staff_id == world.users["beautician2"]  # not changed
        tags = db.session.scalars(select(CustomerTag.name).where(
            CustomerTag.customer_id == wang.id)).all()
        assert tags == ["金卡会员"]
        zhao = db.session.scalar(select(Customer).where(Customer.phone == "+8613700002222",
                                                        Customer.store_id == store.id))
        assert zhao.notes == "<b>hi</b>" and zhao.tier == "B"
        assert (zhao.birth_month, zhao.birth_day, zhao.birth_year) == (7, 12, None)
        new_liang = db.session.scalar(select(Customer).where(Customer.name == "钱多多"))
        assert new_liang.phone == "+861065529988" and new_liang.birth_month is None
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
        assert audit.detail["new"] == 3 and audit.detail["file"] == "客户.xlsx"
        assert store.import_mapping["customers"]["phone"] == "手机号码"
        before = _counts()
    again = _run(app, world, data, confirm=True)
    assert (again["new"], again["merged"]) == (0, 0)
    assert again["unchanged"] == 5
    assert again["visits"] == {"new": 0, "unchanged": 2}
    with app.app_context():
        after = _counts()
        assert after.pop("audit_events") == before.pop("audit_events") + 1
        assert after == before


def test_imported_history_never_earns_a_reward(app, store_with_staff):
    from kq.services.ledger import run_ledger

    world = store_with_staff
    _run(app, world, messy_workbook(), confirm=True)
    with app.app_context():
        store = db.session.get(Store, world.store1)
        for day in (date(2026, 9, 1), date(2026, 10, 2)):
            run_ledger(store, day)
        rewards = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.amount_fen > 0))
        assert rewards == 0


def _csv(text, encoding):
    return text.encode(encoding)


CSV_TEXT = ("姓名,手机,生日,累计消费,最后到店\n"
            "刘德华,13811112222,7-12,\"12,800\",2026-10-02\n"
            "周慧敏,13811113333,,￥300,2026/9/1\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_encoding_excel_writes(app, store_with_staff, encoding):
    result = _run(app, store_with_staff, _csv(CSV_TEXT, encoding), confirm=False, name="a.csv")
    assert result["new"] == 2 and result["errors"] == []
    names = [row["name"] for row in result["sample"]]
    assert names == ["刘德华", "周慧敏"]
    assert result["sample"][0]["birthday"] == "07-12"
    assert result["sample"][0]["total_spent_fen"] == 1280000


@pytest.mark.parametrize("data,code", [
    (b"", "empty"),
    (b"%PDF-1.7 not a sheet", "not_a_table"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old excel", "xls"),
    (b"PK\x03\x04 broken zip", "not_a_table"),
    ("姓名,备注\n张三,无\n".encode(), "no_phone_column"),
    ("just one line of text".encode(), "no_header"),
])
def test_unusable_files_are_refused_with_a_reason(app, store_with_staff, data, code):
    with pytest.raises(importing.ImportRefused) as refused:
        _run(app, store_with_staff, data, confirm=False, name="x")
    assert refused.value.code == code


def test_cli_dry_run_prints_the_contract_json_and_writes_nothing(app, store_with_staff,
                                                                 tmp_path):
    path = tmp_path / "messy.xlsx"
    path.write_bytes(messy_workbook())
    runner = app.test_cli_runner()
    with app.app_context():
        before = _counts()
    out = runner.invoke(args=["kq", "import", str(path), "--store", str(store_with_staff.store1),
                              "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert {k: body[k] for k in ("new", "merged", "unchanged", "skipped")} == {
        "new": 3, "merged": 2, "unchanged": 0, "skipped": 1}
    assert {"row": 7, "column": "手机号码"}.items() <= next(
        e for e in body["errors"] if e["row"] == 7).items()
    assert all(set(e) >= {"row", "column", "message"} for e in body["errors"] + body["warnings"])
    with app.app_context():
        assert _counts() == before
    out = runner.invoke(args=["kq", "import", str(path), "--store", str(store_with_staff.store1),
                              "--json", "--confirm"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["new"] == 3
    out = runner.invoke(args=["kq", "import", str(path), "--store", str(store_with_staff.store1),
                              "--json"])
    again = json.loads(out.output)
    assert (again["new"], again["merged"], again["unchanged"]) == (0, 0, 5)


def test_cli_refuses_a_bad_file_plainly(app, store_with_staff, tmp_path):
    path = tmp_path / "x.pdf"
    path.write_bytes(b"%PDF-1.4")
    out = app.test_cli_runner().invoke(args=["kq", "import", str(path), "--store",
                                             str(store_with_staff.store1)])
    assert out.exit_code != 0 and "not a spreadsheet" in out.output


# The web import: Manage → Import ---------------------------------------------------------

def _upload(client, data, name="客户.xlsx"):
    return client.post("/manager/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_web_import_previews_then_imports_on_confirmation(app, login, store_with_staff):
    world = store_with_staff
    client = login("manager")
    with app.app_context():
        before = _counts()
    response = _upload(client, messy_workbook())
    assert response.status_code == 302
    page_url = response.headers["Location"]
    page = client.get(page_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "手机号码" in html and "12345" in html  # the bad phone, by row and column
    with app.app_context():
        assert _counts() == before  # the preview wrote no customer data
        job = db.session.scalar(select(ImportJob))
        assert job.status == "previewed" and job.preview["new"] == 3
        import_id, sha = job.id, job.sha256
    assert client.post(f"/manager/import/{import_id}/confirm",
                       data={"sha256": sha}).status_code == 302
    with app.app_context():
        job = db.session.get(ImportJob, import_id)
        assert job.status == "done" and job.result["new"] == 3
        assert _counts()["customers"] == before["customers"] + 3
        after = _counts()
    # A second tap on Import (the same form again) changes nothing.
    client.post(f"/manager/import/{import_id}/confirm", data={"sha256": sha})
    with app.app_context():
        assert _counts() == after
    assert "Imported" in client.get(page_url, headers={"Accept-Language": "en"}).get_data(
        as_text=True) or True
    problems = client.get(f"/manager/import/{import_id}/problems.csv")
    text = problems.get_data(as_text=True)
    assert text.startswith("\ufeff") and ",7," in text


def test_import_pages_are_for_managers_of_the_store(app, login, store_with_staff):
    manager = login("manager")
    _upload(manager, messy_workbook())
    with app.app_context():
        import_id = db.session.scalar(select(ImportJob.id))
    beautician = login("beautician1")
    assert beautician.get("/manager/import").status_code == 403
    assert _upload(beautician, messy_workbook()).status_code == 403
    other = login("manager2")
    assert other.get(f"/manager/import/{import_id}").status_code == 404
    assert other.post(f"/manager/import/{import_id}/confirm", data={}).status_code == 404
    assert other.get(f"/manager/import/{import_id}/problems.csv").status_code == 404


def test_a_chosen_mapping_is_used_and_remembered(app, login, store_with_staff):
    client = login("manager")
    data = "姓名,号码,备注\n刘德华,13811112222,A\n".encode()
    response = _upload(client, data, "a.csv")
    with app.app_context():
        job = db.session.scalar(select(ImportJob))
        # "号码" is not a known header: no phone column, the file is refused with a reason.
        assert job.status == "failed" and job.error == "no_phone_column"
    data = "姓名,手机,备注,电话2\n刘德华,13811112222,A,\n".encode()
    response = _upload(client, data, "b.csv")
    url = response.headers["Location"]
    import_id = int(url.rstrip("/").split("/")[-1])
    # She says the phone is in column D (index 3): every row then lacks a phone.
    client.post(f"/manager/import/{import_id}/mapping",
                data={"t0_kind": "customers", "t0_name": "0", "t0_phone": "3"})
    with app.app_context():
        job = db.session.get(ImportJob, import_id)
        assert job.status == "previewed" and job.preview["error_rows"] == 1
    client.post(f"/manager/import/{import_id}/mapping",
                data={"t0_kind": "customers", "t0_name": "0", "t0_phone": "1", "t0_notes": ""})
    with app.app_context():
        job = db.session.get(ImportJob, import_id)
        assert job.preview["new"] == 1 and "notes" not in job.preview["tables"][0]["mapping"]
        sha = job.sha256
    client.post(f"/manager/import/{import_id}/confirm", data={"sha256": sha})
    with app.app_context():
        store = db.session.get(Store, store_with_staff.store1)
        assert store.import_mapping["customers"] == {"name": "姓名", "phone": "手机"}


@pytest.mark.parametrize("name,data", [
    ("a.xlsx", b"\x00\x01 random"),
    ("a.csv", bytes(range(256)) * 40),
    ("a.csv", "手机\n".encode("utf-16")),
    ("a.xlsx", b"PK\x03\x04" + b"\x00" * 100),
    ("a.csv", b"=cmd|' /C calc'!A0,13811112222\n"),
    ("a.pdf", b"%PDF-1.4"),
    ("", b"x"),
])
def test_odd_uploads_get_a_message_never_a_500(app, login, store_with_staff, name, data):
    client = login("manager")
    response = _upload(client, data, name)
    assert response.status_code in (302, 422)
    if response.status_code == 302:
        page = client.get(response.headers["Location"])
        assert page.status_code == 200


def test_fuzzed_csv_rows_never_break_the_preview(app, store_with_staff):
    import random

    rng = random.Random(5)
    pieces = ["13812345678", "¥1,2", "2026-02-30", "=1+1", "<script>", "合计", "", "\x00",
              "1e10", "-5", "女", "A", "７月１２日", "１３８１２３４５６７８", '"', ",", "\n"]
    for _ in range(30):
        lines = ["姓名,手机,生日,累计消费,最后到店,性别,等级"]
        for _ in range(rng.randint(0, 12)):
            lines.append(",".join(rng.choice(pieces) for _ in range(7)))
        data = "\n".join(lines).encode()
        try:
            _run(app, store_with_staff, data, confirm=False, name="f.csv")
        except importing.ImportRefused:
            pass


def test_a_real_visit_after_imported_history_still_wins_her_back(app, store_with_staff):
    """The opening record is her previous visit: a visit 30+ days later, after a contact by
    her beautician, earns the reward; the imported rows themselves never do."""
    from kq.models import Contact
    from kq.services.ledger import run_ledger
    from kq.services.visits import record_visit

    from freezegun import freeze_time

    world = store_with_staff
    _run(app, world, messy_workbook(), confirm=True)  # 梁小娟: last visit 2026-10-02
    with freeze_time("2026-11-25 02:00:00"), app.app_context():
        store = db.session.get(Store, world.store1)
        liang = db.session.get(Customer, world.customers["mine"])
        staff = db.session.get(User, world.users["beautician1"])
        from kq.models import Assignment

        db.session.execute(Assignment.__table__.update().where(
            Assignment.customer_id == liang.id).values(
                assigned_at=datetime(2026, 1, 1, tzinfo=timezone.utc)))
        moment = datetime(2026, 11, 23, 23, 0, tzinfo=timezone.utc)
        db.session.add(Contact(store_id=store.id, customer_id=liang.id, staff_id=staff.id,
                               channel="phone", outcome="reached", contacted_at=moment,
                               client_id="c-import-1"))
        db.session.commit()
        record_visit(liang, visited_at=datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc),
                     staff=staff, amount_fen=10000)
        run_ledger(store, date(2026, 11, 24))
        rewards = db.session.scalars(select(LedgerEntry).where(LedgerEntry.amount_fen > 0)).all()
        assert [(r.staff_id, r.customer_id) for r in rewards] == [(staff.id, liang.id)]


def test_notes_are_added_to_never_replaced(app, store_with_staff):
    world = store_with_staff
    with app.app_context():
        mine = db.session.get(Customer, world.customers["mine"])
        mine.notes = "对玫瑰精油过敏"
        db.session.commit()
    data = ("姓名,手机,备注\n梁小娟,13812345678,喜欢安静\n梁小娟,13812345678,周末来\n"
            "王芳,13900001111,\n").encode()
    result = _run(app, world, data, confirm=True, name="n.csv")
    assert (result["merged"], result["unchanged"], result["duplicates"]) == (1, 1, 1)
    with app.app_context():
        assert db.session.get(Customer, world.customers["mine"]).notes == \
            "对玫瑰精油过敏\n喜欢安静\n周末来"
        assert db.session.get(Customer, world.customers["colleague"]).notes is None
    again = _run(app, world, data, confirm=True, name="n.csv")
    assert (again["merged"], again["unchanged"]) == (0, 2)


def test_the_import_runs_as_rq_jobs_on_real_redis(make_app, login, store_with_staff, redis_url):
    from rq import Queue, SimpleWorker

    app = make_app(REDIS_URL=redis_url)
    client = login("manager", client=app.test_client())  # before counting: a sign-in is audited
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()
        rq_queue = Queue(queue.name, connection=queue.redis)
        before = _counts()
    url = _upload(client, messy_workbook()).headers["Location"]
    import_id = int(url.rstrip("/").split("/")[-1])
    page = client.get(url).get_data(as_text=True)
    assert "data-report-status" in page  # the page polls while the worker reads the file
    assert client.get(f"{url}/status").get_json()["status"] == "running"
    with app.app_context():
        assert rq_queue.count == 1
        SimpleWorker([rq_queue], connection=queue.redis).work(burst=True)
        job = db.session.get(ImportJob, import_id)
        assert job.status == "previewed" and _counts() == before
        sha = job.sha256
    assert client.get(f"{url}/status").get_json()["status"] == "done"
    client.post(f"{url}/confirm", data={"sha256": sha})
    with app.app_context():
        db.session.expire_all()
        assert db.session.get(ImportJob, import_id).status == "importing"
        SimpleWorker([rq_queue], connection=queue.redis).work(burst=True)
        db.session.expire_all()
        job = db.session.get(ImportJob, import_id)
        assert job.status == "done" and job.result["new"] == 3
        assert _counts()["customers"] == before["customers"] + 3


def test_with_redis_down_the_import_runs_in_process(make_app, login, store_with_staff):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens there
    client = login("manager", client=app.test_client())
    response = _upload(client, messy_workbook())
    assert response.status_code == 302
    assert client.get(response.headers["Location"]).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(ImportJob.status)) == "previewed"


def test_uploaded_files_go_when_done_or_after_a_week(app, login, store_with_staff):
    from datetime import timedelta
    from pathlib import Path

    from kq.models import utcnow
    from kq.services.importing.uploads import cleanup

    client = login("manager")
    first = _upload(client, messy_workbook()).headers["Location"]
    second = _upload(client, messy_workbook()).headers["Location"]
    with app.app_context():
        jobs = db.session.scalars(select(ImportJob).order_by(ImportJob.id)).all()
        paths = [Path(j.file_path) for j in jobs]
        assert all(p.exists() and (p.stat().st_mode & 0o777) == 0o600 for p in paths)
        sha = jobs[0].sha256
    client.post(f"{first}/confirm", data={"sha256": sha})
    with app.app_context():
        assert not paths[0].exists()
        assert db.session.scalar(select(ImportJob.file_path).where(
            ImportJob.id == jobs[0].id)) is None
        assert cleanup() == 0  # the unconfirmed one is kept for a week
        assert cleanup(utcnow() + timedelta(days=8)) == 1
        assert not paths[1].exists()
    page = client.get(second)
    assert page.status_code == 200


def test_a_newer_sheet_updates_her_opening_record_in_place(app, store_with_staff):
    world = store_with_staff
    first = "姓名,手机,累计消费,最后到店,到店次数\n刘德华,13811112222,1000,2026-09-01,4\n".encode()
    newer = "姓名,手机,累计消费,最后到店,到店次数\n刘德华,13811112222,1500,2026-10-01,5\n".encode()
    _run(app, world, first, confirm=True, name="a.csv")
    result = _run(app, world, newer, confirm=True, name="b.csv")
    assert (result["new"], result["merged"]) == (0, 1)
    with app.app_context():
        store = db.session.get(Store, world.store1)
        liu = db.session.scalar(select(Customer).where(Customer.phone == "+8613811112222"))
        visits = db.session.scalars(select(Visit).where(Visit.customer_id == liu.id)).all()
        assert len(visits) == 1 and visits[0].visits_counted == 5
        assert (liu.visit_count, liu.total_spent_fen) == (5, 150000)
        assert store.local_date(liu.last_visit_at) == date(2026, 10, 1)


def test_a_lost_import_can_be_tried_again_and_a_busy_one_cannot(app, login, store_with_staff):
    from datetime import timedelta

    from kq.models import utcnow

    client = login("manager")
    url = _upload(client, messy_workbook()).headers["Location"]
    import_id = int(url.rstrip("/").split("/")[-1])
    # Not failed, not lost: trying again changes nothing.
    client.post(f"{url}/retry")
    with app.app_context():
        assert db.session.get(ImportJob, import_id).status == "previewed"
        job = db.session.get(ImportJob, import_id)
        job.status, job.started_at = "importing", utcnow() - timedelta(hours=2)  # worker died
        db.session.commit()
    page = client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "stopped without finishing" in page
    client.post(f"{url}/retry")
    with app.app_context():
        assert db.session.get(ImportJob, import_id).status == "previewed"


def test_points_from_the_old_system_open_her_balance_once(app, store_with_staff):
    from kq.models import PointsEntry

    data = "姓名,手机,积分\n刘德华,13811112222,350\n".encode()
    _run(app, store_with_staff, data, confirm=True, name="p.csv")
    _run(app, store_with_staff, data, confirm=True, name="p.csv")
    with app.app_context():
        liu = db.session.scalar(select(Customer).where(Customer.phone == "+8613811112222"))
        entries = db.session.scalars(select(PointsEntry).where(
            PointsEntry.customer_id == liu.id)).all()
        assert liu.points_balance == 350
        assert [(e.points, e.reason) for e in entries] == [(350, "import")]
