"""Bytes and times of the checklist page as a phone sees them (issue: PWA).

python tools/pwa_figures.py [--base http://127.0.0.1:5000] [--user beautician1]
Prints: first load (network bytes, and what gzip would send), a repeat load with the service
worker in control, and how long the service worker takes to serve Today offline.
"""
import argparse
import gzip

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/lib/chromium/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--user", default="beautician1")
    parser.add_argument("--password", default="demo1234")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                      has_touch=True)
        page = context.new_page()
        page.goto(args.base + "/login")
        page.fill("input[name=username]", args.user)
        page.fill("input[name=password]", args.password)
        page.click("form button[type=submit]")
        page.wait_for_url("**/tasks/today")
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20000)

        def load(label):
            seen = []

            def keep(response):
                seen.append(response)

            page.on("response", keep)
            page.reload(wait_until="load")
            page.wait_for_timeout(300)
            page.remove_listener("response", keep)
            network, raw, packed = 0, 0, 0
            for response in seen:
                # Static files come from the precache; the page itself is fetched (network
                # first) by the service worker, so it counts as network traffic.
                if response.from_service_worker and response.request.resource_type != "document":
                    continue
                sizes = response.request.sizes()
                network += sizes["responseBodySize"] + sizes["responseHeadersSize"]
                try:
                    body = response.body()
                except Exception:  # noqa: BLE001 - redirects have no body
                    body = b""
                raw += len(body)
                packed += len(gzip.compress(body, 6))
            print(f"{label}: {len(seen)} responses, {network / 1024:.1f} KB over the network "
                  f"({raw / 1024:.1f} KB of bodies, {packed / 1024:.1f} KB gzipped)")

        # First load: a cold cache in a new context, signed in with the same cookies.
        cold = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                   has_touch=True, storage_state=context.storage_state(),
                                   service_workers="block")
        cold_page = cold.new_page()
        seen = []
        cold_page.on("response", lambda response: seen.append(response))
        cold_page.goto(args.base + "/tasks/today", wait_until="load")
        raw = sum(len(r.body()) for r in seen if r.status == 200)
        packed = sum(len(gzip.compress(r.body(), 6)) for r in seen if r.status == 200)
        print(f"first load: {len(seen)} responses, {raw / 1024:.1f} KB of bodies, "
              f"{packed / 1024:.1f} KB gzipped")
        load("repeat load (service worker in control)")
        context.set_offline(True)
        page.reload(wait_until="load")
        duration = page.evaluate("performance.getEntriesByType('navigation')[0].duration")
        print(f"offline: Today served by the service worker in {duration:.0f} ms")
        browser.close()


if __name__ == "__main__":
    main()
