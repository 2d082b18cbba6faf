"""The console's consultation room and warning-data map in a real browser, across three
federated nodes (the browser fixture and helpers are those of ``test_console_browser``)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.test_console_browser import (
    CONTRAST_JS,
    Console,
    banners,
    launched_browser,
    open_console,
)
from tests.e2e.test_tracks_cli import RECORDING, hotline
from tests.support import Cluster, eventually, running_cluster

pytestmark = pytest.mark.anyio


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as b:
        yield b


async def nsa(cluster: Cluster, browser: Browser, nation: str) -> Console:
    console = await open_console(browser, cluster[nation].url)
    await console.login(f"{nation.lower()}.nsa")
    await console.page.keyboard.press("4")
    await expect(console.page.locator("#tab-consultations")).to_have_attribute(
        "aria-selected", "true"
    )
    return console


async def test_consultation_room_to_an_adopted_statement(
    cluster: Cluster, browser: Browser
) -> None:
    usa, jpn, kor = [await nsa(cluster, browser, n) for n in ("USA", "JPN", "KOR")]

    page = usa.page
    await page.locator("[data-key=invoke-open]").click()
    await page.locator("input[name=subject]").fill("Ballistic missile launch towards Japan")
    await page.locator("select[name=severity]").select_option("critical")
    await page.locator("input[name=threatened][value=JPN]").check()
    await page.locator("textarea[name=information]").fill("One MRBM; impact west of Sado.")
    await page.locator("[data-key=invoke-submit]").click()
    detail = page.locator(".consult-detail")
    await expect(detail.locator("h2")).to_have_text("Ballistic missile launch towards Japan")
    # The obligations engine: the US must defend Japan (1960 Art. V), Korea must consult.
    await expect(detail.locator('tr[data-nation="USA"] .ob')).to_contain_text("Bound to defend")
    await expect(detail.locator('tr[data-nation="JPN"] .ob')).to_contain_text("Threatened")
    await expect(detail.locator('tr[data-nation="KOR"] .ob')).to_contain_text("Bound to consult")

    # Japan and Korea see it arrive live, acknowledge and convene.
    for nation, console in (("JPN", jpn), ("KOR", kor)):
        item = console.page.locator(".consult-item", has_text="towards Japan")
        await expect(item).to_be_visible()
        await item.click()
        await console.page.locator("[data-key=consult-ack]").click()
        await console.page.locator("[data-key=consult-convene]").click()
        await expect(
            console.page.locator(f'tr[data-nation="{nation}"] td.ps-convened')
        ).to_be_visible()

    await jpn.page.locator("[data-key=position-text]").fill("Japan asks for shared tracks.")
    await jpn.page.locator("[data-key=position-submit]").click()
    await jpn.page.locator("[data-key=statement-text]").fill(
        "The three nations condemn the launch and will consult without delay."
    )
    await jpn.page.locator("[data-key=statement-submit]").click()
    for console in (jpn, usa, kor):
        approve = console.page.locator(".statement button.primary", has_text="Approve")
        await expect(approve).to_be_visible()
        await approve.click()
        await expect(approve).to_have_count(0)
    for console in (usa, jpn, kor):
        await expect(console.page.locator(".statement .chip")).to_have_text("Adopted")
        await expect(console.page.locator(".timeline")).to_contain_text(
            "Joint statement adopted by every party"
        )
    await usa.shot("usa-consultation")

    await jpn.page.locator('select[name="language"]').select_option("ja")
    await expect(jpn.page.locator('.consult-detail tr[data-nation="USA"] .ob')).to_contain_text(
        "防衛義務"
    )
    await expect(jpn.page.locator(".statement .chip")).to_have_text("採択済み")
    await jpn.shot("jpn-consultation-ja")
    await kor.page.locator('select[name="language"]').select_option("ko")
    await expect(kor.page.locator('.consult-detail tr[data-nation="KOR"] .ob')).to_contain_text(
        "협의 의무"
    )
    for console in (usa, jpn, kor):
        console.check_clean()


async def test_ops_centre_only_acknowledges_a_consultation(
    cluster: Cluster, browser: Browser
) -> None:
    client = await cluster["USA"].login("usa.defense")
    resp = await client.post(
        "/api/v1/consultations",
        json={"subject": "Drill", "layer": "defense", "severity": "high", "threatened": ["KOR"]},
    )
    assert resp.status_code == 201, resp.text
    kor = await open_console(browser, cluster["KOR"].url)
    await kor.login("kor.ops")
    await kor.page.keyboard.press("4")
    await expect(kor.page.locator(".consult-list .note")).to_be_visible()
    await expect(kor.page.locator("[data-key=invoke-open]")).to_have_count(0)
    await kor.page.locator(".consult-item", has_text="Drill").click()
    await expect(kor.page.locator("[data-key=consult-convene]")).to_have_count(0)
    await kor.page.locator("[data-key=consult-ack]").click()
    await expect(kor.page.locator('tr[data-nation="KOR"] td.ps-acknowledged')).to_be_visible()
    kor.check_clean()


async def feed_launch(cluster: Cluster) -> None:
    """A recorded MRBM shot, as the US radar saw it, fed by the real ``hotline tracks replay``
    (60× speed) to the US node, the coalition's track authority."""
    start = f"{time.time() + 1.0:.3f}"
    rc, out, err = await hotline(
        *("tracks", "replay", str(RECORDING), "--node", cluster["USA"].url),
        *("--as", "usa.sensors", "--speed", "60", "--start-at", start, "--json"),
    )
    assert rc == 0, err
    assert json.loads(out)["sent"] > 100


async def test_map_shows_tracks_and_impact_offline(cluster: Cluster, browser: Browser) -> None:
    jpn = await open_console(browser, cluster["JPN"].url)
    await jpn.login("jpn.ops")
    await jpn.page.keyboard.press("5")
    await expect(jpn.page.locator(".map.leaflet-container")).to_be_visible()
    await expect(jpn.page.locator(".map-side .empty").first).to_have_text("No track.")
    assert await banners(jpn.page) == ("UNCLASSIFIED", "UNCLASSIFIED")

    await feed_launch(cluster)
    reader = await cluster["JPN"].login("jpn.ops")

    async def tracked() -> bool:
        return bool((await reader.get("/api/v1/tracks")).json())

    await eventually(tracked, timeout_s=20, what="the coalition track reaches Japan")
    page = jpn.page
    await expect(page.locator(".tracks tbody tr")).to_have_count(1)
    await expect(page.locator(".tracks tbody tr td").first).to_have_text(
        re.compile("Midcourse|Terminal")
    )
    await expect(page.locator("path.track-marker")).to_have_count(1)
    await expect(page.locator("path.impact-ellipse")).to_have_count(1)
    await expect(page.locator("path.leaflet-interactive").first).to_be_attached()
    # Land drawn from the vendored Natural Earth countries, not from any tile server.
    assert await page.locator(".leaflet-overlay-pane path").count() > 100
    assert await banners(page) == ("SECRET//REL TO USA, JPN, KOR",) * 2
    # The automatic warning also arrives as a FLASH on the hotline.
    await expect(page.locator(".flash-banner")).to_contain_text("MISSILE WARNING")
    await page.locator('select[name="language"]').select_option("ja")
    await expect(page.locator(".map-side h2").first).to_have_text("航跡")
    await jpn.shot("jpn-map-ja")
    jpn.check_clean()


# ---- cadence ------------------------------------------------------------------------------

CADENCE_IDS = {
    "leaders-summit",
    "foreign-ministers",
    "defense-ministers",
    "national-security-advisers",
    "freedom-edge",
}


def local_input(zone: str, delta: timedelta) -> str:
    """A datetime-local value, ``delta`` from now, in ``zone`` (the official's time zone)."""
    return (datetime.now(ZoneInfo(zone)) + delta).strftime("%Y-%m-%dT%H:%M")


async def cadence_rows(page: Page) -> list[tuple[str, str]]:
    """(meeting id, status) of each row of the cadence table, top to bottom."""
    rows = page.locator("tr.cadence-item")
    return [
        (
            await rows.nth(i).get_attribute("data-meeting") or "",
            await rows.nth(i).get_attribute("data-status") or "",
        )
        for i in range(await rows.count())
    ]


async def assert_contrast(page: Page) -> None:
    """WCAG AA (4.5:1) for the statuses and countdowns on screen, as for the rest."""
    ratios = await page.evaluate(CONTRAST_JS)
    assert any(k.startswith((".status", ".cd")) for k in ratios), ratios
    low = {k: v for k, v in ratios.items() if v < 4.5}
    assert not low, f"contrast below 4.5:1: {low}"


async def test_cadence_view_records_meetings_as_held(cluster: Cluster, browser: Browser) -> None:
    # Japan's operations centre watches; the US national security adviser records.
    jpn = await open_console(browser, cluster["JPN"].url)
    await jpn.login("jpn.ops")
    await jpn.page.keyboard.press("6")
    await expect(jpn.page.locator("#tab-cadence")).to_have_attribute("aria-selected", "true")
    await expect(jpn.page.locator("tr.cadence-item")).to_have_count(5)
    await expect(jpn.page.locator(".cadence [data-key^=held-]")).to_have_count(0)

    usa = await open_console(browser, cluster["USA"].url)
    await usa.login("usa.nsa")
    page = usa.page
    await page.locator("#tab-hotline").focus()
    await page.keyboard.press("ArrowRight")  # the tabs take arrow keys as well as 1-6
    await page.keyboard.press("6")
    await expect(page.locator("#tab-cadence")).to_have_attribute("aria-selected", "true")
    rows = page.locator("tr.cadence-item")
    await expect(rows).to_have_count(5)
    # Camp David (18 August 2023) set them yearly; none recorded yet, so every one is overdue,
    # in words as well as in colour.
    assert {m for m, _ in await cadence_rows(page)} == CADENCE_IDS
    assert {s for _, s in await cadence_rows(page)} == {"overdue"}
    nsa = page.locator('tr.cadence-item[data-meeting="national-security-advisers"]')
    await expect(nsa.locator(".status")).to_have_text("Overdue")
    await expect(nsa.locator(".status")).to_have_css("background-color", "rgb(163, 13, 38)")
    await expect(nsa.locator(".last")).to_have_text("Never held")
    await expect(page.locator(".cadence-table caption")).to_have_text("5 of 5 overdue")

    # Recorded as held now, with the keyboard: the row goes on track, last in the table.
    await page.locator("[data-key=held-national-security-advisers]").focus()
    await page.keyboard.press("Enter")
    when = page.locator("[data-key=held-at-national-security-advisers]")
    await expect(when).to_be_focused()
    await expect(when).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$"))
    await page.keyboard.press("Enter")
    await expect(nsa).to_have_attribute("data-status", "ok")
    await expect(nsa.locator(".status")).to_have_text("On track")
    await expect(nsa.locator(".status")).to_have_css("background-color", "rgb(15, 61, 36)")
    await expect(nsa.locator(".last time")).to_be_visible()
    await expect(page.locator(".cadence .done")).to_contain_text("recorded as held")
    await expect(rows.last).to_have_attribute("data-meeting", "national-security-advisers")
    await expect(page.locator(".cadence-table caption")).to_have_text("4 of 5 overdue")

    # The leaders' summit, held 350 days ago (in the official's zone): due within 30 days.
    await page.locator("[data-key=held-leaders-summit]").click()
    await page.locator("[data-key=held-at-leaders-summit]").fill(
        local_input("America/New_York", timedelta(days=-350))
    )
    await page.locator("[data-key=held-submit-leaders-summit]").click()
    summit = page.locator('tr.cadence-item[data-meeting="leaders-summit"]')
    await expect(summit).to_have_attribute("data-status", "soon")
    await expect(summit.locator(".status")).to_have_text("Due soon")
    assert [s for _, s in await cadence_rows(page)] == ["overdue"] * 3 + ["soon", "ok"]

    # A meeting in the future is refused by the node; the console shows the node's reason.
    await page.locator("[data-key=held-freedom-edge]").click()
    await page.locator("[data-key=held-at-freedom-edge]").fill(
        local_input("America/New_York", timedelta(days=3))
    )
    await page.locator("[data-key=held-submit-freedom-edge]").click()
    await expect(page.locator(".held-form .error")).to_contain_text("in the future")
    await page.keyboard.press("Escape")
    await expect(page.locator(".held-form")).to_have_count(0)
    await expect(page.locator("[data-key=held-freedom-edge]")).to_be_focused()
    await expect(page.locator('tr.cadence-item[data-meeting="freedom-edge"]')).to_have_attribute(
        "data-status", "overdue"
    )
    assert await banners(page) == ("UNCLASSIFIED", "UNCLASSIFIED")
    await assert_contrast(page)
    await usa.shot("usa-cadence")

    # Federated: Japan's console shows both records live, and in Japanese.
    jrow = jpn.page.locator('tr.cadence-item[data-meeting="national-security-advisers"]')
    await expect(jrow).to_have_attribute("data-status", "ok")
    await expect(
        jpn.page.locator('tr.cadence-item[data-meeting="leaders-summit"]')
    ).to_have_attribute("data-status", "soon")
    await jpn.page.locator('select[name="language"]').select_option("ja")
    await expect(jrow.locator(".status")).to_have_text("予定どおり")
    await expect(jpn.page.locator("#tab-cadence")).to_contain_text("定例日程")
    await jpn.shot("jpn-cadence-ja")
    # The 422 of the meeting in the future is expected; nothing else may fail.
    usa.errors = [e for e in usa.errors if "422" not in e]
    usa.check_clean()
    jpn.check_clean()


# ---- deadline countdowns ------------------------------------------------------------------

#: Counts the page's live interval timers (wrapped before the console's own scripts run).
COUNT_INTERVALS = """
(() => {
  const live = new Set();
  const set = window.setInterval.bind(window);
  const clear = window.clearInterval.bind(window);
  window.setInterval = (...args) => { const id = set(...args); live.add(id); return id; };
  window.clearInterval = (id) => { live.delete(id); return clear(id); };
  window.liveIntervals = () => live.size;
})();
"""
ACK_WINDOW_S = 15


def short_deadlines(root: Path) -> str:
    """Camp David with a 15-second acknowledgment window for critical consultations."""
    text = (resources.files("hotline.compacts") / "camp-david.toml").read_text(encoding="utf-8")
    line = 'critical = { ack = "15m", convene = "1h" }'
    assert line in text
    path = root / "camp-david-drill.toml"
    path.write_text(
        text.replace(line, f'critical = {{ ack = "{ACK_WINDOW_S}s", convene = "1h" }}'),
        encoding="utf-8",
    )
    return str(path)


def clock_seconds(text: str) -> int:
    """ "ack due in 01:02:03" -> 3723."""
    match = re.search(r"(\d+):(\d{2})(?::(\d{2}))?", text)
    assert match, text
    parts = [int(p) for p in match.groups() if p is not None]
    return sum(v * 60**i for i, v in enumerate(reversed(parts)))


async def test_consultation_room_counts_down_to_each_deadline(
    tmp_path: Path, browser: Browser
) -> None:
    # Korea's node is not running: Korea never acknowledges, and nothing escalates it, so its
    # acknowledgment deadline passes and stays passed.
    compact = short_deadlines(tmp_path)
    async with running_cluster(tmp_path / "nodes", ("USA", "JPN"), compact=compact) as cluster:
        usa = await nsa(cluster, browser, "USA")
        jpn = await open_console(browser, cluster["JPN"].url)
        await jpn.page.add_init_script(COUNT_INTERVALS)
        await jpn.login("jpn.nsa")
        hotline_timers = await jpn.page.evaluate("liveIntervals()")
        await jpn.page.keyboard.press("4")
        await expect(jpn.page.locator("#tab-consultations")).to_have_attribute(
            "aria-selected", "true"
        )

        page = usa.page
        await page.locator("[data-key=invoke-open]").click()
        await page.locator("input[name=subject]").fill("Launch towards Japan (drill)")
        await page.locator("select[name=severity]").select_option("critical")
        await page.locator("input[name=threatened][value=JPN]").check()
        await page.locator("[data-key=invoke-submit]").click()
        detail = page.locator(".consult-detail")
        await expect(detail.locator("h2")).to_have_text("Launch towards Japan (drill)")

        # Live countdowns: the same text read twice, 1.5 s apart, shows less time left.
        kor_ack = detail.locator('tr[data-nation="KOR"] .cd[data-step=ack]')
        await expect(kor_ack).to_have_text(re.compile(r"^ack due in 00:\d\d$"))
        first = clock_seconds(await kor_ack.inner_text())
        await asyncio.sleep(1.5)
        second = clock_seconds(await kor_ack.inner_text())
        assert second < first <= ACK_WINDOW_S, (first, second)
        await expect(detail.locator('tr[data-nation="KOR"] .cd[data-step=convene]')).to_have_text(
            re.compile(r"^convene due in (59|60):\d\d$")
        )
        await expect(detail.locator('tr[data-nation="USA"] td.deadlines')).to_have_text("—")

        # Japan acknowledges in time: its row says how long it took.
        item = jpn.page.locator(".consult-item", has_text="(drill)")
        await item.click()
        await jpn.page.locator("[data-key=consult-ack]").click()
        jpn_ack = detail.locator('tr[data-nation="JPN"] .cd[data-step=ack]')
        await expect(jpn_ack).to_have_text(re.compile(r"^acknowledged in 00:\d\d"))
        await expect(jpn_ack).to_have_class(re.compile(r"\bcd-(met|late)\b"))
        await expect(detail.locator('tr[data-nation="JPN"] .cd[data-step=convene]')).to_have_text(
            re.compile(r"^convene due in")
        )

        # Korea's deadline passes: an alarm, in words, still counting.
        await expect(kor_ack).to_have_attribute(
            "data-state", "overdue", timeout=(ACK_WINDOW_S + 15) * 1000
        )
        await expect(kor_ack).to_have_text(re.compile(r"^ack overdue by 00:\d\d$"))
        await expect(kor_ack).to_have_css("background-color", "rgb(163, 13, 38)")
        late = clock_seconds(await kor_ack.inner_text())
        await expect(kor_ack).not_to_have_text(re.compile(f"by 00:{late:02d}$"))
        await assert_contrast(page)
        await usa.shot("usa-consultation-deadlines")

        # One timer while the room is shown, none once another view is: nothing leaks.
        jrows = jpn.page.locator('.consult-detail tr[data-nation="KOR"] .cd[data-step=ack]')
        await expect(jrows).to_have_attribute("data-state", "overdue")
        assert await jpn.page.evaluate("liveIntervals()") == hotline_timers + 1
        await jpn.page.keyboard.press("1")
        await expect(jpn.page.locator("#tab-hotline")).to_have_attribute("aria-selected", "true")
        assert await jpn.page.evaluate("liveIntervals()") == hotline_timers
        await jpn.page.keyboard.press("4")
        await jpn.page.keyboard.press("4")
        await expect(jrows).to_be_visible()
        assert await jpn.page.evaluate("liveIntervals()") == hotline_timers + 1
        await jpn.page.locator('select[name="language"]').select_option("ja")
        await expect(jrows).to_have_text(re.compile(r"^確認期限を 00:\d\d 超過$"))
        await jpn.page.locator("[data-key=logout]").click()
        await expect(jpn.page.locator("input[name=handle]")).to_be_visible()
        assert await jpn.page.evaluate("liveIntervals()") == 0
        usa.check_clean()
        jpn.check_clean()
