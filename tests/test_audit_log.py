"""Manage → Audit log (issue 17 finding 7): managers and the owner read what was revealed,
exported, imported, printed, messaged, deleted and who signed in; filters at their edges,
paging, export; a manager's export-then-delete of a customer shows on it."""
from datetime import date, datetime, time, timedelta

from kq.extensions import db
from kq.models import AuditEvent, Customer, Store
from tests.helpers import SHANGHAI, load

EN = {"Accept-Language": "en"}
LABELS = {"sign_in": "Signed in", "sign_in_failed": "Failed sign-in",
          "bulk_message": "Bulk message", "search_phone": "Searched by a whole phone number",
          "duplicate_phone": "A phone already on a card was entered",
          "export_customer": "A customer&#39;s data exported",
          "delete_customer": "Customer deleted",
          "consent_given": "Marketing consent given",
          "consent_withdrawn": "Marketing consent withdrawn", "reveal_phone": "Phone number shown",
          "export": "List exported", "import": "Customers imported",
          "print_cards": "Customer cards printed"}


def _event(action, store_id, when=None, user_id=None, target=None, detail=None):
    event = AuditEvent(action=action, store_id=store_id, user_id=user_id, detail=detail,
                       target_type=target[0] if target else None,
                       target_id=target[1] if target else None)
    if when is not None:
        event.created_at = when
    db.session.add(event)
    return event


def test_only_managers_and_the_owner_read_it(login, world):
    assert login("beautician1").get("/manager/audit").status_code == 403
    assert login("manager").get("/manager/audit").status_code == 200
    assert login("owner").get("/manager/audit").status_code == 200


def test_every_action_has_a_readable_label_and_unknown_ones_show_their_code(app, login, world):
    with app.app_context():
        for action in LABELS:
            _event(action, world.store1, user_id=world.users["manager"])
        _event("something_new", world.store1)
        _event("reveal_phone", world.store2, detail={"secret": "二店的事"})
        db.session.commit()
    page = login("manager").get("/manager/audit", headers=EN).get_data(as_text=True)
    rows = page[page.index('class="rows'):]
    for action, label in LABELS.items():
        assert label in rows, action
    assert "something_new" in rows
    assert "二店的事" not in page  # another store's events are not hers to read
    assert "15 events" in page  # and her own sign-in


def test_filters_by_action_staff_customer_and_local_dates(app, login, world):
    day = date(2026, 3, 10)
    with app.app_context():
        mgr, b1 = world.users["manager"], world.users["beautician1"]
        cid = world.customers["mine"]
        last_minute = datetime.combine(day, time(23, 59), tzinfo=SHANGHAI)
        _event("reveal_phone", world.store1, last_minute, mgr, ("customer", cid),
               {"n": "late"})
        _event("reveal_phone", world.store1, last_minute + timedelta(minutes=1), mgr,
               ("customer", world.customers["colleague"]), {"n": "next-day"})
        _event("export", world.store1, datetime.combine(day, time(0, 0), tzinfo=SHANGHAI), b1,
               None, {"n": "midnight"})
        _event("export", world.store1, datetime.combine(day, time(0, 0), tzinfo=SHANGHAI)
               - timedelta(seconds=1), b1, None, {"n": "day-before"})
        db.session.commit()
    client = login("manager")

    def shown(**args):
        page = client.get("/manager/audit", query_string=args, headers=EN).get_data(as_text=True)
        return {n for n in ("late", "next-day", "midnight", "day-before") if f"n: {n}<" in page}

    assert shown() == {"late", "next-day", "midnight", "day-before"}
    assert shown(**{"from": "2026-03-10", "to": "2026-03-10"}) == {"late", "midnight"}
    assert shown(**{"from": "2026-03-11"}) == {"next-day"}
    assert shown(to="2026-03-09") == {"day-before"}
    assert shown(action="export") == {"midnight", "day-before"}
    assert shown(staff=str(world.users["beautician1"])) == {"midnight", "day-before"}
    assert shown(customer=str(world.customers["mine"])) == {"late"}
    # Nonsense in a filter is ignored, never a 500.
    for bad in ({"from": "yesterday"}, {"staff": "9" * 40}, {"customer": "x"},
                {"page": "-3"}, {"action": "x" * 500}):
        assert client.get("/manager/audit", query_string=bad).status_code in (200, 404, 422)


def test_paged_fifty_at_a_time(app, login, world):
    with app.app_context():
        for i in range(51):
            _event("export", world.store1, detail={"i": i})
        db.session.commit()
    client = login("manager")
    first = client.get("/manager/audit?action=export", headers=EN).get_data(as_text=True)
    assert "51 events" in first and "1 / 2" in first and "page=2" in first
    assert first.count('class="row"') == 50
    second = client.get("/manager/audit?action=export&page=2", headers=EN).get_data(as_text=True)
    assert second.count('class="row"') == 1


def test_exports_as_csv_and_excel_and_the_export_is_audited(app, login, world):
    with app.app_context():
        _event("sign_in_failed", world.store1, detail={"username": "manager"})
        db.session.commit()
    client = login("manager")
    csv = client.get("/manager/audit?format=csv&action=sign_in_failed", headers=EN)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True)
    assert "Failed sign-in" in text and "Username: manager" in text
    xlsx = client.get("/manager/audit?format=xlsx", headers=EN)
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    with app.app_context():
        lists = [e.detail["list"] for e in db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "export"))]
        assert lists == ["audit", "audit"]


def test_a_manager_exports_then_deletes_and_the_log_shows_both(app, login, world):
    cid = world.customers["mine"]
    manager = login("manager")
    assert manager.post(f"/customers/{cid}/privacy/export",
                        data={"format": "xlsx"}).status_code == 200
    assert manager.post(f"/customers/{cid}/privacy/delete",
                        data={"confirm": "yes"}).status_code == 303
    page = manager.get(f"/manager/audit?customer={cid}", headers=EN).get_data(as_text=True)
    rows = page[page.index('class="rows'):]
    assert "A customer&#39;s data exported" in rows and "Customer deleted" in rows
    assert f"Deleted customer #{cid}" in rows and "梁小娟" not in page  # shown localised
    assert "Format: XLSX" in rows and "Had marketing consent: no" in rows  # labels, not keys
    assert "had_consent" not in rows and "format:" not in rows
    assert rows.index("Customer deleted") < rows.index("data exported")  # newest first
    home = manager.get("/manager/", headers=EN).get_data(as_text=True)
    assert 'href="/manager/audit"' in home


def test_the_owner_also_sees_failed_sign_ins_of_no_store(app, login, world):
    with app.app_context():
        _event("sign_in_failed", None, detail={"username": "nobody-here"})
        db.session.commit()
    assert "nobody-here" in login("owner").get("/manager/audit").get_data(as_text=True)
    assert "nobody-here" not in login("manager").get("/manager/audit").get_data(as_text=True)


def test_the_owner_reads_the_store_she_switched_to(app, login, world):
    with app.app_context():
        _event("reveal_phone", world.store2, detail={"where": "second-store"})
        db.session.commit()
        assert load(Store, world.store2) is not None and load(Customer, world.customers["mine"])
    owner = login("owner")
    assert "second-store" not in owner.get("/manager/audit").get_data(as_text=True)
    assert "second-store" in login("manager2").get("/manager/audit").get_data(as_text=True)


def test_details_read_as_labels_in_her_language_and_unknown_keys_show_plainly(app, login, world):
    with app.app_context():
        _event("campaign_launch", world.store1, user_id=world.users["manager"],
               detail={"campaign_id": 1, "name": "春季焕新", "members": 452, "key": 30,
                       "brand_new_key": "x1"})
        db.session.commit()
    manager = login("manager")
    rows = manager.get("/manager/audit", headers=EN).get_data(as_text=True)
    rows = rows[rows.index('class="rows'):]
    assert "Campaign: #1; Name: 春季焕新; Customers: 452; Key customers: 30; brand_new_key: x1" in rows
    assert "campaign_id" not in rows and "members:" not in rows
    zh = manager.get("/manager/audit").get_data(as_text=True)
    zh = zh[zh.index('class="rows'):]
    assert "campaign_id" not in zh and "brand_new_key: x1" in zh
    csv = manager.get("/manager/audit?format=csv", headers=EN).get_data(as_text=True)
    assert "Campaign: #1" in csv
