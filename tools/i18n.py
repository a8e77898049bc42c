"""Catalogue upkeep: `update` extracts strings; `fill F.json` adds Simplified Chinese and derives
Traditional Chinese from it with OpenCC (pip install opencc; a developer tool, not a dependency),
every time, corrected by tools/zh_hant_overrides.json; `missing` lists what still lacks a
translation. English is the source language."""
import json
import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "kq" / "translations"
POT = ROOT / "messages.pot"
PYBABEL = str(Path(sys.executable).parent / "pybabel")
# Simplified phrase → [Traditional, why]: the terms OpenCC's Taiwan conversion gets wrong for a
# salon (激活 is winning a customer back, not 啟用). Edit it and run `fill` again.
OVERRIDES = ROOT / "tools" / "zh_hant_overrides.json"
QUOTES = str.maketrans({"“": "「", "”": "」", "‘": "『", "’": "』"})


def po_path(locale):
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def load(locale):
    with open(po_path(locale), "rb") as f:
        return read_po(f, locale=locale)


def save(catalog, locale):
    with open(po_path(locale), "wb") as f:
        write_po(f, catalog, width=100, omit_header=False, sort_output=False)


def update():
    subprocess.run([PYBABEL, "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext",
                    "--no-location", "--sort-output", "-o", str(POT), "kq", "kq/templates/_partials",
                    "kq/templates/_macros"], cwd=ROOT, check=True)
    for locale in ("zh_Hans", "zh_Hant"):
        command = "update" if po_path(locale).exists() else "init"
        subprocess.run([PYBABEL, "-q", command, "-i", str(POT), "-d", str(TRANSLATIONS),
                        "-l", locale, "--no-wrap"] + (["--ignore-obsolete"] if command == "update"
                                                      else []), cwd=ROOT, check=True)
    POT.unlink()


def traditional():
    """Simplified → Traditional as read in Taiwan and Hong Kong: OpenCC's s2twp for the text
    between the overridden phrases, each of those as the overrides say, and 「」 for quotes."""
    import opencc

    convert = opencc.OpenCC("s2twp").convert
    phrases = {k: v[0] for k, v in json.loads(OVERRIDES.read_text()).items()}
    pattern = re.compile("|".join(map(re.escape, sorted(phrases, key=len, reverse=True))))

    def to_hant(text):
        if isinstance(text, (tuple, list)):  # a plural's forms
            return tuple(to_hant(t) for t in text)
        out, start = [], 0
        for found in pattern.finditer(text):
            out += [convert(text[start:found.start()]), phrases[found.group()]]
            start = found.end()
        out.append(convert(text[start:]))
        return "".join(out).translate(QUOTES)

    return to_hant


def fill(path):
    to_hant = traditional()
    new = json.loads(Path(path).read_text()) if path else {}
    hans = load("zh_Hans")
    for message in hans:
        key = message.id[0] if isinstance(message.id, tuple) else message.id  # a plural
        if key and key in new:
            text = new[key]
            message.string = (tuple(text) if isinstance(text, list) else (text,)) \
                if isinstance(message.id, tuple) else text
            message.flags.discard("fuzzy")
    save(hans, "zh_Hans")
    hant = load("zh_Hant")
    for message in hant:
        if message.id and hans.get(message.id) is not None and hans.get(message.id).string:
            message.string = to_hant(hans.get(message.id).string)
            message.flags.discard("fuzzy")
    save(hant, "zh_Hant")


def missing():
    hans = load("zh_Hans")
    todo = [m.id[0] if isinstance(m.id, tuple) else m.id for m in hans if m.id and (
        not all(m.string if isinstance(m.string, tuple) else (m.string,))
        or "fuzzy" in m.flags)]
    print(json.dumps({m: "" for m in todo}, ensure_ascii=False, indent=1))
    return len(todo)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "missing"
    if command == "update":
        update()
    elif command == "fill":
        fill(sys.argv[2] if len(sys.argv) > 2 else None)
    else:
        sys.exit(1 if missing() else 0)
