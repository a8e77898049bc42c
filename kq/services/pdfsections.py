"""A big report laid out on every core: its HTML is cut into sections where the template marks
them (`SECTION`, always just before an element that starts a new page), the sections are laid
out by WeasyPrint in a pool of processes, and the PDFs are joined with pypdf.

Page numbers ("3 / 26") cannot come from WeasyPrint then, since each section counts its own
pages: the sections are laid out without the footer and the joined document's numbers are
written onto each page afterwards, where WeasyPrint puts them. The running headers (store,
title, date) are the same on every page, so each section draws its own. Bookmarks and the
document's metadata are carried over. A section that fails fails the whole report: nothing is
joined and the exception goes to the caller (kq.services.printing.build records it).

A pool costs ~15 ms, a section document ~20 ms of its own (its styles, its font subset) and
its font subset in the file (~35 KB of CJK glyphs), so small reports stay in one process
(`worth_it`).

Every layout, in sections or not, is `lay_out`: WeasyPrint doing less work than it does by
default for the very same PDF, byte for byte (tests/test_pdf_sections.py checks it). Profiled on
the store-size reports, a third of WeasyPrint's time went to things a report does not need: its
user-agent sheet styles five pseudo-elements (footnote and note calls and markers, list markers)
on every element, the cyclic garbage collector walks WeasyPrint's boxes again and again while
they are all still in use, and white space between table rows makes boxes that are thrown away.
The font is not it: subsetting it takes 0.07 s of a 3 s morning sheet."""
import functools
import io
import multiprocessing
import os
import re
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

from kq.gcpause import cyclic_gc_paused

SECTION = "<!--kq:section-->"
# Sections are joined into this many documents per core: each document makes the file bigger
# by its own font subset, so one per core.
GROUPS_PER_CORE = 1
# Below this much HTML a pool costs more than it gains (a 27-page morning sheet is ~90 KB).
MIN_HTML = 60_000
NO_FOOTER = "<style>@page { @bottom-center { content: none; } }</style>"

# Where WeasyPrint's footer is (_print.html: A4, 18 mm bottom margin, 8.5 pt, #555, centred).
PAGE_WIDTH, BOTTOM_MARGIN, FONT_SIZE, GREY = 595.28, 18 * 72 / 25.4, 8.5, 0x55 / 255
# Helvetica's advance widths (per 1000 em) for the characters of "12 / 34".
_WIDTHS = {" ": 278, "/": 278, **{d: 556 for d in "0123456789"}}


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worth_it(html):
    return cores() > 1 and html.count(SECTION) > 0 and len(html) >= MIN_HTML


def split(html, groups):
    """The section documents: each one the report's head (without the page-number footer) and a
    run of consecutive sections, about equal in size."""
    head, body = html.split("<body>", 1)
    body, _, _tail = body.rpartition("</body>")
    pieces = body.split(SECTION)
    head = head.replace("</head>", NO_FOOTER + "</head>", 1)
    groups = max(1, min(groups, len(pieces)))
    weights = [_weight(piece) for piece in pieces]
    target = sum(weights) / groups
    runs, current, done = [], [], 0
    for piece, weight in zip(pieces, weights, strict=True):
        # a piece goes with the run where most of it falls
        if current and done + weight / 2 > target * (len(runs) + 1) and len(runs) < groups - 1:
            runs.append(current)
            current = []
        current.append(piece)
        done += weight
    if current:
        runs.append(current)
    return [f"{head}<body>{''.join(run)}</body></html>" for run in runs]


def _weight(piece):
    """About how long a piece takes to lay out: its elements, not counting a chart's (an SVG is
    drawn as one image)."""
    return len(_SVG.sub("", piece).split("<")) + 1


_SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def _lay_out(html, base_url):
    """In a pool process: one section document's PDF and its page count."""
    return lay_out(html, base_url)


def lay_out(html, base_url):
    """(PDF bytes, page count) of `html` laid out by WeasyPrint in this process: the PDF that
    HTML(string=html, base_url=base_url).write_pdf() makes, for less work (see the top)."""
    # Nothing WeasyPrint builds is garbage before the PDF is written: the collector would only
    # walk the boxes over and over (a sixth of the time). Its cycles go at the next collection.
    with cyclic_gc_paused():
        document = _lean_html_class()(string=lean_html(html), base_url=base_url).render()
        return document.write_pdf(), len(document.pages)


# White space between the parts of a table (rows, cells, groups) is dropped by the layout
# anyway (CSS 2 §17.2.1), after WeasyPrint has made a box of it; a cell's own text is left alone.
_TABLE_GAP = re.compile(r"(<(?:table|thead|tbody|tfoot|tr)\b[^>]*>|</(?:table|thead|tbody|tfoot|tr"
                        r"|td|th)>)\s+(?=</?(?:table|thead|tbody|tfoot|tr|td|th)\b)")


def lean_html(html):
    return _TABLE_GAP.sub(r"\1", html)


# WeasyPrint's user-agent sheet styles these pseudo-elements on every element ("::marker",
# "::footnote-call" …): one computed style each, per element. The reports have no footnotes or
# notes, and only list items (and <summary>) have markers.
_NOTE_RULES = re.compile(r"^::(?:footnote|note)-[a-z]+ \{[^}\n]*\}\n", re.M)
_MARKER_RULE = "\n::marker {"


def lean_user_agent(sheet):
    """WeasyPrint's user-agent sheet without those rules, or None if it is not the sheet this
    was written for (then the stock sheet is used as it is)."""
    lean, notes = _NOTE_RULES.subn("", sheet)
    if notes != 5 or lean.count(_MARKER_RULE) != 1:
        return None
    return lean.replace(_MARKER_RULE, "\nli::marker, summary::marker {")


@functools.cache
def _lean_html_class():
    from weasyprint import CSS, HTML
    from weasyprint import html as stock

    text = lean_user_agent(stock.UA)
    if text is None:
        return HTML
    sheet = CSS(string=text, counter_style=stock.UA_COUNTER_STYLE)

    class LeanHTML(HTML):
        def _ua_stylesheets(self, forms=False):
            return [sheet, stock.UA_FORM_STYLESHEET] if forms else [sheet]

    return LeanHTML


if "weasyprint" in sys.modules:
    # Imported after WeasyPrint: a forkserver preloading both (`_context`), whose layout
    # processes then find the lean sheet built, as forked ones do.
    _lean_html_class()


def _context():
    """fork where it is safe (a process with no other threads: an RQ job, the bench) — the
    children already have WeasyPrint; forkserver otherwise (the in-process fallback builds a
    report in a thread of the web server, and forking a threaded process can copy a held lock)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["weasyprint", __name__])
    return context


def write_pdf(html, base_url):
    """(PDF bytes, page count) of the report laid out section by section in a process pool."""
    documents = split(html, cores() * GROUPS_PER_CORE)
    workers = min(cores(), len(documents))
    _lean_html_class()  # built once here, inherited by forked layout processes
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context())
    try:
        futures = [pool.submit(_lay_out, document, base_url) for document in documents]
        parts = [future.result() for future in futures]  # the first failure raises here
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return join([pdf for pdf, _pages in parts])


def join(pdfs):
    """One PDF of the sections' PDFs, numbered "page / pages" across the whole, with their
    bookmarks and the first one's metadata."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    metadata = None
    for pdf in pdfs:
        reader = PdfReader(io.BytesIO(pdf))
        if metadata is None and reader.metadata:
            metadata = {key: value for key, value in reader.metadata.items()}
        writer.append(reader)
    total = len(writer.pages)
    font = _font(writer)
    for number, page in enumerate(writer.pages, start=1):
        _stamp(writer, page, font, f"{number} / {total}")
    if metadata:
        writer.add_metadata(metadata)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), total


def _font(writer):
    from pypdf.generic import DictionaryObject, NameObject

    return writer._add_object(DictionaryObject({  # noqa: SLF001 - pypdf's way to add one
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
        NameObject("/Encoding"): NameObject("/WinAnsiEncoding")}))


def _stamp(writer, page, font, text):
    """Write `text` centred in the page's bottom margin, in a content stream of its own after
    the page's own (wrapped in q … Q so that nothing it left set moves the number)."""
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

    resources = page.get("/Resources")
    resources = resources.get_object() if resources is not None else DictionaryObject()
    page[NameObject("/Resources")] = resources
    fonts = resources.get("/Font")
    fonts = fonts.get_object() if fonts is not None else DictionaryObject()
    resources[NameObject("/Font")] = fonts
    fonts[NameObject("/KQPageNo")] = font
    box = page.mediabox
    width = sum(_WIDTHS.get(ch, 556) for ch in text) * FONT_SIZE / 1000
    x = float(box.left) + (float(box.width) - width) / 2
    y = float(box.bottom) + BOTTOM_MARGIN / 2 - FONT_SIZE * 0.35
    before, after = DecodedStreamObject(), DecodedStreamObject()
    before.set_data(b"q\n")
    after.set_data(f"\nQ\nq {GREY:.3f} g BT /KQPageNo {FONT_SIZE} Tf {x:.2f} {y:.2f} Td ({text}) "
                   f"Tj ET Q\n".encode("ascii"))
    contents = page.get("/Contents")
    own = contents.get_object() if contents is not None else ArrayObject()
    streams = list(own) if isinstance(own, ArrayObject) else [page.raw_get("/Contents")]
    page[NameObject("/Contents")] = ArrayObject(
        [writer._add_object(before), *streams, writer._add_object(after)])  # noqa: SLF001
