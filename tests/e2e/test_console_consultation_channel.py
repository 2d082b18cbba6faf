"""A consultation's own channel in the browser console: listed in its own group under its layer
as soon as its FLASH notice arrives, named by the consultation's subject."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.consultation_support import INVOKE
from tests.e2e.test_console_browser import browser, open_console  # noqa: F401 (fixture)
from tests.support import Cluster

pytestmark = pytest.mark.anyio


async def test_a_consultation_channel_appears_in_its_own_group(
    cluster: Cluster,
    browser: Browser,  # noqa: F811
) -> None:
    jpn = await open_console(browser, cluster["JPN"].url)
    await jpn.login("jpn.nsa")
    layer = jpn.page.locator('section.layer[data-layer="nsa"]')
    await expect(layer.locator('[data-kind="trilateral"] button.channel')).to_have_count(1)
    await expect(layer.locator('[data-kind="consultation"]')).to_have_count(0)

    usa = await cluster["USA"].login("usa.nsa")
    resp = await usa.post("/api/v1/consultations", json=INVOKE)
    assert resp.status_code == 201, resp.text
    channel = resp.json()["channel"]

    group = layer.locator('[data-kind="consultation"]')
    await expect(group.locator("h4")).to_have_text("Consultations")
    button = group.locator(f'button[data-channel="{channel}"]')
    await expect(button.locator(".names")).to_have_text(INVOKE["subject"])
    await expect(button.locator(".members")).to_have_text("USA · JPN · KOR")
    # The compact's channels keep their groups.
    await expect(layer.locator('[data-kind="trilateral"] button.channel')).to_have_count(1)
    await button.click()
    head = jpn.page.locator(".list-head")
    await expect(head.locator("h2")).to_have_text(INVOKE["subject"])
    await expect(head.locator(".channel-id")).to_have_text(channel)
    await expect(jpn.page.locator("li.msg.prec-flash")).to_have_count(1)
    await jpn.shot("jpn-consultation-channel")
    jpn.check_clean()
