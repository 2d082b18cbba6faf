"""A re-render while a button is pressed does not lose its click (``web/static/js/dom.js``):
the console re-renders a pane whenever the stream brings news, and a click is a press and a
release on the same element."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

import pytest
from playwright.async_api import Browser

from tests.e2e.test_console_browser import launched_browser

pytestmark = pytest.mark.anyio

PAGE = """
const { h, replaceChildren } = await import("/js/dom.js");
const root = document.body.appendChild(document.createElement("div"));
window.clicks = 0;
window.render = (n) => replaceChildren(root,
  h("button", { id: "b", style: { width: "200px", height: "60px" },
                onclick: () => { window.clicks += 1; } }, `Acknowledge ${n}`));
window.render(0);
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as b:
        yield b


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def static_origin() -> Iterator[str]:
    """The console's static files over HTTP on 127.0.0.1 (a JS module needs an origin)."""
    root = resources.files("hotline.web") / "static"
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_re_render_between_press_and_release_keeps_the_click(
    browser: Browser,
    static_origin: str,
) -> None:
    page = await browser.new_page()
    await page.goto(static_origin + "/js/")  # a page of the origin, not the app
    await page.evaluate(f"(async () => {{ {PAGE} }})()")
    box = await page.locator("#b").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + 50, box["y"] + 30)
    await page.mouse.down()
    await page.evaluate("window.render(1)")  # the stream's news, mid-press
    await page.mouse.up()
    await page.wait_for_function("document.querySelector('#b').textContent === 'Acknowledge 1'")
    assert await page.evaluate("window.clicks") == 1
    # Without a press, a render replaces the button at once; a secondary press (a menu, not a
    # click, maybe never released in the page) holds nothing back.
    await page.evaluate("window.render(2)")
    assert await page.locator("#b").text_content() == "Acknowledge 2"
    await page.mouse.down(button="right")
    await page.evaluate("window.render(3)")
    assert await page.locator("#b").text_content() == "Acknowledge 3"
    await page.mouse.up(button="right")
    await page.close()
