"""Make the small PNGs of docs/screenshots/ from the E2E screenshots.

The browser tests save full-size screenshots of every page at 390 px and 1280 px wide in
tests/e2e/screenshots/ (git-ignored). This script puts the top of both side by side, scaled
down, one PNG per page, using the same Debian Chromium (no image library needed):

    .venv/bin/python -m pytest -q tests/e2e/test_browser.py
    .venv/bin/python frontend/scripts/doc_screenshots.py
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "e2e" / "screenshots"
TARGET = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
DESKTOP_W, PHONE_W, HEIGHT = 520, 190, 410  # output sizes in CSS pixels

PAGE = """<!doctype html><html><body style="margin:0;background:#fff">
<div id="c" style="display:flex;gap:10px;padding:10px;background:#e8e8f0;width:max-content">
  <div style="width:{dw}px;height:{h}px;overflow:hidden;box-shadow:0 1px 4px #0003">
    <img src="data:image/png;base64,{desktop}" style="width:{dw}px;display:block"></div>
  <div style="width:{pw}px;height:{h}px;overflow:hidden;box-shadow:0 1px 4px #0003">
    <img src="data:image/png;base64,{phone}" style="width:{pw}px;display:block"></div>
</div></body></html>"""


def main() -> int:
    names = sorted({p.name.rsplit("-", 1)[0] for p in SOURCE.glob("*-390.png")})
    if not names:
        print(f"no screenshots in {SOURCE}: run the browser tests first", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        args = ["--headless", "--no-sandbox", "--disable-gpu"]
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(device_scale_factor=1)
        for name in names:
            desktop, phone = SOURCE / f"{name}-1280.png", SOURCE / f"{name}-390.png"
            if not desktop.exists():
                continue
            page.set_content(
                PAGE.format(
                    dw=DESKTOP_W,
                    pw=PHONE_W,
                    h=HEIGHT,
                    desktop=base64.b64encode(desktop.read_bytes()).decode(),
                    phone=base64.b64encode(phone.read_bytes()).decode(),
                )
            )
            out = TARGET / f"{name}.png"
            page.locator("#c").screenshot(path=str(out))
            print(f"{out.relative_to(ROOT)}  {out.stat().st_size // 1024} KiB")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
