"""A store's move-in workbook at bench size: a customers sheet (title row, Chinese headers,
mixed formats) and a visits sheet, as an old system exports them."""
import io
import random
from datetime import date, timedelta

from openpyxl import Workbook

from kq.demo import GIVEN_F, SERVICES, SURNAMES


def workbook(customers=20000, visits=200000, staff_names=(), seed=11, today=None):
    rng = random.Random(seed)
    today = today or date.today()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("客户资料")
    sheet.append(["客户档案导出"])
    sheet.append(["客户姓名", "手机号码", "性别", "生日", "会员等级", "所属美容师", "累计消费",
                  "最后到店", "到店次数", "卡项", "卡余额", "备注"])
    phones = []
    for n in range(customers):
        phone = f"13{rng.randint(0, 9)}{n:08d}"
        phones.append(phone)
        last = today - timedelta(days=rng.randint(1, 700))
        birthday = rng.choice([f"{rng.randint(1960, 2002)}-{rng.randint(1, 12):02d}-"
                               f"{rng.randint(1, 28):02d}", f"{rng.randint(1, 12)}月"
                               f"{rng.randint(1, 28)}日", None])
        card = rng.random() < 0.3
        sheet.append([
            rng.choice(SURNAMES) + rng.choice(GIVEN_F), phone if n % 3 else int(phone),
            rng.choice(["女", "女", "男", None]), birthday, rng.choice(["A", "B", "C", "金卡", None]),
            rng.choice(staff_names) if staff_names and rng.random() < 0.8 else None,
            f"¥{rng.randint(0, 60000):,}.00" if n % 2 else rng.randint(0, 60000),
            last.isoformat() if n % 2 else last.strftime("%Y/%m/%d"),
            rng.randint(1, 40), "年卡" if card else None, rng.randint(100, 9000) if card else None,
            None])
    sheet.append(["合计", None, None, None, None, None, None, None, None, None, None, None])
    visit_sheet = book.create_sheet("消费记录")
    visit_sheet.append(["手机", "消费日期", "服务项目", "消费金额", "美容师"])
    for n in range(visits):
        day = today - timedelta(days=rng.randint(1, 700))
        service, price = rng.choice(SERVICES)
        visit_sheet.append([rng.choice(phones), day.isoformat(), service, price // 100,
                            rng.choice(staff_names) if staff_names else None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
