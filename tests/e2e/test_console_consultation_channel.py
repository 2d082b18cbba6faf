"""A consultation's own channel in the browser console: listed in its own group under its layer
as soon as its FLASH notice arrives, named by the consultation's subject; marked Closed, with no
form to send on it, as soon as the consultation closes (no reload)."""

from __future__ import annotations

import re

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
    await expect(jpn.page.locator("form.compose, section.compose").first).to_be_visible()
    await expect(jpn.page.locator(".compose-closed")).to_have_count(0)
    await jpn.shot("jpn-consultation-channel")

    # The consultation closes at USA: JPN's console learns it from its live stream.
    cid = resp.json()["id"]
    closed = await usa.post(f"/api/v1/consultations/{cid}/phase", json={"phase": "closed"})
    assert closed.status_code == 200, closed.text
    await expect(button).to_have_class(re.compile(r"\bclosed\b"))
    await expect(button.locator(".badge.closed")).to_have_text("Closed")
    await expect(head.locator(".kind")).to_contain_text("Closed")
    await expect(jpn.page.locator(".compose-closed h2")).to_have_text("Consultation closed")
    # The history is still there.
    await expect(jpn.page.locator("li.msg.prec-flash")).to_have_count(1)
    await jpn.shot("jpn-consultation-channel-closed")
    jpn.check_clean()
