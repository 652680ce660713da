"""The discovered GarageCam add-on in the real Home Assistant frontend (Debian's chromium,
Playwright): the card under Settings -> Devices & services, and the step it opens.

Usage: python tests/ha/screenshots/shoot.py CONFIG_DIR OUT_DIR (see scripts/ha_screenshots.sh).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright


def main(config_dir: Path, out: Path) -> None:
    tokens = json.loads((config_dir / "browser_tokens.json").read_text(encoding="utf-8"))
    # What the frontend keeps after a login (home-assistant-js-websocket's saveTokens).
    stored = {
        "access_token": tokens["access_token"],
        "token_type": "Bearer",
        "expires_in": 1800,
        "hassUrl": tokens["base"],
        "clientId": tokens["client_id"],
        "refresh_token": tokens["refresh_token"],
    }
    init = (
        f"const t = {json.dumps(stored)}; t.expires = Date.now() + 1800000;"
        "localStorage.setItem('hassTokens', JSON.stringify(t));"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.add_init_script(init)
        page.goto(f"{tokens['base']}/config/integrations/dashboard", timeout=60_000)
        page.get_by_text("Discovered").first.wait_for(timeout=60_000)
        page.get_by_text("GarageCam").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1000)  # the card's fade-in
        page.screenshot(path=str(out / "full-discovered.png"))
        page.get_by_role("button", name="Add").first.click()
        page.get_by_text("GarageCam add-on found").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1000)  # the dialog's opening animation
        page.screenshot(path=str(out / "full-found.png"))
        browser.close()
    # Fixed crops of the 1280x800 page (the dialog's box is inside shadow roots): the
    # "Discovered" section, and the dialog, centred by the frontend.
    Image.open(out / "full-discovered.png").crop((256, 112, 960, 372)).save(
        out / "ha-addon-discovered.png", optimize=True
    )
    Image.open(out / "full-found.png").crop((340, 236, 940, 564)).save(
        out / "ha-addon-found.png", optimize=True
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
