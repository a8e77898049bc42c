"""SVG charts drawn with pygal: the same code serves the pages and the printed reports.

Charts are rendered without pygal's JavaScript (nothing is fetched from a CDN) and with the
CJK font the set-up installs, so staff names and month labels print the same everywhere.
"""
import base64
import re

import pygal
from markupsafe import Markup
from pygal.style import Style

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)

FONT = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"
PALETTE = ("#b42358", "#175cd3", "#067647", "#b54708", "#6941c6", "#0e9384", "#c11574",
           "#475467", "#dc6803", "#3538cd")

STYLE = Style(
    background="transparent", plot_background="transparent", foreground="#344054",
    foreground_strong="#101828", foreground_subtle="#d0d5dd", opacity=".9",
    opacity_hover="1", colors=PALETTE, font_family=FONT, label_font_family=FONT,
    major_label_font_family=FONT, value_font_family=FONT, legend_font_family=FONT,
    title_font_family=FONT, tooltip_font_family=FONT, label_font_size=15,
    major_label_font_size=15, legend_font_size=16, value_font_size=14, title_font_size=17)


def _config(**extra):
    base = dict(style=STYLE, js=[], disable_xml_declaration=True, explicit_size=False,
                show_legend=False,
                show_y_guides=True, truncate_legend=-1, truncate_label=-1, margin=12,
                print_values=False)
    base.update(extra)
    return base


def _svg(chart, alt=""):
    """The chart as an <img> of its SVG (a data URI): the page's Content-Security-Policy
    allows no inline styles, and an SVG shown as an image keeps its own. pygal escapes the
    texts; its config script is dropped (no tooltips are needed on a phone or on paper)."""
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return Markup('<img class="chart-img" alt="{}" src="data:image/svg+xml;base64,{}">').format(
        alt, Markup(data))  # nosec B704 # alt is escaped by format(); data is base64 only


PAGE = {"width": 520, "height": 400}
PRINT = {"width": 760, "height": 380}


def line_chart(labels, series, *, title=None, percent=True, highlight_first=True, alt="",
               size=None):
    """labels: x labels; series: [(name, [values])]; the first series drawn heavier."""
    options = dict(title=title, dots_size=3, stroke_style={"width": 2}, x_label_rotation=40,
                   range=(0, 100) if percent else None,
                   value_formatter=(lambda v: f"{v:.0f}%") if percent else str)
    options.update(size or PAGE)
    chart = pygal.Line(**_config(**options))
    chart.x_labels = labels
    for i, (name, values) in enumerate(series):
        extra = {"stroke_style": {"width": 4}, "dots_size": 4} if (i == 0 and highlight_first) \
            else {}
        chart.add(name, values, **extra)
    return _svg(chart, alt) + legend([name for name, _values in series])


def bar_chart(labels, series, *, title=None, alt="", size=None):
    options = dict(title=title, x_label_rotation=0, print_values=True,
                   value_formatter=lambda v: f"{v:g}")
    options.update(size or PAGE)
    chart = pygal.Bar(**_config(**options))
    chart.x_labels = labels
    for name, values in series:
        chart.add(name, values)
    return _svg(chart, alt) + legend([name for name, _values in series])


def legend(names):
    """The key under a chart, in HTML (pygal's own legend loses rows when it wraps). The
    swatch classes sw-0… match PALETTE in app.css and in the print stylesheet."""
    items = Markup("").join(
        Markup('<li><span class="sw sw-{}"></span>{}</li>').format(i % len(PALETTE), name)
        for i, name in enumerate(names))
    return Markup('<ul class="chart-legend">{}</ul>').format(items)
