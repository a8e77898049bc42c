"""The demo salon: two stores, staff, ~1,000 customers with 18 months of history, ~60% dormant."""
import random
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import func, select, update

from kq.extensions import db
from kq.models import (BEAUTICIAN, MANAGER, OWNER, CardMove, CareNote, Complaint, ComplaintStep,
                       Contact, Customer, Gift, GiftHandout, GiftStockMove, PrepaidCard, Promise,
                       Store, User, Visit)
from kq.models.engagement import COMPLAINT_STEPS
from kq.services.assignments import assign
from kq.services.classify import recompute_store
from kq.services.customers import refresh_search_keys
from kq.services.visits import record_visit

DEMO_PASSWORD = "demo1234"  # nosec B105 # the demo salon's published sign-in

SURNAMES = ("李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
            "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
            "顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文")
GIVEN_F = "娟丽静敏燕艳芳娜秀英华慧巧美婷雪琳晶洁玉萍红霞莉兰凤梅琴云莲真欣怡佳颖倩雅蕾薇"
GIVEN_M = "伟强磊军洋勇杰涛斌超明刚平辉鹏华飞鑫波宇浩"
SERVICES = (("面部深层清洁", 29800), ("补水护理", 36800), ("肩颈按摩", 19800),
            ("眼部护理", 25800), ("美白导入", 48000), ("背部SPA", 32800), ("身体护理", 39800),
            ("头部舒压", 16800), ("抗衰紧致", 68000))
TRIALS = (("新客面部清洁体验", 3900), ("补水体验", 6800), ("肩颈体验", 9900))
TRIAL_SHARE = 0.45
CARD_PRICES = {10: 298000, 12: 348000, 20: 528000}  # a course card's price by its sessions
SKIN = ("dry", "oily", "combination", "normal", "sensitive")
SOURCES = ("walk_in", "referral", "trial_card", "online")
HOBBIES = ("瑜伽", "烘焙", "旅行", "追剧", "跑步", "插花", "摄影", "读书")
JOBS = ("教师", "会计", "护士", "公司职员", "个体经营", "公务员", "设计师", "全职妈妈")


def _staff(store, username, name, role):
    user = User(store_id=store.id, username=username, display_name=name, role=role)
    user.set_password(DEMO_PASSWORD)
    db.session.add(user)
    return user


# Mobile prefixes long in use (13x, 15x but 154, 166, 175–178, 18x, 198, 199). The rest of
# 1[3-9]x is unassigned or data-only, and the app's own validator refuses it: a quarter of the
# demo's cards could not be saved unchanged.
MOBILE_PREFIXES = tuple(sorted({f"13{d}" for d in range(10)} | {f"15{d}" for d in range(10)}
                               - {"154"} | {"166", "175", "176", "177", "178", "198", "199"}
                               | {f"18{d}" for d in range(10)}))


def mobile_number(second, rest):
    """A valid mainland mobile in E.164 from the draws the demo always made (the second digit,
    and nine more): the same random sequence as before, so the rest of the demo is unchanged."""
    prefix = f"1{second}{rest // 10 ** 8}"
    if prefix not in MOBILE_PREFIXES:
        prefix = MOBILE_PREFIXES[rest % len(MOBILE_PREFIXES)]
    return f"+86{prefix}{rest % 10 ** 8:08d}"


def _phone(rng, used):
    while True:
        number = mobile_number(rng.choice("3456789"), rng.randrange(10**9))
        if number not in used:
            used.add(number)
            return number


def _local(store, day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=store.tz).astimezone(timezone.utc)


def _customer(rng, store, used_phones, today, name=None, gender=None):
    gender = gender or ("F" if rng.random() < 0.92 else "M")
    surname = name[0] if name else rng.choice(SURNAMES)
    if name is None:
        pool = GIVEN_F if gender == "F" else GIVEN_M
        given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.7 else "")
        if gender == "F" and rng.random() < 0.3:
            given = "小" + given[0]
        name = surname + given
    age = rng.randint(22, 62)
    title = "先生" if gender == "M" else ("小姐" if age < 36 else rng.choice(("女士", "姐")))
    birth_year = today.year - age if rng.random() < 0.6 else None
    rich = rng.random() < 0.35
    customer = Customer(
        store_id=store.id, name=name, surname=surname, title=title,
        greeting_name=surname + title, gender=gender, phone=_phone(rng, used_phones),
        birth_month=rng.randint(1, 12), birth_day=rng.randint(1, 28), birth_year=birth_year,
        approx_age=age, skin_type=rng.choice(SKIN), source=rng.choice(SOURCES),
        marketing_consent=rng.random() < 0.85, purchasing_power=rng.randint(3, 5) if rich else rng.randint(1, 3),
        tier=rng.choice(("A", "B", "C", "C", None)),
    )
    customer.consent_source = "in_store_paper" if customer.marketing_consent else None
    if rng.random() < 0.4:
        customer.occupation = rng.choice(JOBS)
        customer.hobbies = "、".join(rng.sample(HOBBIES, 2))
    if rng.random() < 0.2:
        customer.personality_type = rng.choice(("impulsive", "passive", "novelty", "comparing",
                                                "trying", "partner", "independent"))
        customer.buying_psychology = rng.choice(("vanity", "belonging", "fearful", "comparing"))
    return customer


def _history(rng, store, customer, staff_members, today, cards):
    """Visits from joining until she stopped coming. As in the trade, a large share came on a
    trial or acquisition card, paid little and mostly did not come back; ~60% are dormant."""
    trial = rng.random() < TRIAL_SHARE
    joined = today - timedelta(days=rng.randint(40, 540))
    if rng.random() < (0.8 if trial else 0.44):
        stop = today - timedelta(days=rng.randint(31, max(32, (today - joined).days)))
    else:
        stop = today - timedelta(days=rng.randint(0, 29))
    customer.created_at = _local(store, joined, 10)
    if trial:
        customer.source = rng.choice(("trial_card", "trial_card", "online"))
        for n in range(rng.choice((1, 1, 2))):
            service, price = rng.choice(TRIALS)
            day = max(joined, stop - timedelta(days=14 * n))
            record_visit(customer, visited_at=_local(store, day, rng.randint(10, 20)),
                         staff=rng.choice(staff_members), services=service, amount_fen=price,
                         commit=False, reclassify=False)
        return
    interval = rng.choice((7, 10, 14, 21, 30, 45))
    card = None
    if rng.random() < 0.45:
        sessions = rng.choice((10, 12, 20))
        card = PrepaidCard(store_id=store.id, customer_id=customer.id,
                           name=rng.choice(("补水护理卡", "肩颈疗程卡", "年度会员卡")),
                           sessions_total=sessions, balance_fen=0,
                           expires_on=joined + timedelta(days=730),
                           price_fen=CARD_PRICES[sessions], sold_by_id=staff_members[0].id,
                           created_at=_local(store, joined, 10))
        db.session.add(card)
        db.session.flush()
        # Its sale, so that the card's sessions are the sum of its moves (the visits below
        # add the uses through the card service).
        db.session.add(CardMove(store_id=store.id, card_id=card.id, customer_id=customer.id,
                                kind="sale", sessions_delta=sessions, paid_fen=card.price_fen,
                                staff_id=staff_members[0].id, created_at=card.created_at))
        cards.append(card)
    days, day = [], stop  # counted back from her last visit, so "stopped" means exactly that
    while day >= joined:
        days.append(day)
        day -= timedelta(days=max(3, int(rng.gauss(interval, interval / 4))))
    last_visit = None
    for day in reversed(days):
        service, price = rng.choice(SERVICES)
        staff = rng.choice(staff_members)
        use_card = card is not None and card.sessions_left > 0
        last_visit = record_visit(customer, visited_at=_local(store, day, rng.randint(10, 20),
                                                              rng.choice((0, 15, 30, 45))),
                                  staff=staff, services=service,
                                  amount_fen=0 if use_card else price,
                                  prepaid_card=card if use_card else None, commit=False,
                                  reclassify=False)
    if last_visit is not None and rng.random() < 0.5:
        db.session.add(CareNote(store_id=store.id, customer_id=customer.id, visit=last_visit,
                                staff_id=last_visit.staff_id,
                                service_done=last_visit.services,
                                skin_condition=rng.choice(("T区偏油，两颊干燥", "肤色暗沉", "轻微泛红",
                                                           "状态稳定", "毛孔粗大")),
                                feedback=rng.choice(("很满意", "觉得力度可以再轻一点", "希望下次约周末",
                                                     "效果明显", "")),
                                created_at=last_visit.visited_at + timedelta(hours=1)))


def _contacts(rng, store, customer, staff, today):
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
        day = today - timedelta(days=rng.randint(1, 60))
        moment = _local(store, day, rng.randint(10, 20), rng.randint(0, 59))
        outcome = rng.choice(("reached", "reached", "no_answer", "booked", "declined"))
        db.session.add(Contact(store_id=store.id, customer_id=customer.id, staff_id=staff.id,
                               client_id=f"demo-{customer.id}-{day.isoformat()}-{rng.random():.6f}",
                               channel=rng.choice(("phone", "wechat_text", "sms")),
                               outcome=outcome, contacted_at=moment,
                               satisfaction=rng.randint(3, 5) if outcome == "reached" else None))
        if customer.last_contact_at is None or moment > customer.last_contact_at:
            customer.last_contact_at = moment


def _populate(rng, store, n, staff_members, manager, used_phones, special=()):
    today = store.today()
    customers = [_customer(rng, store, used_phones, today, name=name, gender="F")
                 for name in special]
    customers += [_customer(rng, store, used_phones, today) for _ in range(n - len(customers))]
    # A few birthdays today and tomorrow, so the checklist has them from day one.
    for i, customer in enumerate(customers[len(special):len(special) + 8]):
        day = today + timedelta(days=i % 2)
        customer.birth_month, customer.birth_day = day.month, day.day
    db.session.add_all(customers)
    db.session.flush()
    for i, customer in enumerate(customers[1:], start=1):
        if rng.random() < 0.1:  # a friend brought her
            customer.referred_by_id = customers[rng.randrange(i)].id
            customer.source = "referral"
    cards = []
    for i, customer in enumerate(customers):
        _history(rng, store, customer, staff_members, today, cards)
        if i % 10 != 9:  # ~90% assigned, evenly; the rest wait for the manager
            staff = staff_members[i % len(staff_members)]
            assigned_on = max(today - timedelta(days=rng.randint(20, 150)),
                              customer.created_at.astimezone(store.tz).date())
            assign(customer, staff, by=manager, at=_local(store, assigned_on, 9), commit=False)
            _contacts(rng, store, customer, staff, today)
    # The card service dates each use when it is recorded; here that is the visit's own time.
    db.session.execute(update(CardMove).where(
        CardMove.store_id == store.id, CardMove.visit_id.is_not(None)).values(
        created_at=select(Visit.visited_at).where(Visit.id == CardMove.visit_id)
        .scalar_subquery()).execution_options(synchronize_session=False))
    return customers


DEMO_GIFTS = (("面膜礼盒", 19800, 2900, 60), ("护手霜", 6800, 1200, 40), ("精华小样", 12800, 2000, 12))
CAMPAIGNS = ("双十一感恩季", "生日关怀", None)


def _engagement(rng, store, manager, customers, gifts=DEMO_GIFTS):
    """Gift stock with its history, handouts over three months, reservations (two ready today),
    promises, and complaints (one open with its next step due today, one closed)."""
    today = store.today()
    rows = []
    for name, value, cost, quantity in gifts:
        gift = Gift(store_id=store.id, name=name, face_value_fen=value, unit_cost_fen=cost,
                    quantity=quantity, reserved=0)
        db.session.add(gift)
        db.session.flush()
        db.session.add(GiftStockMove(store_id=store.id, gift_id=gift.id, change=quantity,
                                     quantity_after=quantity, reason="initial",
                                     staff_id=manager.id,
                                     created_at=_local(store, today - timedelta(days=95), 10)))
        rows.append(gift)
    assigned = [c for c in customers if c.assigned_staff_id]
    for _ in range(min(36, len(assigned))):
        customer, gift = rng.choice(assigned), rng.choice(rows)
        if gift.quantity < 6:  # keep some on the shelf for the reservations below
            continue
        moment = _local(store, today - timedelta(days=rng.randint(1, 90)), rng.randint(10, 19))
        gift.quantity -= 1
        db.session.add(GiftHandout(
            store_id=store.id, gift_id=gift.id, customer_id=customer.id,
            staff_id=customer.assigned_staff_id, status="handed_out",
            campaign=rng.choice(CAMPAIGNS), handed_out_at=moment,
            handed_out_by_id=customer.assigned_staff_id, face_value_fen=gift.face_value_fen,
            unit_cost_fen=gift.unit_cost_fen, created_at=moment - timedelta(days=3)))
    staff_ids = sorted({c.assigned_staff_id for c in assigned})
    first = [c for c in assigned if c.assigned_staff_id == staff_ids[0]]
    for i, customer in enumerate(first[:5]):
        gift = rows[i % len(rows)]
        if gift.quantity - gift.reserved < 1:
            continue
        gift.reserved += 1
        db.session.add(GiftHandout(
            store_id=store.id, gift_id=gift.id, customer_id=customer.id,
            staff_id=customer.assigned_staff_id, status="reserved",
            pickup_after=today + timedelta(days=0 if i < 2 else 3 * i),
            campaign=CAMPAIGNS[0] if i % 2 == 0 else None))
    for i, customer in enumerate(assigned[:8]):
        db.session.add(Promise(store_id=store.id, customer_id=customer.id,
                               staff_id=customer.assigned_staff_id,
                               what=("送一次免费肩颈按摩", "到货后通知新款精华",
                                     "周末帮她预约双人护理")[i % 3],
                               due_on=today + timedelta(days=i - 3 if i != 3 else 0)))
    if len(first) > 8:
        moment = _local(store, today - timedelta(days=2), 15)
        open_one = Complaint(store_id=store.id, customer_id=first[6].id,
                             staff_id=first[6].assigned_staff_id, received_at=moment,
                             channel="in_person", summary="做完补水护理后两颊发红，"
                             "觉得美容师没有提前说明可能的反应。", status="open",
                             next_step_due_on=today)
        closed = Complaint(store_id=store.id, customer_id=first[7].id,
                           staff_id=first[7].assigned_staff_id,
                           received_at=moment - timedelta(days=30), channel="phone",
                           summary="预约时间被改了两次，等了四十分钟。", status="closed",
                           closed_at=moment - timedelta(days=20))
        db.session.add_all([open_one, closed])
        db.session.flush()
        notes = {"listen": "让她把话说完，记下了发红的位置和时间", "empathise": "理解她的担心",
                 "apologise": "为没有提前说明向她道歉"}
        for step in COMPLAINT_STEPS[:3]:
            db.session.add(ComplaintStep(complaint_id=open_one.id, step=step, done_at=moment,
                                         staff_id=open_one.staff_id, note=notes[step]))
        for n, step in enumerate(COMPLAINT_STEPS):
            db.session.add(ComplaintStep(complaint_id=closed.id, step=step,
                                         done_at=closed.received_at + timedelta(days=n),
                                         staff_id=manager.id, note="已处理"))


DEMO_CAMPAIGN = "春节客情关怀"
DEMO_TAG = "春节关怀"


def _demo_campaign(rng, store, manager, customers):
    """The trade's own example (seed article 000) as a launched campaign whose day 10 is today:
    452 customers, 162 key and 290 general; the store's message on days 6, 10 and 15, signed
    one-to-one texts to key customers on days 7, 10 and 13, a call to each on day 8, the owner's
    voice message to every key customer, a gift for key customers collectable from day 20.
    Days 6–9 have happened: their texts and calls are logged, a few customers came in."""
    from kq.models import CustomerTag, Task
    from kq.scripts import seed_scripts
    from kq.services import campaigns

    seed_scripts(store)
    today = store.today()
    day = lambda n: today + timedelta(days=n - 10)  # noqa: E731 - "day n" of the article
    pool = [c for c in customers if c.assigned_staff_id and not c.do_not_contact
            and c.deleted_at is None]
    # The article's 162 and 290 (a small demo, as the tests load, takes what it has).
    key_pool = sorted((c for c in pool if c.is_key), key=lambda c: c.id)
    general_pool = sorted((c for c in pool if not c.is_key), key=lambda c: c.id)
    keys = rng.sample(key_pool, min(162, len(key_pool)))
    general = rng.sample(general_pool, min(290, len(general_pool)))
    members = keys + general
    if not members:
        return None
    for c in members:
        db.session.add(CustomerTag(store_id=store.id, customer_id=c.id, name=DEMO_TAG))
    gift = Gift(store_id=store.id, name="洗手液口罩礼包", face_value_fen=19800, unit_cost_fen=2900,
                quantity=180, reserved=0)
    db.session.add(gift)
    db.session.flush()
    db.session.add(GiftStockMove(store_id=store.id, gift_id=gift.id, change=180,
                                 quantity_after=180, reason="initial", staff_id=manager.id,
                                 created_at=_local(store, day(4), 10)))
    campaign = campaigns.save(
        store, None, name=DEMO_CAMPAIGN, goal="所有客户通知到位；重点客户到店领取礼包，预约回店。",
        segment={"tags": [DEMO_TAG]},
        phases=[("第一阶段：问候与通知", day(5), day(15)), ("第二阶段：到店领取", day(16), day(35))],
        kickoff_notes="客户分成两类：重点客户 162 人（办卡或消费过 500 元），一般客户 290 人。"
                      "重点客户分到每位美容师，一对一署名发信息、打电话；老板给每位重点客户发语音。",
        by=manager)
    store_text = "{greeting}您好，{store}问候您和家人平安健康，门店营业安排会第一时间告诉您。—{staff}"
    touches = [
        (6, "sms", "broadcast", "all", store_text),
        (7, "sms", "staff", "key", "{greeting}您好，我是{staff}，最近还好吗？在家也记得补水保湿，"
                                   "有任何护肤问题随时找我。—{staff}"),
        (8, "phone", "staff", "key", "{greeting}您好，我是{store}的{staff}。打电话问候您，"
                                     "也告诉您：店里为您准备了洗手液和口罩礼包，{pickup_date}以后"
                                     "可以来店里领取，我帮您约个时间好吗？"),
        (10, "sms", "broadcast", "all", store_text),
        (10, "sms", "staff", "key", "{greeting}您好，给您留的{gift}{pickup_date}起可以领取，"
                                    "到时我提前帮您约好时间。—{staff}"),
        (10, "voice", "owner", "key", "{greeting}您好，我是{store}的老板。特别挂念您，"
                                      "门店一切都安排好了，请您放心。"),
        (13, "sms", "staff", "key", "{greeting}您好，这几天天气转暖，注意防晒补水。"
                                    "礼包已为您备好。—{staff}"),
        (15, "sms", "broadcast", "all", store_text),
    ]
    campaigns.add_gift(store, campaign, gift_id=gift.id, audience="key",
                       pickup_after=day(20).isoformat())
    for n, channel, who, audience, text in touches:
        campaigns.add_touch(store, campaign, day=day(n), channel=channel, who=who,
                            audience=audience, body=text, history=True)
    campaigns.launch(store, campaign, by=manager, history=True)
    campaign.launched_at = _local(store, day(5), 18)
    # Days 6–9: the store's message, the one-to-one texts and the calls, logged as contacts;
    # each one-to-one item done where she was contacted.
    staff = {u.id: u for u in db.session.scalars(select(User).where(User.store_id == store.id))}
    owners = [u.id for u in db.session.scalars(select(User).where(User.role == OWNER))]
    consenting = [c for c in members if c.marketing_consent]
    for c in consenting:
        if rng.random() < 0.93:
            db.session.add(Contact(store_id=store.id, customer_id=c.id, staff_id=manager.id,
                                   client_id=f"demo-campaign-6-{c.id}", channel="broadcast",
                                   outcome="reached" if rng.random() < 0.12 else "no_answer",
                                   contacted_at=_local(store, day(6), 10, rng.randint(0, 59))))
    for n in (7, 8):
        rows = campaigns.touch_items(store, day(n), owners)
        for staff_id, customer_id, detail in rows:
            done = rng.random() < (0.9 if n == 7 else 0.8)
            db.session.add(Task(store_id=store.id, staff_id=staff_id, customer_id=customer_id,
                                kind="campaign_touch", due_on=day(n), detail=detail,
                                status="done" if done else "open",
                                done_at=_local(store, day(n), 16) if done else None))
            if done:
                outcome = "reached" if n == 7 else rng.choice(
                    ("reached", "reached", "booked", "no_answer"))
                moment = _local(store, day(n), rng.randint(10, 19), rng.randint(0, 59))
                db.session.add(Contact(store_id=store.id, customer_id=customer_id,
                                       staff_id=staff_id, client_id=f"demo-campaign-{n}-{customer_id}",
                                       channel="sms" if n == 7 else "phone", outcome=outcome,
                                       contacted_at=moment))
    for c in members:
        contacted = db.session.scalar(select(func.max(Contact.contacted_at)).where(
            Contact.customer_id == c.id))
        c.last_contact_at = contacted
    # A few came in after the calls, some of them after months away.
    for c in rng.sample(keys, min(14, len(keys))) + rng.sample(general, min(6, len(general))):
        record_visit(c, visited_at=_local(store, day(rng.choice((8, 9))), rng.randint(10, 19)),
                     staff=staff.get(c.assigned_staff_id), services="补水护理", amount_fen=36800,
                     commit=False, reclassify=False)
    # Today's store message waits for the manager as a bulk message draft.
    campaigns.draft_broadcasts(store, today, by=manager)
    db.session.commit()
    return campaign


def _do_not_contact(store, customers, n=4):
    """A few dormant customers of the store asked not to be contacted, so a bulk message shows
    its "skipped: do not contact" at work. Not key customers (is_key is set by recompute_store,
    which runs first), so the campaign's key sample is unchanged; the campaign leaves them out;
    no rng is used, so the rest of the demo is drawn as before."""
    today = store.today()
    chosen = [c for c in customers if c.assigned_staff_id and not c.is_key and c.deleted_at is None
              and c.marketing_consent and c.name not in ("梁小娟", "梁晓静")
              and c.days_since_visit(store, today) >= store.dormant_after_days][:n]
    for c in chosen:
        c.do_not_contact, c.do_not_contact_reason = True, "asked"
    return chosen


def load_demo(customers=1000, seed=20261122):
    rng = random.Random(seed)  # nosec B311 # repeatable demo data, no secret
    main = Store(name="丽颜美容会所", phone="021-6288 1234", address="上海市静安区南京西路 1266 号")
    second = Store(name="丽颜美容 · 二店", phone="021-6433 5678", address="上海市徐汇区天钥桥路 88 号")
    db.session.add_all([main, second])
    db.session.flush()
    _staff(main, "owner", "王丽", OWNER)
    manager = _staff(main, "manager", "陈静", MANAGER)
    names = ("李小美", "张芳", "刘雪", "赵琳", "孙雅", "周婷")
    beauticians = [_staff(main, f"beautician{i + 1}", name, BEAUTICIAN)
                   for i, name in enumerate(names)]
    manager2 = _staff(second, "manager2", "何敏", MANAGER)
    beautician7 = _staff(second, "beautician7", "吴倩", BEAUTICIAN)
    db.session.flush()
    used = set()
    main_customers = _populate(rng, main, customers, beauticians, manager, used,
                               special=("梁小娟", "梁晓静"))
    second_customers = _populate(rng, second, max(20, customers // 16), [beautician7], manager2,
                                 used)
    _engagement(rng, main, manager, main_customers)
    _engagement(rng, second, manager2, second_customers, gifts=(("香薰蜡烛", 8800, 1800, 10),))
    db.session.flush()
    for customer in main_customers + second_customers:
        refresh_search_keys(customer)
    recompute_store(main, commit=False)
    recompute_store(second, commit=False)
    _do_not_contact(main, main_customers)
    db.session.commit()
    _demo_campaign(rng, main, manager, main_customers)
    from kq.services.ledger import run_ledger

    for store in (main, second):  # the last eight weeks of rewards and penalties, as if run daily
        for weeks_ago in range(8, 0, -1):
            run_ledger(store, store.today() - timedelta(days=7 * weeks_ago - 6))
    return (f"{len(main_customers)} + {len(second_customers)} customers, "
            f"{len(beauticians) + 1} beauticians, 2 managers, 1 owner")
