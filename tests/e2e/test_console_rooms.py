"""The console's consultation room and warning-data map in a real browser, across three
federated nodes (the browser fixture and helpers are those of ``test_console_browser``)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.test_console_browser import Console, banners, launched_browser, open_console
from tests.e2e.test_tracks_cli import RECORDING, hotline
from tests.support import Cluster, eventually

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
