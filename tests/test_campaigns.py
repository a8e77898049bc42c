"""Campaigns (SPEC §8): the segment frozen at launch, touches on the right person's list on their
day (once), a gift short of stock refusing the launch, coverage and reactivations on a
timeline, the printed review, and who may see the pages."""
import uuid
from datetime import date, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from kq.extensions import db
from kq.models import Contact, Customer, Gift, GiftHandout, Store, Task, User, Visit
from kq.models.campaign import Campaign, CampaignMember
from kq.services import ServiceError
from kq.services import campaigns as svc
from kq.services.assignments import assign
from kq.services.checklist import generate_day
from kq.services.gifts import create_gift, move_stock
from kq.services.visits import record_visit
from tests.factories import CustomerFactory
from tests.helpers import at, load

EN = {"Accept-Language": "en"}
DAY0 = date(2026, 3, 2)  # the campaign's first day in the timeline tests


def _customers(store, n, *, key, staff=None, consent=True, last_visit_days=10, today=None):
    today = today or store.today()
    made = []
    for _ in range(n):
        c = CustomerFactory(store_id=store.id, is_key=key, marketing_consent=consent,
                            phone=f"+86139{uuid.uuid4().int % 10 ** 8:08d}",
                            created_at=at(today - timedelta(days=400)),
                            last_visit_at=at(today - timedelta(days=last_visit_days)))
        if staff is not None:
            c.assigned_staff_id = staff.id
        made.append(c)
    db.session.commit()
    return made


def _campaign(store, manager, *, start, end, spec=None, name="春季关怀"):
    return svc.save(store, None, name=name, goal="所有客户通知到位", segment=spec or {},
                    phases=[("第一阶段", start, end)], by=manager)


def _world(world):
    """Store 1 with its people; the world's own two customers are left out (deleted)."""
    from kq.models import utcnow

    store = load(Store, world.store1)
    for label in ("mine", "colleague"):
        load(Customer, world.customers[label]).deleted_at = utcnow()
    db.session.commit()
    return (store, load(User, world.users["manager"]), load(User, world.users["beautician1"]),
            load(User, world.users["beautician2"]), load(User, world.users["owner"]))


def test_launch_freezes_the_segment(app, world):
    with app.app_context():
        store, manager, b1, b2, _owner = _world(world)
        today = store.today()
        keys = _customers(store, 3, key=True, staff=b1)
        general = _customers(store, 4, key=False, staff=b2)
        campaign = _campaign(store, manager, start=today, end=today + timedelta(days=10),
                             spec={"tags": [], "key": "all", "staff_ids": [b1.id, b2.id]})
        assert svc.counts(store, campaign) == {"total": 7, "key": 3, "general": 4}
        svc.launch(store, campaign, by=manager)
        # After launch: a new customer of the segment, a key customer becoming general and a
        # reassignment change nothing of the campaign.
        _customers(store, 2, key=True, staff=b1)
        keys[0].is_key = False
        assign(general[0], b1, by=manager)
        db.session.commit()
        assert svc.counts(store, campaign) == {"total": 7, "key": 3, "general": 4}
        member = db.session.scalar(select(CampaignMember).where(
            CampaignMember.customer_id == keys[0].id))
        assert member.is_key is True and member.staff_id == b1.id
        moved = db.session.scalar(select(CampaignMember).where(
            CampaignMember.customer_id == general[0].id))
        assert moved.staff_id == b2.id  # her beautician at launch
        with pytest.raises(ServiceError):
            svc.launch(store, campaign, by=manager)  # once


def test_touches_become_items_on_their_day_for_the_right_people_once(app, world):
    with app.app_context():
        store, manager, b1, b2, owner = _world(world)
        today = store.today()
        keys = _customers(store, 2, key=True, staff=b1)
        general = _customers(store, 3, key=False, staff=b2)
        refused = _customers(store, 1, key=True, staff=b1, consent=False)
        campaign = _campaign(store, manager, start=today, end=today + timedelta(days=14),
                             spec={"staff_ids": [b1.id, b2.id]})
        day = today + timedelta(days=3)
        svc.add_touch(store, campaign, day=day, channel="sms", who="staff", audience="all",
                      body="{greeting}您好，店里有春季关怀活动，回我了解。—{staff}")
        svc.add_touch(store, campaign, day=day, channel="voice", who="owner", audience="key",
                      body="{greeting}，我是老板，想亲自问候您。")
        svc.add_touch(store, campaign, day=day + timedelta(days=1), channel="phone",
                      who="staff", audience="key", body="{greeting}您好，邀请您到店领礼品。")
        svc.launch(store, campaign, by=manager)

        def campaign_items(on):
            return db.session.execute(select(Task.staff_id, Task.customer_id).where(
                Task.kind == "campaign_touch", Task.due_on == on)).all()

        generate_day(store, day - timedelta(days=1))
        assert campaign_items(day - timedelta(days=1)) == []
        generate_day(store, day)
        got = sorted(campaign_items(day))
        expected = sorted([(b1.id, c.id) for c in keys] + [(b2.id, c.id) for c in general]
                          + [(owner.id, c.id) for c in keys])
        assert got == expected  # she who gave no consent gets no campaign message
        assert refused[0].id not in {c for _s, c in got}
        item = db.session.scalar(select(Task).where(Task.kind == "campaign_touch",
                                                    Task.staff_id == b1.id, Task.due_on == day))
        assert item.detail["campaign"] == "春季关怀" and "{greeting}" in item.detail["script"]
        assert generate_day(store, day) == 0  # idempotent
        assert len(campaign_items(day)) == len(expected)
        generate_day(store, day + timedelta(days=1))
        assert sorted(campaign_items(day + timedelta(days=1))) == sorted(
            (b1.id, c.id) for c in keys)  # key customers only, by their beautician


def test_a_gift_short_of_stock_refuses_the_launch_and_reserves_nothing(app, world):
    with app.app_context():
        store, manager, b1, _b2, _owner = _world(world)
        today = store.today()
        _customers(store, 162, key=True, staff=b1)
        _customers(store, 290, key=False, staff=b1)
        gift = create_gift(store, name="抗病毒洗手液", face_value_fen=19800, unit_cost_fen=2900,
                           quantity=150, by=manager)
        campaign = _campaign(store, manager, start=today, end=today + timedelta(days=20),
                             spec={"staff_ids": [b1.id]})
        svc.add_gift(store, campaign, gift_id=gift.id, audience="key",
                     pickup_after=(today + timedelta(days=15)).isoformat())
        assert svc.counts(store, campaign) == {"total": 452, "key": 162, "general": 290}
        need = svc.gift_needs(store, campaign)[0]
        assert (need["total_needed"], need["available"], need["short"]) == (162, 150, 12)
        with pytest.raises(ServiceError) as refused:
            svc.launch(store, campaign, by=manager)
        assert refused.value.code == "short"
        db.session.expire_all()
        assert load(Gift, gift.id).reserved == 0
        assert db.session.scalar(select(func.count(GiftHandout.id))) == 0
        assert db.session.scalar(select(func.count(CampaignMember.id))) == 0
        assert load(Campaign, campaign.id).status == "draft"
        move_stock(store, gift.id, change=12, reason="restock", note="", by=manager)
        campaign = load(Campaign, campaign.id)
        svc.launch(store, campaign, by=manager)
        db.session.expire_all()
        assert load(Gift, gift.id).reserved == 162 == load(Gift, gift.id).quantity
        handouts = db.session.scalars(select(GiftHandout)).all()
        assert {h.campaign_id for h in handouts} == {campaign.id}
        assert {h.pickup_after for h in handouts} == {today + timedelta(days=15)}


def test_the_editor_shows_the_shortfall_and_the_launch_is_refused(app, world, login):
    with app.app_context():
        store, manager, b1, _b2, _owner = _world(world)
        _customers(store, 3, key=True, staff=b1)
        gift = create_gift(store, name="口罩", face_value_fen=1000, unit_cost_fen=300,
                           quantity=2, by=manager)
        campaign = _campaign(store, manager, start=store.today(),
                             end=store.today() + timedelta(days=5), spec={"key": "key"})
        svc.add_gift(store, campaign, gift_id=gift.id, audience="key", pickup_after="")
        campaign_id, gift_id = campaign.id, gift.id
    client = login("manager")
    page = client.get(f"/manager/campaigns/{campaign_id}/edit", headers=EN).get_data(True)
    assert "3 needed, 2 free on the shelf" in page and "1 short" in page
    response = client.post(f"/manager/campaigns/{campaign_id}/launch", headers=EN,
                           follow_redirects=True)
    assert "Not enough 口罩: 3 needed, 2 free" in response.get_data(True)
    with app.app_context():
        assert load(Campaign, campaign_id).status == "draft"
        assert load(Gift, gift_id).reserved == 0


def _contact(store, customer, staff, moment, outcome="reached", channel="sms"):
    db.session.add(Contact(store_id=store.id, customer_id=customer.id, staff_id=staff.id,
                           client_id=str(uuid.uuid4()), channel=channel, outcome=outcome,
                           contacted_at=moment))


def test_coverage_and_reactivations_on_a_timeline(app, world):
    """Coverage counts any contact during the campaign; visits and reactivations count during
    it and the 30 days after; a dormant member who comes back on day 31 after it is not one."""
    with app.app_context():
        store, manager, b1, b2, _owner = _world(world)
        with freeze_time(at(DAY0 - timedelta(days=1), 12)):
            today = store.today()
            awake = _customers(store, 2, key=True, staff=b1, today=today)
            asleep = _customers(store, 3, key=False, staff=b2, last_visit_days=200, today=today)
            campaign = _campaign(store, manager, start=DAY0, end=DAY0 + timedelta(days=14),
                                 spec={"staff_ids": [b1.id, b2.id]})
            svc.launch(store, campaign, by=manager)
            db.session.commit()
            n = svc.figures(store, campaign)
            assert (n["members"], n["notified"], n["dormant"]) == (5, 0, 3)
            assert len(n["missing"]) == 5
        # Before the campaign: a contact the day before it counts for nothing.
        _contact(store, awake[0], b1, at(DAY0 - timedelta(days=1), 15))
        # During: two texts, one booking call.
        _contact(store, awake[0], b1, at(DAY0 + timedelta(days=2)))
        _contact(store, asleep[0], b2, at(DAY0 + timedelta(days=3)), outcome="no_answer")
        _contact(store, asleep[1], b2, at(DAY0 + timedelta(days=4)), outcome="booked",
                 channel="phone")
        db.session.commit()
        end = DAY0 + timedelta(days=14)
        record_visit(asleep[1], visited_at=at(end + timedelta(days=30), 11), staff=b2,
                     amount_fen=36800)  # the 30th day after: counted
        record_visit(asleep[2], visited_at=at(end + timedelta(days=31), 11), staff=b2,
                     amount_fen=36800)  # the 31st: not
        with freeze_time(at(end + timedelta(days=40), 12)):
            n = svc.figures(store, load(Campaign, campaign.id))
        assert (n["notified"], n["replied"], n["booked"]) == (3, 2, 1)
        assert round(n["coverage"]) == 60
        assert {m["customer"].id for m in n["missing"]} == {awake[1].id, asleep[2].id}
        assert (n["visited"], n["visits"], n["reactivated"], n["revenue_fen"]) == (1, 1, 1, 36800)
        by_staff = {r["staff_id"]: r for r in n["staff"]}
        assert (by_staff[b1.id]["members"], by_staff[b1.id]["notified"]) == (2, 1)
        assert (by_staff[b2.id]["notified"], by_staff[b2.id]["reactivated"]) == (2, 1)
        # On the campaign's fifth day the visit to come is not counted yet.
        with freeze_time(at(DAY0 + timedelta(days=4), 20)):
            n = svc.figures(store, load(Campaign, campaign.id))
        assert (n["notified"], n["visited"], n["reactivated"]) == (3, 0, 0)


def test_the_review_prints(app, world, tmp_path):
    import subprocess
    from io import BytesIO

    from flask_babel import force_locale
    from pypdf import PdfReader

    from kq.models import Report
    from kq.services import printing

    with app.app_context():
        store, manager, b1, _b2, _owner = _world(world)
        today = store.today()
        _customers(store, 3, key=True, staff=b1)
        campaign = _campaign(store, manager, start=today, end=today + timedelta(days=9),
                             name="春季客情关怀活动")
        svc.add_touch(store, campaign, day=today, channel="phone", who="staff",
                      audience="key", body="{greeting}您好，邀请您到店。")
        svc.save_notes(campaign, kickoff_notes="每人分到重点客户", review_notes="电话到位率高")
        svc.launch(store, campaign, by=manager)
        report = Report(store_id=store.id, kind="campaign",
                        params={"campaign": campaign.id, "date": today.isoformat()},
                        params_key="x", requested_by_id=manager.id, locale="zh_Hans")
        with app.test_request_context(), force_locale("zh_Hans"):
            html = printing.render_html(report)
        pdf, pages = printing.write_pdf(html)
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    assert "春季客情关怀活动" in text and "电话到位率高" in text
    assert pages >= 1
    (tmp_path / "review.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1",
                    str(tmp_path / "review.pdf"), str(tmp_path / "page")], check=True)
    assert list(tmp_path.glob("page*.png"))


def test_who_sees_the_campaign_pages(app, world, login):
    with app.app_context():
        store, manager, b1, _b2, _owner = _world(world)
        _customers(store, 2, key=True, staff=b1)
        _customers(store, 1, key=False, staff=b1)
        campaign = _campaign(store, manager, start=store.today(),
                             end=store.today() + timedelta(days=5))
        svc.add_touch(store, campaign, day=store.today(), channel="phone", who="staff",
                      audience="all", body="{greeting}您好，春季关怀。")
        svc.launch(store, campaign, by=manager)
        generate_day(store, store.today())
        campaign_id = campaign.id
    beautician = login("beautician1")
    for path in ("/manager/campaigns/", f"/manager/campaigns/{campaign_id}",
                 f"/manager/campaigns/{campaign_id}/edit", "/manager/campaigns/new"):
        assert beautician.get(path).status_code == 404
    assert beautician.post(f"/manager/campaigns/{campaign_id}/launch").status_code == 404
    for user in ("manager", "owner"):
        client = login(user)
        listing = client.get("/manager/campaigns/", headers=EN).get_data(True)
        assert "春季关怀" in listing and "2 key / 1 general" in listing
        page = client.get(f"/manager/campaigns/{campaign_id}", headers=EN)
        assert page.status_code == 200
        text = page.get_data(True)
        assert "春季关怀" in text and ">3<" in text and ">2<" in text and ">1<" in text
        assert "0 of 3 done" in text
    # another store's manager sees no such campaign
    assert login("manager2").get(f"/manager/campaigns/{campaign_id}").status_code == 404


def test_a_manager_builds_a_campaign_on_the_editor(app, world, login):
    with app.app_context():
        store, _manager, b1, _b2, _owner = _world(world)
        _customers(store, 2, key=True, staff=b1)
        today = store.today()
    client = login("manager")
    assert client.get("/manager/campaigns/new", headers=EN).status_code == 200
    bad = client.post("/manager/campaigns/", data={"name": "", "phase_start_0": "x"},
                      headers=EN)
    assert bad.status_code == 422
    response = client.post("/manager/campaigns/", data={
        "name": "三八节", "goal": "邀请到店", "segment_key": "key",
        "phase_name_0": "预热", "phase_start_0": today.isoformat(),
        "phase_end_0": (today + timedelta(days=7)).isoformat()}, headers=EN)
    assert response.status_code == 303
    campaign_id = int(response.headers["Location"].split("/")[-2])
    counted = client.get("/manager/campaigns/count?segment_key=key").get_json()
    assert counted["key"] == counted["total"] >= 2
    assert client.get("/manager/campaigns/count?segment_dormant_min_days=x").status_code == 422
    added = client.post(f"/manager/campaigns/{campaign_id}/touches", data={
        "day": today.isoformat(), "channel": "sms", "who": "staff", "audience": "all",
        "body": "{greeting}您好，三八节快乐，店里给您留了礼物。—{staff}"}, headers=EN)
    assert added.status_code == 303
    unsigned = client.post(f"/manager/campaigns/{campaign_id}/touches", data={
        "day": today.isoformat(), "channel": "sms", "who": "staff", "audience": "all",
        "body": "{greeting}您好，三八节快乐"}, headers=EN, follow_redirects=True)
    assert "signed" in unsigned.get_data(True)
    launched = client.post(f"/manager/campaigns/{campaign_id}/launch")
    assert launched.status_code == 303
    with app.app_context():
        campaign = load(Campaign, campaign_id)
        assert campaign.launched and len(campaign.touches) == 1
        assert db.session.scalar(select(func.count(CampaignMember.id)).where(
            CampaignMember.campaign_id == campaign_id)) == 2


def test_a_store_broadcast_becomes_one_bulk_draft_on_its_day(app, world, login):
    from kq.models.campaign import CampaignTouch
    from kq.models.messaging import MessageBatch

    with app.app_context():
        store, manager, b1, _b2, _owner = _world(world)
        today = store.today()
        _customers(store, 3, key=True, staff=b1)
        _customers(store, 2, key=False, staff=b1, consent=False)
        campaign = _campaign(store, manager, start=today, end=today + timedelta(days=9))
        svc.add_touch(store, campaign, day=today + timedelta(days=1), channel="sms",
                      who="broadcast", audience="all",
                      body="{greeting}您好，{store}春季关怀活动开始了，欢迎回店。—{staff}")
        svc.launch(store, campaign, by=manager)
        generate_day(store, today)
        assert db.session.scalar(select(func.count(MessageBatch.id))) == 0
        for _ in range(2):  # the daily run, twice
            generate_day(store, today + timedelta(days=1))
        batches = db.session.scalars(select(MessageBatch)).all()
        touch = db.session.scalars(select(CampaignTouch)).one()
        assert len(batches) == 1 and touch.batch_id == batches[0].id
        batch = batches[0]
        assert (batch.source_type, batch.source_id, batch.status) == ("campaign_touch", touch.id,
                                                                      "draft")
        assert (batch.total, batch.skipped_no_consent) == (5, 2)
        assert not db.session.scalar(select(func.count(Task.id)).where(
            Task.kind == "campaign_touch"))  # a broadcast is no one's item
        campaign_id, touch_id = campaign.id, touch.id
    response = login("manager").post(
        f"/manager/campaigns/{campaign_id}/touches/{touch_id}/prepare")
    assert response.status_code == 303 and "/manager/bulk/" in response.headers["Location"]


def test_a_campaign_launched_after_todays_lists_puts_todays_touches_on_them_once(app, world):
    """Today's lists were built (08:00 run or the first page view) before the launch: the
    launch puts today's touches on them, the broadcast drafted once; a rerun adds nothing."""
    from kq.models.campaign import CampaignTouch
    from kq.models.messaging import MessageBatch

    with app.app_context():
        store, manager, b1, b2, owner = _world(world)
        today = store.today()
        keys = _customers(store, 2, key=True, staff=b1)
        general = _customers(store, 1, key=False, staff=b2)
        generate_day(store, today)  # before the launch
        campaign = _campaign(store, manager, start=today, end=today + timedelta(days=9),
                             spec={"staff_ids": [b1.id, b2.id]})
        svc.add_touch(store, campaign, day=today, channel="phone", who="staff",
                      audience="all", body="{greeting}您好，邀请您到店。")
        svc.add_touch(store, campaign, day=today, channel="voice", who="owner",
                      audience="key", body="{greeting}，我是老板。")
        svc.add_touch(store, campaign, day=today, channel="sms", who="broadcast",
                      audience="all", body="{greeting}您好，{store}活动开始了。—{staff}")
        svc.launch(store, campaign, by=manager)

        def items():
            return sorted(db.session.execute(select(Task.staff_id, Task.customer_id).where(
                Task.kind == "campaign_touch", Task.due_on == today)).all())

        expected = sorted([(b1.id, c.id) for c in keys] + [(b2.id, general[0].id)]
                          + [(owner.id, c.id) for c in keys])
        assert items() == expected
        assert db.session.scalar(select(func.count(MessageBatch.id))) == 1
        assert generate_day(store, today) == 0
        assert items() == expected
        assert db.session.scalar(select(func.count(MessageBatch.id))) == 1
        # A touch added for today to the running campaign reaches today's list too.
        svc.add_touch(store, campaign, day=today, channel="wechat", who="staff",
                      audience="key", body="{greeting}您好。")
        assert items() == expected  # same people, same kind: already on the list
        touch = db.session.scalars(select(CampaignTouch).where(
            CampaignTouch.who == "broadcast")).one()
        assert touch.batch_id is not None


def test_a_touch_whose_day_has_passed_refuses_the_launch(app, world):
    with app.app_context():
        store, manager, b1, _b2, _owner = _world(world)
        today = store.today()
        _customers(store, 2, key=True, staff=b1)
        with freeze_time(at(today - timedelta(days=2), 12)):
            campaign = _campaign(store, manager, start=today - timedelta(days=2),
                                 end=today + timedelta(days=9))
            svc.add_touch(store, campaign, day=today - timedelta(days=1), channel="phone",
                          who="staff", audience="all", body="{greeting}您好。")
        with pytest.raises(ServiceError) as refused:
            svc.launch(store, campaign, by=manager)
        assert refused.value.code == "past_touch" and "day" in refused.value.message
        db.session.rollback()
        assert not load(Campaign, campaign.id).launched
        assert not db.session.scalar(select(func.count(CampaignMember.id)))
        with pytest.raises(ServiceError):  # and the editor refuses a past day for a draft
            svc.add_touch(store, campaign, day=today - timedelta(days=1), channel="phone",
                          who="staff", audience="all", body="{greeting}您好。")


def test_the_script_list_shows_the_readers_language_with_the_others_one_tap_away(
        app, world, login):
    from kq.models.messaging import MessageScript
    from kq.scripts import seed_scripts

    with app.app_context():
        store, manager, _b1, _b2, _owner = _world(world)
        seed_scripts(store, commit=True)
        campaign = _campaign(store, manager, start=store.today(),
                             end=store.today() + timedelta(days=5))
        campaign_id = campaign.id
        by_locale = {loc: db.session.scalars(select(MessageScript).where(
            MessageScript.store_id == store.id, MessageScript.locale == loc)).first()
            for loc in ("en", "zh_Hans", "zh_Hant")}
        ids = {loc: f'<option value="{s.id}">' for loc, s in by_locale.items()}
    client = login("manager")
    page = client.get(f"/manager/campaigns/{campaign_id}/edit", headers=EN).get_data(True)
    assert ids["en"] in page and ids["zh_Hans"] not in page and ids["zh_Hant"] not in page
    assert "scripts=all" in page
    page = client.get(f"/manager/campaigns/{campaign_id}/edit?scripts=all",
                      headers=EN).get_data(True)
    assert all(option in page for option in ids.values())


def test_a_gift_short_of_stock_is_added_with_one_message_saying_so(app, world, login):
    with app.app_context():
        store, manager, b1, _b2, _owner = _world(world)
        _customers(store, 3, key=True, staff=b1)
        short = create_gift(store, name="口罩", face_value_fen=1000, unit_cost_fen=300,
                            quantity=2, by=manager)
        enough = create_gift(store, name="面膜", face_value_fen=1000, unit_cost_fen=300,
                             quantity=3, by=manager)
        campaign = _campaign(store, manager, start=store.today(),
                             end=store.today() + timedelta(days=5), spec={"key": "key"})
        campaign_id, short_id, enough_id = campaign.id, short.id, enough.id
    client = login("manager")
    page = client.post(f"/manager/campaigns/{campaign_id}/gifts", headers=EN,
                       data={"gift_id": enough_id, "audience": "key"},
                       follow_redirects=True).get_data(True)
    assert "Gift added." in page and "short of stock" not in page
    page = client.post(f"/manager/campaigns/{campaign_id}/gifts", headers=EN,
                       data={"gift_id": short_id, "audience": "key"},
                       follow_redirects=True).get_data(True)
    assert "Gift added, but 1 short of stock" in page and "Gift added." not in page
