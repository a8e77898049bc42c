"""PIPL (SPEC §10, issue 17 finding 7, issue 18): consent with its date and source, withdrawable;
who may be messaged; a manager's access-request export of one customer; delete = anonymise;
the retention of contact notes, at its boundary."""
import io
import json
import uuid
from datetime import date, datetime, time, timedelta

import pytest
from openpyxl import load_workbook

from kq import jobs
from kq.extensions import db
from kq.models import (AuditEvent, CareNote, Complaint, Contact, Customer, CustomerTag, Gift,
                       LedgerEntry, MessageBatch, OutboundMessage, PrepaidCard, Store, Task, User,
                       Visit, utcnow)
from kq.services.cards import sell_card
from kq.services.checklist import generate_day
from kq.services.commitments import make_promise, open_complaint
from kq.services.gifts import create_gift, reserve
from kq.services.customers import matching_ids, refresh_search_keys, set_tags
from kq.services.privacy import (anonymise, blank_old_contact_notes, collect, marketable_clause,
                                 may_market, months_before, set_consent)
from kq.services.visits import record_visit
from tests.helpers import SHANGHAI, at, load

EN = {"Accept-Language": "en"}


def _events(action):
    return db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)).all()


def _contact(customer, staff_id, when, notes="她说下个月去日本", suggestions=None):
    row = Contact(store_id=customer.store_id, customer_id=customer.id, staff_id=staff_id,
                  client_id=str(uuid.uuid4()), channel="phone", outcome="reached", notes=notes,
                  suggestions=suggestions, contacted_at=when)
    db.session.add(row)
    return row


# ---- consent ------------------------------------------------------------------------------

def test_new_customer_form_does_not_pre_tick_consent(login, world):
    page = login("beautician1").get("/customers/new", headers=EN).get_data(as_text=True)
    at_box = page.index('name="marketing_consent"')
    box = page[at_box - 200:at_box + 80]
    assert "checked" not in box
    assert 'name="consent_source"' in page


def test_consent_needs_how_and_is_recorded_with_its_date(app, login, world):
    client = login("beautician1")
    data = {"name": "林晓", "title": "小姐", "phone": "139 0000 3333", "marketing_consent": "y"}
    refused = client.post("/customers/new", data=data, headers=EN)
    assert refused.status_code == 422
    assert "Say how she gave her consent" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(Customer).where(Customer.name == "林晓")) is None
    saved = client.post("/customers/new", data=dict(data, consent_source="wechat"), headers=EN)
    assert saved.status_code == 302
    no = client.post("/customers/new", data={"name": "周敏", "phone": "139 0000 4444"})
    assert no.status_code == 302  # not ticked: no consent, and nothing to ask
    with app.app_context():
        lin = db.session.scalar(db.select(Customer).where(Customer.name == "林晓"))
        assert lin.marketing_consent and lin.consent_source == "wechat"
        assert abs((utcnow() - lin.consent_at).total_seconds()) < 120
        [event] = _events("consent_given")
        assert (event.target_id, event.detail, event.user_id) == (
            lin.id, {"source": "wechat"}, world.users["beautician1"])
        zhou = db.session.scalar(db.select(Customer).where(Customer.name == "周敏"))
        assert not zhou.marketing_consent and zhou.consent_at is None
        assert not may_market(zhou) and may_market(lin)


def test_consent_is_withdrawn_from_the_card_and_stops_marketing(app, login, world):
    cid = world.customers["mine"]
    with app.app_context():
        set_consent(load(Customer, cid), True, "in_store_paper")
        db.session.commit()
    client = login("beautician2")  # not hers: she may still write down that she withdrew
    assert client.post(f"/customers/{cid}/consent", data={"given": "yes",
                                                          "source": "verbal"}).status_code == 403
    response = client.post(f"/customers/{cid}/consent", data={"given": "no"})
    assert response.status_code == 303
    with app.app_context():
        customer = load(Customer, cid)
        assert not customer.marketing_consent and customer.consent_withdrawn_at is not None
        assert customer.consent_source == "in_store_paper"  # how it had been given: history
        assert not may_market(customer)
        assert [e.action for e in db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.target_id == cid, AuditEvent.action.like("consent%"))
            .order_by(AuditEvent.id))] == ["consent_given", "consent_withdrawn"]
    own = login("beautician1")
    assert own.post(f"/customers/{cid}/consent", data={"given": "yes"}).status_code == 303
    with app.app_context():
        assert not load(Customer, cid).marketing_consent  # no source: refused, unchanged
    own.post(f"/customers/{cid}/consent", data={"given": "yes", "source": "verbal"})
    with app.app_context():
        customer = load(Customer, cid)
        assert customer.marketing_consent and customer.consent_source == "verbal"
        assert customer.consent_withdrawn_at is not None  # the earlier withdrawal is kept


def test_may_market_and_its_sql_clause_agree(app, world):
    with app.app_context():
        store = load(Store, world.store1)
        rows = {}
        for label, consent, dnc, deleted in (("yes", True, False, False),
                                             ("no_consent", False, False, False),
                                             ("dnc", True, True, False),
                                             ("deleted", True, False, True)):
            c = Customer(store_id=store.id, name=label, greeting_name=label,
                         marketing_consent=consent, do_not_contact=dnc,
                         deleted_at=utcnow() if deleted else None)
            db.session.add(c)
            rows[label] = c
        db.session.commit()
        ids = {c.id: label for label, c in rows.items()}
        found = set(db.session.scalars(db.select(Customer.id).where(
            marketable_clause(), Customer.id.in_(ids))))
        assert {ids[i] for i in found} == {"yes"}
        assert {label for label, c in rows.items() if may_market(c)} == {"yes"}


# ---- export and delete ----------------------------------------------------------------------

def _rich_customer(app, world):
    """Her card filled in, with a visit, care note, contact, promise, complaint, card, tag."""
    with app.app_context():
        store = load(Store, world.store1)
        manager = load(User, world.users["manager"])
        b1 = load(User, world.users["beautician1"])
        c = load(Customer, world.customers["mine"])
        c.wechat_id, c.birth_month, c.birth_day, c.birth_year = "lxj_wx88", 7, 19, 1988
        c.address, c.email = "静安区南京西路1266号", "lxj@example.com"
        c.occupation, c.hobbies, c.notes = "律师", "瑜伽", "对玫瑰精油过敏"
        set_tags(c, ["常带闺蜜"])
        refresh_search_keys(c)
        set_consent(c, True, "in_store_paper", user=manager)
        today = store.today()
        record_visit(c, visited_at=at(today - timedelta(days=3)), staff=b1, services="深层清洁",
                     amount_fen=38800, recorded_by=manager)
        db.session.add(CareNote(store_id=c.store_id, customer_id=c.id, staff_id=b1.id,
                                service_done="补水护理", skin_condition="T区偏油",
                                feedback="想要更温和的洁面"))
        _contact(c, b1.id, at(today - timedelta(days=2)), notes="女儿下月高考",
                 suggestions="希望周末营业到九点")
        make_promise(store, customer_id=c.id, what="送她一瓶玫瑰纯露", due_on=today + timedelta(days=5),
                     staff=b1, by=b1)
        open_complaint(store, customer_id=c.id, received_on=today, channel="phone",
                       summary="上次等了四十分钟", staff=b1, by=manager)
        sell_card(c, name="十次卡", sessions=10, price_fen=100000, by=manager)
        batch = MessageBatch(store_id=c.store_id, created_by_id=manager.id, body="{greeting}",
                             status="running", total=1, queued=1)
        db.session.add(batch)
        db.session.flush()
        db.session.add(OutboundMessage(store_id=c.store_id, batch_id=batch.id, customer_id=c.id,
                                       staff_id=b1.id, body="梁小娟您好，周末护理八折",
                                       status="queued"))
        db.session.add(LedgerEntry(store_id=c.store_id, staff_id=b1.id, customer_id=c.id,
                                   kind="reward", amount_fen=3000, reason="dormant:40",
                                   occurred_on=today, period=today.strftime("%Y-%m"),
                                   dedupe_key=f"reward:test:{c.id}"))
        db.session.commit()
        return c.id


PERSONAL = ("梁小娟", "13812345678", "1381234", "lxj_wx88", "1988", "07-19", "南京西路",
            "lxj@example.com", "律师", "瑜伽", "玫瑰精油", "常带闺蜜", "补水护理", "T区偏油",
            "温和的洁面", "女儿下月高考", "九点", "玫瑰纯露", "四十分钟")


def test_export_holds_everything_about_her_and_is_audited(app, login, world):
    cid = _rich_customer(app, world)
    manager = login("manager")
    response = manager.post(f"/customers/{cid}/privacy/export", data={"format": "json"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    text = json.dumps(data, ensure_ascii=False)
    for piece in ("梁小娟", "+8613812345678", "lxj_wx88", "对玫瑰精油过敏", "常带闺蜜", "补水护理",
                  "女儿下月高考", "玫瑰纯露", "四十分钟", "十次卡", "深层清洁", "in_store_paper"):
        assert piece in text, piece
    assert len(data["visits"]) == 1 and data["visits"][0]["amount_fen"] == 38800
    assert data["ledger"][0]["amount_fen"] == 3000 and data["ledger"][0]["staff_name"]
    assert data["consent_history"][0]["action"] == "consent_given"
    assert data["customer"]["birth_month"] == 7 and data["points"]
    assert data["messages"][0]["body"] == "梁小娟您好，周末护理八折"
    workbook = manager.post(f"/customers/{cid}/privacy/export", data={"format": "xlsx"})
    assert workbook.status_code == 200
    book = load_workbook(io.BytesIO(workbook.data), read_only=True)
    cells = " ".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                     for v in row if v is not None)
    assert "梁小娟" in cells and "补水护理" in cells and "女儿下月高考" in cells
    assert manager.post(f"/customers/{cid}/privacy/export",
                        data={"format": "pdf"}).status_code == 400
    with app.app_context():
        events = _events("export_customer")
        assert [(e.target_id, e.detail["format"], e.user_id) for e in events] == [
            (cid, "json", world.users["manager"]), (cid, "xlsx", world.users["manager"])]


def test_only_managers_of_her_store_export_or_delete(app, login, world):
    cid, other = world.customers["mine"], world.customers["other_store"]
    b1 = login("beautician1")  # her own beautician
    assert b1.get(f"/customers/{cid}/privacy").status_code == 403
    assert b1.post(f"/customers/{cid}/privacy/export", data={"format": "json"}).status_code == 403
    assert b1.post(f"/customers/{cid}/privacy/delete", data={"confirm": "yes"}).status_code == 403
    manager = login("manager")
    assert manager.post(f"/customers/{other}/privacy/export",
                        data={"format": "json"}).status_code == 404
    assert manager.post(f"/customers/{other}/privacy/delete",
                        data={"confirm": "yes"}).status_code == 404
    assert login("owner").get(f"/customers/{cid}/privacy").status_code == 200
    with app.app_context():
        assert load(Customer, cid).deleted_at is None and load(Customer, other).deleted_at is None
        assert not _events("export_customer")


def test_delete_asks_first(app, login, world):
    cid = world.customers["mine"]
    manager = login("manager")
    page = manager.get(f"/customers/{cid}/privacy/delete", headers=EN)
    assert page.status_code == 200 and "cannot be undone" in page.get_data(as_text=True)
    refused = manager.post(f"/customers/{cid}/privacy/delete", data={}, headers=EN)
    assert refused.status_code == 422 and "Tick the box" in refused.get_data(as_text=True)
    with app.app_context():
        assert load(Customer, cid).deleted_at is None and not _events("delete_customer")


def test_anonymise_then_export_shows_no_personal_field(app, login, world):
    cid = _rich_customer(app, world)
    manager = login("manager")
    done = manager.post(f"/customers/{cid}/privacy/delete", data={"confirm": "yes"})
    assert done.status_code == 303
    data = manager.post(f"/customers/{cid}/privacy/export", data={"format": "json"})
    text = data.get_data(as_text=True)
    for piece in PERSONAL:
        assert piece not in text, piece
    exported = json.loads(text)
    assert exported["customer"]["name"] == f"已删除顾客 #{cid}"
    assert exported["customer"]["phone"] is None and exported["customer"]["birth_month"] is None
    assert exported["customer"]["status"] == "deleted" and exported["tags"] == []
    # Amounts, visits, cards and the ledger stay for the books.
    assert exported["customer"]["total_spent_fen"] == 38800
    assert exported["visits"][0]["amount_fen"] == 38800
    assert exported["prepaid_cards"][0]["name"] == "十次卡"
    assert exported["ledger"][0]["amount_fen"] == 3000
    book = manager.post(f"/customers/{cid}/privacy/export", data={"format": "xlsx"})
    cells = " ".join(str(v) for ws in load_workbook(io.BytesIO(book.data)).worksheets
                     for row in ws.iter_rows(values_only=True) for v in row if v is not None)
    for piece in PERSONAL:
        assert piece not in cells, piece
    with app.app_context():
        [event] = _events("delete_customer")
        assert (event.target_id, event.user_id) == (cid, world.users["manager"])
        customer = load(Customer, cid)
        assert customer.deleted_at is not None and not may_market(customer)
        message = db.session.scalar(db.select(OutboundMessage).where(
            OutboundMessage.customer_id == cid))
        assert (message.status, message.body) == ("skipped", "")  # never sent now
        assert db.session.scalar(db.select(db.func.count(CustomerTag.id)).where(
            CustomerTag.customer_id == cid)) == 0
        assert db.session.scalar(db.select(db.func.count(Visit.id)).where(
            Visit.customer_id == cid)) == 1
        assert db.session.scalar(db.select(PrepaidCard.balance_fen).where(
            PrepaidCard.customer_id == cid)) is not None
        # Not found by name or by phone; her number is free for a new card.
        for q in ("梁小娟", "13812345678", "5678", "lxj_wx88"):
            assert not db.session.scalars(matching_ids(world.store1, q)).all(), q
    for q in ("梁小娟", "5678"):
        listing = manager.get(f"/customers/?q={q}").get_data(as_text=True)
        assert f"/customers/{cid}\"" not in listing
    assert f"/customers/{cid}\"" not in manager.get("/customers/").get_data(as_text=True)
    csv = manager.get("/customers/?format=csv").get_data(as_text=True)
    assert "已删除顾客" not in csv and "梁小娟" not in csv
    assert manager.post(f"/customers/{cid}/privacy/delete",
                        data={"confirm": "yes"}).status_code == 404  # once is enough
    again = manager.post("/customers/new", data={"name": "新客", "phone": "138 1234 5678"})
    assert again.status_code == 302


def test_deleted_customer_leaves_every_checklist(app, world):
    cid = _rich_customer(app, world)
    with app.app_context():
        store = load(Store, world.store1)
        customer = load(Customer, cid)
        today = store.today()
        customer.birth_month, customer.birth_day = today.month, today.day
        customer.last_visit_at = at(today - timedelta(days=200))
        db.session.commit()
        complaint = db.session.scalar(db.select(Complaint).where(Complaint.customer_id == cid))
        complaint.next_step_due_on = today + timedelta(days=1)
        gift = create_gift(store, name="玫瑰纯露", face_value_fen=8000, unit_cost_fen=3000,
                           quantity=3, by=load(User, world.users["manager"]))
        reserve(store, customer_id=cid, gift_id=gift.id,
                staff=load(User, world.users["beautician1"]),
                by=load(User, world.users["manager"]), pickup_after=today + timedelta(days=1))
        db.session.commit()
        generate_day(store, today)
        assert db.session.scalar(db.select(db.func.count(Task.id)).where(
            Task.customer_id == cid, Task.status == "open")) > 0
        assert load(Gift, gift.id).reserved == 1
        anonymise(customer, by=load(User, world.users["manager"]))
        assert db.session.scalar(db.select(db.func.count(Task.id)).where(
            Task.customer_id == cid, Task.status == "open")) == 0
        tomorrow = today + timedelta(days=1)
        generate_day(store, tomorrow)
        assert db.session.scalar(db.select(db.func.count(Task.id)).where(
            Task.customer_id == cid, Task.due_on == tomorrow)) == 0
        assert load(Gift, gift.id).reserved == 0  # back on the shelf


# ---- retention of contact notes -------------------------------------------------------------

def test_months_before_clamps_to_the_month_end():
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert months_before(date(2028, 3, 31), 1) == date(2028, 2, 29)
    assert months_before(date(2026, 1, 15), 13) == date(2024, 12, 15)


@pytest.mark.parametrize("months", [0, 6])
def test_contact_notes_are_blanked_after_the_store_keeps_them(app, world, months):
    with app.app_context():
        store = load(Store, world.store1)
        store.contact_notes_months = months
        customer = load(Customer, world.customers["mine"])
        other = load(Customer, world.customers["other_store"])
        b1 = world.users["beautician1"]
        today = date(2026, 8, 31)
        first_kept = datetime.combine(date(2026, 2, 28), time(0, 0), tzinfo=SHANGHAI)
        kept = _contact(customer, b1, first_kept, notes="刚好保留")
        gone = _contact(customer, b1, first_kept - timedelta(minutes=1), notes="刚好过期",
                        suggestions="多开晚班")
        elsewhere = _contact(other, world.users["beautician7"], first_kept - timedelta(days=400),
                             notes="别的店")
        db.session.commit()
        blanked = blank_old_contact_notes(store, today)
        db.session.commit()
        db.session.expire_all()
        assert kept.notes == "刚好保留" and elsewhere.notes == "别的店"
        if months == 0:
            assert blanked == 0 and gone.notes == "刚好过期"
        else:
            assert blanked == 1 and gone.notes is None and gone.suggestions is None
            assert gone.outcome == "reached"  # the contact itself stays


def test_daily_job_applies_each_stores_retention(app, world):
    with app.app_context():
        store = load(Store, world.store1)
        store.contact_notes_months = 1
        customer = load(Customer, world.customers["mine"])
        old = _contact(customer, world.users["beautician1"], utcnow() - timedelta(days=70))
        db.session.commit()
        assert jobs.blank_old_contact_notes() == {world.store1: 1, world.store2: 0}
        db.session.expire_all()
        assert old.notes is None


def test_retention_is_a_store_setting(app, login, world):
    manager = login("manager")
    page = manager.get("/manager/settings", headers=EN).get_data(as_text=True)
    assert 'name="contact_notes_months"' in page and "Keep contact notes" in page
    with app.app_context():
        from kq.services import settings as service

        store = load(Store, world.store1)
        form = {s.name: s.shown(getattr(store, s.name)) for s in service.SETTINGS}
    form["contact_notes_months"] = "121"
    bad = manager.post("/manager/settings", data=form, headers=EN)
    assert bad.status_code == 422
    form["contact_notes_months"] = "18"
    assert manager.post("/manager/settings", data=form).status_code in (302, 303)
    with app.app_context():
        assert load(Store, world.store1).contact_notes_months == 18  # at once, not tomorrow


def test_collect_reads_only_her_store(app, world):
    with app.app_context():
        data = collect(load(Customer, world.customers["mine"]))
        assert data["store"] == "一店" and data["customer"]["name"] == "梁小娟"


def test_deleted_card_is_read_only_and_its_actions_are_gone(app, login, world):
    cid = _rich_customer(app, world)
    manager = login("manager")
    assert manager.post(f"/customers/{cid}/privacy/delete", data={"confirm": "yes"}).status_code == 303
    page = manager.get(f"/customers/{cid}", headers=EN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Deleted on" in html
    # <title>, the top bar and the heading: the name once each (not "name name")
    assert html.count(f"Deleted customer #{cid}") == 3
    assert "已删除顾客" not in html
    for gone in ("Record visit", "Print her card", "Profile", "Care note", "+&nbsp;Promise",
                 "+&nbsp;Gift", "She agreed", "She withdrew", f"/customers/{cid}/edit",
                 "due ", "Kept", "Sell a card", "Win her back"):
        assert gone not in html, gone
    zh = manager.get(f"/customers/{cid}").get_data(as_text=True)
    assert zh.count(f"已删除顾客 #{cid}") == 3
    for url, data in ((f"/customers/{cid}/visits/new", {}), (f"/customers/{cid}/care-notes/new", {}),
                      (f"/customers/{cid}/promises/new", {}), (f"/customers/{cid}/complaints/new", {}),
                      (f"/customers/{cid}/win-back", {}), (f"/customers/{cid}/consent", {"given": "no"}),
                      (f"/customers/{cid}/edit", {}), (f"/customers/{cid}/cards/new", {}),
                      (f"/gifts/give/{cid}", {})):
        assert manager.post(url, data=data).status_code == 404, url
    assert manager.get(f"/calls/log?customer_id={cid}").status_code == 404
    privacy = manager.get(f"/customers/{cid}/privacy", headers=EN).get_data(as_text=True)
    assert f"Deleted customer #{cid}" in privacy and "已删除顾客" not in privacy
