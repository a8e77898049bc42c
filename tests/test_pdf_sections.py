"""A big report laid out in sections on several processes and joined (kq.services.pdfsections)
reads exactly like the same report laid out in one process: the same text on every page, the
page numbers counted across the whole document, the bookmarks and title kept. A section that
fails fails the report, with its reason and without a file."""
import io
import os
from datetime import timedelta

import pytest
from pypdf import PdfReader

from kq.extensions import db
from kq.models import Report, Store, User
from kq.services import pdfsections, printing
from tests.factories import CustomerFactory
from tests.helpers import at, load

EN = {"Accept-Language": "en"}


def _dormant(world, n):
    store = load(Store, world.store1)
    for i in range(n):
        CustomerFactory(store_id=store.id, last_visit_at=at(store.today() - timedelta(
            days=40 + i % 300)))
    db.session.commit()


def _html(app, world, kind, params):
    with app.test_request_context():
        manager = db.session.scalar(db.select(User).where(User.username == "manager"))
        report = Report(store_id=world.store1, kind=kind, params=params, params_key=kind,
                        requested_by_id=manager.id, locale="en")
        return printing.render_html(report)


def _pages(pdf):
    reader = PdfReader(io.BytesIO(pdf))
    return reader, [sorted(page.extract_text().split()) for page in reader.pages]


def _outline(reader):
    titles = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                titles.append(item.title)
    walk(reader.outline)
    return titles


def _compare(app, html):
    with app.app_context():
        one, one_count = printing.write_pdf(html, sections=False)
        many, many_count = printing.write_pdf(html, sections=True)
    one_reader, one_pages = _pages(one)
    many_reader, many_pages = _pages(many)
    assert many_count == one_count == len(many_pages) == len(one_pages) > 1
    assert many_pages == one_pages  # the same words on every page, numbers included
    for number, page in enumerate(many_reader.pages, start=1):
        assert f"{number} / {many_count}" in page.extract_text()
    assert _outline(many_reader) == _outline(one_reader) != []
    assert many_reader.metadata.title == one_reader.metadata.title
    return many_count


def test_the_dormant_list_in_sections_reads_as_in_one_process(app, world):
    with app.app_context():
        _dormant(world, printing.SECTIONED_ROWS + 20)
        today = load(Store, world.store1).today().isoformat()
    html = _html(app, world, "dormant", {"days": 30, "date": today})
    # the summary, then runs of rows each from a new page
    assert html.count(pdfsections.SECTION) == 1 + 2
    assert len(pdfsections.split(html, 2)) == 2
    assert _compare(app, html) >= 4


def test_the_handover_pack_in_sections_reads_as_in_one_process(app, world):
    with app.app_context():
        staff = world.users["beautician1"]
        for _ in range(printing.SECTIONED_CARDS + 1):
            CustomerFactory(store_id=world.store1, assigned_staff_id=staff)
        db.session.commit()
        today = load(Store, world.store1).today().isoformat()
    html = _html(app, world, "handover", {"staff": world.users["beautician1"], "date": today})
    assert html.count(pdfsections.SECTION) > printing.SECTIONED_CARDS
    assert _compare(app, html) > printing.SECTIONED_CARDS


# Every kind of box the print templates make, and some they do not (lists with markers, an
# inline chart, a line break), for the lean layout's byte-for-byte check.
_SAMPLE = """<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8"><title>样本</title>
<style>@page { size: A5; margin: 12mm; @top-left { content: "店"; }
  @bottom-center { content: counter(page) " / " counter(pages); } }
  html { font-family: "WenQuanYi Micro Hei", sans-serif; font-size: 9pt; }
  table { width: 100%; border-collapse: collapse; table-layout: fixed; }
  td, th { border-bottom: .4pt solid #bbb; } .muted { color: #666; } .page { break-before: page; }
  tr.total td { border-top: .8pt solid #333; }</style></head>
<body>
<h1>标题 Title</h1>
<p class="muted">第一行<br>second line</p>
<ul><li>王女士 · 到期</li><li>礼品 <b>bold</b></li></ul>
<ol><li>一</li><li>二</li></ol>
<dl><dt>电话</dt><dd>138****0000</dd></dl>
<svg width="120" height="40" viewBox="0 0 120 40"><rect x="1" y="1" width="50" height="30"
  fill="#b42358"/><text x="60" y="20">图</text></svg>
<table>
  <thead><tr><th>顾客</th><th>日期</th></tr></thead>
  <tbody>
  <tr><td>金女士 <span class="muted">金小梅</span></td><td>2026-12-01</td></tr>
  <tr class="total"><td>全店</td><td>3</td></tr>
  </tbody>
</table>
<table class="page"><tr><td>无 tbody</td><td> 空格 </td></tr></table>
</body></html>"""


def _stock(html, app):
    from weasyprint import HTML

    return HTML(string=html, base_url=app.root_path).write_pdf()


def test_the_lean_layout_makes_the_very_pdf_weasyprint_makes(app, world):
    """Less work, the same file: the layout the reports use gives byte for byte the PDF plain
    WeasyPrint gives for the same HTML (a sample of every kind of box, and a real report in
    sections, whole and cut), in one process and in a section."""
    with app.app_context():
        _dormant(world, 40)
        today = load(Store, world.store1).today().isoformat()
    html = _html(app, world, "dormant", {"days": 30, "date": today})
    morning = _html(app, world, "morning", {"date": today})
    documents = pdfsections.split(html.replace("<h2 class=\"page\">", pdfsections.SECTION
                                               + "<h2 class=\"page\">", 1), 2)
    assert len(documents) == 2
    for doc in [_SAMPLE, html, morning, *documents]:
        pdf, pages = pdfsections.lay_out(doc, app.root_path)
        assert pdf == _stock(doc, app)
        assert pages == len(PdfReader(io.BytesIO(pdf)).pages)
    with app.app_context():
        assert printing.write_pdf(html, sections=False)[0] == _stock(html, app)


def test_the_lean_layout_leaves_out_only_rules_no_report_uses():
    """The user-agent sheet without the rules for footnotes and notes (no print template has
    them), list markers styled on list items only: if WeasyPrint's sheet changes, this says
    so (the lean sheet is then the stock one, never a wrong one)."""
    from weasyprint import html as stock

    lean = pdfsections.lean_user_agent(stock.UA)
    assert lean != stock.UA
    assert "footnote-call" not in lean and "note-marker" not in lean
    assert "\nli::marker, summary::marker {" in lean and "\n::marker" not in lean
    assert pdfsections.lean_user_agent("p { color: red }") is None  # not the sheet we know


def test_the_lean_layout_puts_the_garbage_collector_back_as_it_was(app):
    import gc

    assert gc.isenabled()
    pdfsections.lay_out(_SAMPLE, app.root_path)
    assert gc.isenabled()
    gc.disable()
    try:
        pdfsections.lay_out(_SAMPLE, app.root_path)
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever WeasyPrint raises
        pdfsections.lay_out(_SAMPLE, {"not": "a base URL"})
    assert gc.isenabled()


def test_the_lean_html_drops_only_the_white_space_between_table_parts():
    lean = pdfsections.lean_html("<table>\n  <tbody>\n  <tr><td>a <span>b</span> </td>\n"
                                 "  <td> c</td></tr>\n  </tbody>\n</table>\n<p>d <b>e</b></p>")
    assert lean == "<table><tbody><tr><td>a <span>b</span> </td><td> c</td></tr></tbody>" \
                   "</table>\n<p>d <b>e</b></p>"


def test_a_small_report_stays_in_one_process(app, world):
    with app.app_context():
        today = load(Store, world.store1).today().isoformat()
    html = _html(app, world, "dormant", {"days": 30, "date": today})
    assert pdfsections.SECTION not in html and not pdfsections.worth_it(html)
    html = _html(app, world, "morning", {"date": today})
    assert pdfsections.SECTION not in html


_REAL_LAY_OUT = pdfsections._lay_out


def fails_on_a_later_section(html, base_url):
    """In a pool process: the sections of rows after the first cannot be laid out."""
    if '<table class="page">' in html:
        raise RuntimeError("section could not be laid out")
    return _REAL_LAY_OUT(html, base_url)


def _ask(client, **fields):
    client.post("/reports/", data={"kind": "dormant", "days": "30", **fields}, headers=EN)
    with client.application.app_context():
        from kq.extensions import queue

        assert queue.wait(60), "the report's thread did not finish"
        return db.session.scalar(db.select(Report).order_by(Report.id.desc()))


def test_a_section_that_fails_fails_the_report_without_a_file(app, login, world,
                                                                  monkeypatch):
    with app.app_context():
        _dormant(world, printing.SECTIONED_ROWS + 20)
    monkeypatch.setattr(pdfsections, "worth_it", lambda html: pdfsections.SECTION in html)
    monkeypatch.setattr(pdfsections, "_lay_out", fails_on_a_later_section)
    client = login("manager")
    report = _ask(client)
    assert report.status == "failed" and "section could not be laid out" in report.error
    assert report.file_name is None and report.active_key is None
    folder = os.path.join(app.config["REPORTS_DIR"], str(world.store1))
    assert not os.path.isdir(folder) or os.listdir(folder) == []

    monkeypatch.setattr(pdfsections, "_lay_out", _REAL_LAY_OUT)
    client.post(f"/reports/{report.id}/retry")
    with app.app_context():
        from kq.extensions import queue

        assert queue.wait(60)
        done = load(Report, report.id)
        assert done.status == "done" and done.pages >= 4
        sectioned = os.stat(printing.path_of(done)).st_mode
    monkeypatch.setattr(pdfsections, "worth_it", lambda html: False)
    single = _ask(client, days="31")
    with app.app_context():
        assert single.status == "done"
        assert os.stat(printing.path_of(single)).st_mode == sectioned  # file modes unchanged
