"""The QEMU end-to-end test's browser check (not a pytest module: e2e::qemu_bios_ipmi_deploy
runs it in its network namespace once the deployed image has booted):

    python sol_console.py BASE_URL NODE_UUID WANT SCREENSHOT

opens the node's console page in Debian's chromium and waits until the xterm.js terminal,
fed over the WebSocket from the node's SOL session (its replay included), shows WANT.
Exit status 0 when it does; 1 with the terminal's text when it does not.
"""

import os
import sys
import time

from playwright.sync_api import sync_playwright


def main():
    base, uuid, want, shot = sys.argv[1:5]
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            # Root in a container: chromium's sandbox needs user namespaces it may not have.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        pg = b.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"{base}/ui/machines/{uuid}/console")
        pg.wait_for_selector(".xterm-rows", timeout=20_000)
        deadline = time.time() + 30
        while True:
            text = pg.locator(".xterm-rows").inner_text()
            if want in text:
                break
            if time.time() > deadline:
                pg.screenshot(path=shot)
                print(f"terminal never showed {want!r}:\n{text}")
                return 1
            time.sleep(0.3)
        pg.screenshot(path=shot)
        b.close()
        if errors:
            print("page errors:", errors)
            return 1
        print(f"terminal shows {want!r}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
