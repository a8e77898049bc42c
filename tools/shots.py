"""Screenshots of pages at 390x844 in Simplified Chinese and English, with Debian's chromium.

python tools/shots.py USER PATH [PATH …] [--base http://127.0.0.1:5000] [--out shots]
"""
import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/lib/chromium/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("user")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--out", default="shots")
    parser.add_argument("--password", default="demo1234")
    parser.add_argument("--langs", default="zh_Hans,en")
    parser.add_argument("--width", type=int, default=390)
    parser.add_argument("--height", type=int, default=844)
    parser.add_argument("--full", action="store_true", help="whole page, not just the screen")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for lang in args.langs.split(","):
            context = browser.new_context(viewport={"width": args.width, "height": args.height},
                                          is_mobile=True, has_touch=True, device_scale_factor=1,
                                          locale="zh-CN" if lang == "zh_Hans" else "en-US")
            page = context.new_page()
            if args.user != "-":
                page.goto(f"{args.base}/login")
                page.fill("input[name=username]", args.user)
                page.fill("input[name=password]", args.password)
                page.click("button[type=submit]")
                page.wait_for_load_state("networkidle")
            for path in args.paths:
                page.goto(f"{args.base}{path}")
                page.wait_for_load_state("networkidle")
                overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
                name = re.sub(r"[^a-zA-Z0-9]+", "_", path).strip("_") or "root"
                file = out / f"{args.user}_{name}_{lang}.png"
                page.screenshot(path=str(file), full_page=args.full)
                print(file, "horizontal overflow px:", overflow)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
