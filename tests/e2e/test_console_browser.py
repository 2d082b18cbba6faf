"""The operations console in a real browser (Debian chromium driven by Playwright) against three
federated nodes: USA sends a FLASH, Japan and Korea see it and acknowledge, the United States
watches the receipts; languages, keyboard, banners, and no request leaving the node.

Screenshots go to ``artifacts/screenshots/`` (gitignored); ``docs/img/`` holds a few of them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.support import Cluster, eventually

pytestmark = pytest.mark.anyio

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHANNEL = "ops.usa-jpn-kor"
SECRET_ALL = "SECRET//REL TO USA, JPN, KOR"
TIMEOUT_MS = 15_000

expect.set_options(timeout=TIMEOUT_MS)


@contextlib.asynccontextmanager
async def launched_browser() -> AsyncIterator[Browser]:
    """Debian's chromium, headless, through Playwright (no downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the console tests need Debian's chromium and fonts-noto-cjk "
            "(scripts/setup installs them when run as root)"
        )
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as b:
        yield b


@dataclass
class Console:
    """One official's console: a browser context on its own nation's node."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def login(self, handle: str) -> None:
        await self.page.goto(self.origin + "/")
        await self.page.get_by_label(re.compile("Handle|ハンドル|핸들")).fill(handle)
        await self.page.locator("input[name=password]").fill(handle)
        await self.page.locator("input[name=password]").press("Enter")
        await expect(self.page.locator(".stream")).to_have_class(re.compile("stream-live"))

    async def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def check_clean(self) -> None:
        """Every request and socket went to the node's own origin; no script error."""
        host = self.origin.split("://", 1)[1]
        strays = [u for u in self.requests if not u.startswith(self.origin + "/")]
        strays += [u for u in self.sockets if not u.startswith(f"ws://{host}/")]
        assert self.requests, "the page made no request at all?"
        assert not strays, f"requests that left {self.origin}: {strays}"
        assert not self.errors, f"errors in the page: {self.errors}"


async def open_console(browser: Browser, origin: str, **options: Any) -> Console:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-US", **options
    )
    page = await context.new_page()
    console = Console(page, origin)
    page.on("request", lambda r: console.requests.append(r.url))
    page.on("websocket", lambda ws: console.sockets.append(ws.url))
    page.on("pageerror", lambda exc: console.errors.append(str(exc)))
    page.on(
        "console",
        lambda m: console.errors.append(m.text) if m.type == "error" else None,
    )
    return console


async def banners(page: Page) -> tuple[str, str]:
    top = await page.locator("#banner-top").inner_text()
    bottom = await page.locator("#banner-bottom").inner_text()
    return top.strip(), bottom.strip()


async def send_flash(usa: Console, body: str) -> None:
    page = usa.page
    await page.locator("select[name=precedence]").select_option("flash")
    await page.locator("select[name=classification]").select_option("secret")
    await page.locator("#compose-body").fill(body)
    await page.locator("#compose-body").press("Enter")  # Enter sends


async def test_flash_round_trip_in_three_browsers(cluster: Cluster, browser: Browser) -> None:
    consoles = {n: await open_console(browser, cluster[n].url) for n in ("USA", "JPN", "KOR")}
    usa, jpn, kor = consoles["USA"], consoles["JPN"], consoles["KOR"]
    for nation, console in consoles.items():
        await console.login(f"{nation.lower()}.ops")
        assert await banners(console.page) == ("UNCLASSIFIED", "UNCLASSIFIED")
    await expect(usa.page.locator(f'button[data-channel="{CHANNEL}"]')).to_have_attribute(
        "aria-current", "true"
    )
    # Channels grouped by layer, then trilateral / bilateral.
    layer = usa.page.locator('section.layer[data-layer="ops"]')
    await expect(layer.locator("h3")).to_have_text("Operations centres")
    await expect(layer.locator('[data-kind="trilateral"] button.channel')).to_have_count(1)
    await expect(layer.locator('[data-kind="bilateral"] button.channel')).to_have_count(2)

    await send_flash(usa, "Launch detected over the Sea of Japan")

    for console in (jpn, kor):
        page = console.page
        flash = page.locator(".flash-banner")
        await expect(flash).to_contain_text("Launch detected over the Sea of Japan")
        await expect(flash).to_contain_text("(S//REL TO USA, JPN, KOR)")
        await expect(page.locator("li.msg.prec-flash .portion")).to_have_text(
            "(S//REL TO USA, JPN, KOR)"
        )
        assert await banners(page) == (SECRET_ALL, SECRET_ALL)
        assert int(await page.locator("body").get_attribute("data-beeps") or 0) >= 1
        await expect(page.locator("#banner-top")).to_have_css(
            "background-color", "rgb(200, 16, 46)"
        )
    await jpn.shot("jpn-flash-banner")

    # Japan acknowledges with the keyboard shortcut, Korea with the banner's button.
    await jpn.page.locator("#main").focus()
    await jpn.page.keyboard.press("a")
    await kor.page.locator(".flash-banner button.ack").click()
    for console in (jpn, kor):
        await expect(console.page.locator(".flash-banner")).to_have_count(0)

    board = usa.page.locator(".detail-pane .board")
    await expect(board.locator('tr[data-nation="JPN"] td.acked')).to_contain_text("jpn.ops")
    await expect(board.locator('tr[data-nation="KOR"] td.acked')).to_contain_text("kor.ops")
    await expect(board.locator('tr[data-nation="JPN"] td.esc')).to_have_text("Acknowledged")
    await expect(board.locator(".summary")).to_have_text("Acknowledged by every nation")
    await expect(usa.page.locator("li.msg .chip")).to_have_text("Acknowledged by 2 of 2")
    assert await banners(usa.page) == (SECRET_ALL, SECRET_ALL)
    await usa.shot("usa-receipts")

    # Languages: the same board in Japanese, then Korean.
    await usa.page.locator('select[name="language"]').select_option("ja")
    await expect(usa.page.locator("html")).to_have_attribute("lang", "ja")
    await expect(board.locator("h2")).to_have_text("受信状況")
    await expect(board.locator(".summary")).to_have_text("全ての国が確認済み")
    await expect(usa.page.locator("#tab-hotline")).to_contain_text("ホットライン")
    await expect(usa.page.locator('tr[data-nation="JPN"] th')).to_contain_text("日本")
    await expect(usa.page.locator("li.msg .prec")).to_have_text("緊急（FLASH）")
    await usa.shot("usa-receipts-ja")
    await usa.page.locator('select[name="language"]').select_option("ko")
    await expect(usa.page.locator("html")).to_have_attribute("lang", "ko")
    await expect(board.locator("h2")).to_have_text("수신 현황")
    await expect(board.locator(".summary")).to_have_text("모든 국가가 확인함")
    await expect(usa.page.locator("#tab-inbox")).to_contain_text("수신함")
    await expect(usa.page.locator('tr[data-nation="KOR"] th')).to_contain_text("대한민국")
    await usa.shot("usa-receipts-ko")
    # Markings stay the standard English form whatever the language.
    assert await banners(usa.page) == (SECRET_ALL, SECRET_ALL)

    for console in consoles.values():
        console.check_clean()


async def test_template_sends_every_language(cluster: Cluster, browser: Browser) -> None:
    usa = await open_console(browser, cluster["USA"].url)
    jpn = await open_console(browser, cluster["JPN"].url)
    await usa.login("usa.ops")
    await jpn.login("jpn.ops")
    page = usa.page
    await page.locator('button[data-channel="ops.usa-jpn"]').click()
    await page.locator("select[name=template]").select_option("launch_detected")
    # The template sets its precedence and classification; its first field has the focus.
    await expect(page.locator("select[name=precedence]")).to_have_value("flash")
    await expect(page.locator("select[name=classification]")).to_have_value("secret")
    await expect(page.locator("input[name=field-count]")).to_be_focused()
    await page.locator("input[name=field-origin]").fill("Sunan")
    await page.locator("input[name=field-area]").fill("Sea of Japan, 200 km west of Akita")
    await expect(page.locator(".preview")).to_contain_text("[ja] 発射探知")
    await page.locator("input[name=field-area]").press("Enter")

    client = await cluster["JPN"].login("jpn.ops")

    async def arrived() -> bool:
        return bool((await client.get("/api/v1/inbox")).json())

    await eventually(arrived, what="the templated FLASH reaches Japan's inbox")
    msg = (await client.get("/api/v1/inbox")).json()[0]
    assert msg["template"] == "launch_detected"
    assert msg["channel"] == "ops.usa-jpn" and msg["precedence"] == "flash"
    assert msg["marking"] == "SECRET//REL TO USA, JPN"
    lines = msg["body"].split("\n")
    assert [line[:5] for line in lines] == ["[en] ", "[ja] ", "[ko] "]
    assert "from Sunan" in lines[0] and "Sea of Japan, 200 km west of Akita" in lines[0]
    assert lines[1].startswith("[ja] 発射探知") and "Sunan" in lines[1]
    assert lines[2].startswith("[ko] 발사 탐지") and "Sunan" in lines[2]

    # Japan's console in Japanese marks the Japanese rendering of the record.
    await jpn.page.locator('select[name="language"]').select_option("ja")
    await jpn.page.locator(".flash-banner button", has_text="開く").click()
    current = jpn.page.locator("li.msg.selected .tl-current")
    await expect(current).to_have_attribute("lang", "ja")
    await expect(current).to_contain_text("発射探知")
    assert await banners(jpn.page) == ("SECRET//REL TO USA, JPN",) * 2
    await jpn.shot("jpn-template-ja")
    usa.check_clean()
    jpn.check_clean()


async def test_keyboard_inbox_peers_and_wall(cluster: Cluster, browser: Browser) -> None:
    kor = await open_console(browser, cluster["KOR"].url)
    await kor.login("kor.ops")
    page = kor.page
    usa = await cluster["USA"].login("usa.ops")
    for precedence, body in (("routine", "Daily summary"), ("flash", "Second launch")):
        resp = await usa.post(
            f"/api/v1/channels/{CHANNEL}/messages",
            json={"precedence": precedence, "body": body, "classification": "confidential"},
        )
        assert resp.status_code == 201, resp.text
    await expect(page.locator(".flash-banner")).to_contain_text("Second launch")

    # Tab order: from the top of the page the header's controls come first, each visibly
    # focused.
    await page.locator("body").focus()
    await page.keyboard.press("Tab")
    first = page.locator(":focus")
    await expect(first).to_have_attribute("name", "language")
    outline = await first.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none"

    # Shortcuts: 2 = inbox (FLASH first), 3 = peers, ? = help, j/k move, a acknowledges.
    await page.locator("#main").focus()
    await page.keyboard.press("2")
    await expect(page.locator("#tab-inbox")).to_have_attribute("aria-selected", "true")
    items = page.locator(".inbox li.msg")
    await expect(items).to_have_count(2)
    await expect(items.first).to_have_class(re.compile("prec-flash"))
    await expect(items.nth(1)).to_have_class(re.compile("prec-routine"))
    assert await banners(page) == ("CONFIDENTIAL//REL TO USA, JPN, KOR",) * 2
    await expect(page.locator("#banner-top")).to_have_css("background-color", "rgb(0, 51, 160)")

    await page.keyboard.press("3")
    peers = page.locator(".peer-table tbody tr")
    await expect(peers).to_have_count(2)
    await expect(page.locator('.peer-table tr[data-nation="USA"] .link')).to_have_text("Connected")
    await expect(page.locator(".peer-table thead")).to_contain_text("Round trip")
    await kor.shot("kor-peers")

    await page.keyboard.press("?")
    await expect(page.locator("dialog.help")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.locator("dialog.help")).to_be_hidden()

    await page.keyboard.press("1")
    await page.keyboard.press("j")  # selects the newest message: the FLASH
    selected = page.locator("li.msg.selected")
    await expect(selected).to_contain_text("Second launch")
    await expect(selected).to_be_focused()
    await expect(page.locator(".detail-pane .board")).to_be_visible()
    await page.keyboard.press("a")
    await expect(page.locator(".flash-banner")).to_have_count(0)
    await page.keyboard.press("j")
    await expect(page.locator("li.msg.selected")).to_contain_text("Daily summary")
    await page.keyboard.press("a")
    await expect(page.locator("#tab-inbox .count")).to_have_count(0)

    # Readable contrast (WCAG AA, 4.5:1) for the text that matters.
    ratios = await page.evaluate(CONTRAST_JS)
    low = {k: v for k, v in ratios.items() if v < 4.5}
    assert not low, f"contrast below 4.5:1: {low}"

    # Fits 1280×800 without horizontal scrolling; the wall display has larger type.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1280
    size = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    await page.keyboard.press("w")
    await expect(page.locator("html")).to_have_class(re.compile("wall"))
    wall = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert wall >= 1.4 * size
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await kor.shot("kor-wall")
    kor.check_clean()


async def test_wall_mode_from_url_and_session_kept_on_reload(
    cluster: Cluster, browser: Browser
) -> None:
    jpn = await open_console(browser, cluster["JPN"].url)
    await jpn.login("jpn.ops")
    await jpn.page.goto(cluster["JPN"].url + "/?wall=1")
    await expect(jpn.page.locator(".stream")).to_have_class(re.compile("stream-live"))
    await expect(jpn.page.locator("html")).to_have_class(re.compile("wall"))
    token = await jpn.page.evaluate("sessionStorage.getItem('hotline.token')")
    assert token
    await jpn.page.locator("button", has_text="Log out").click()
    await expect(jpn.page.locator("input[name=handle]")).to_be_visible()
    assert await jpn.page.evaluate("sessionStorage.getItem('hotline.token')") is None
    await jpn.page.locator("input[name=handle]").fill("jpn.ops")
    await jpn.page.locator("input[name=password]").fill("wrong")
    await jpn.page.locator("input[name=password]").press("Enter")
    await expect(jpn.page.locator(".login-form .error")).to_have_text("Wrong handle or password.")
    # The 401 of a wrong password is expected; nothing else may fail.
    jpn.errors = [e for e in jpn.errors if "401" not in e]
    jpn.check_clean()


CONTRAST_JS = """
() => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const parse = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = {};
  const selectors = [
    "#banner-top", "#banner-bottom", ".topbar .who strong", ".topbar .who .title",
    ".tabs [role=tab]", ".channel .members", ".channel .names", ".msg-head .from",
    ".msg-head time", ".msg-body", ".prec", ".portion", ".chip", ".panel-title",
    ".kind h4", "button.primary", "button.ack", ".receipts thead th", ".receipts td",
    ".facts dt", ".compose label", ".send-row .hint", ".list-head .kind",
    ".status", ".cadence-table td", ".cadence-table th", ".cadence .note", ".cd",
  ];
  for (const sel of selectors) {
    for (const [i, el] of [...document.querySelectorAll(sel)].entries()) {
      if (!el.offsetParent && el.id.indexOf("banner") < 0) continue;
      const fg = parse(getComputedStyle(el).color).slice(0, 3);
      const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
      out[`${sel}#${i}`] = Math.round(((a + 0.05) / (b + 0.05)) * 100) / 100;
    }
  }
  return out;
}
"""
