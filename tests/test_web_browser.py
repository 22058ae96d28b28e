"""The web edition in a real browser: Debian's Chromium, driven by Playwright, against `publish preview`.

Screenshots at phone and desktop widths, light and dark, are saved to tests/_artifacts/screenshots/
for a person to look at; the tests check what can be checked without eyes: no sideways scrolling,
the book's own typeface, the themes, the contents menu, axe-core's accessibility rules, keyboard
use, footnotes both ways, print styles, no request leaving the machine, and the live reload.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

from publish.manuscript import load_manuscript  # noqa: E402
from publish.parse import parse_book  # noqa: E402
from publish.preview import PreviewServer  # noqa: E402

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
AXE = REPO / "tools" / "ace" / "node_modules" / "@daisy" / "axe-core-for-ace" / "axe.min.js"
SHOTS = REPO / "tests" / "_artifacts" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}
# The contents menu's list of chapters (the spoiler notice has a list of its own above it).
CHAPTERS_LIST = "#contents details > ol:not(.contents-front)"
NOTE = ("\nThe band rehearses at night.[^night]\n\n"
        "[^night]: Every rehearsal in the film happens after dark, which the essay leaves unsaid.\n")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web") / "book"
    shutil.copytree(REPO / "manuscript", folder)
    chapter = folder / "01-leadership.md"
    chapter.write_text(chapter.read_text() + NOTE)  # the sample has no footnote of its own
    return folder


@pytest.fixture(scope="module")
def server(book: Path) -> Iterator[PreviewServer]:
    with PreviewServer(book, port=0, watch_styles=False) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make test` (scripts/bootstrap.sh dev installs it)")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_page(browser, url: str, *, size: str = "desktop", scheme: str = "light", media: str = "screen"):
    context = browser.new_context(viewport=VIEWPORTS[size], color_scheme=scheme, reduced_motion="reduce")
    page = context.new_page()
    page.emulate_media(media=media)
    page.goto(url)
    page.evaluate("document.fonts.ready.then(() => true)")
    return context, page


# The family of the book's regular face as the page's fonts.css names it (a subset of Gentium Book
# Plus, named "Book Face …": the licence reserves the name), and whether the browser loaded it.
BOOK_FACE = """[...document.fonts].map(f => [f.family.replaceAll('"', ''), f.style, f.status])
                 .filter(([family, style, status]) => family.startsWith('Book Face') && style === 'normal'
                         && status === 'loaded').map(([family]) => family)[0] || ''"""


def first_chapter_id(book: Path) -> str:
    return parse_book(load_manuscript(book)).chapters[0].id


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_screenshots_at_phone_and_desktop_widths(browser, server: PreviewServer, size: str, scheme: str) -> None:
    context, page = open_page(browser, server.url, size=size, scheme=scheme)
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{size}-{scheme}.png"))
        page.locator("#leadership-the-line-between-discipline-and-humanity").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"{size}-{scheme}-chapter.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"], "sideways scrolling"
        family = page.evaluate(BOOK_FACE)
        assert family.startswith("Book Face ")
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith(f'"{family}"')
        red, green, blue = page.evaluate(
            "getComputedStyle(document.documentElement).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)")
        assert (red + green + blue) / 3 > 200 if scheme == "light" else (red + green + blue) / 3 < 50
        contents = page.locator(CHAPTERS_LIST)
        if size == "phone":
            assert not contents.is_visible(), "on a phone the contents start as a closed menu"
            page.locator("#contents summary").click()
            assert contents.is_visible()
            page.screenshot(path=str(SHOTS / f"{size}-{scheme}-menu.png"))
        else:
            assert contents.is_visible()
            assert page.locator("#contents").bounding_box()["x"] == 0
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_axe_finds_no_accessibility_violations(browser, server: PreviewServer, size: str, scheme: str) -> None:
    context, page = open_page(browser, server.url, size=size, scheme=scheme)
    try:
        if size == "phone":
            page.locator("#contents summary").click()  # the open menu is checked too
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate("""async () => (await axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}
        })).violations.map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target).join(" | ")}`)""")
        assert violations == []
    finally:
        context.close()


def test_landmarks_and_heading_order(browser, server: PreviewServer) -> None:
    context, page = open_page(browser, server.url)
    try:
        assert page.locator("main").count() == 1
        assert page.locator("nav[aria-labelledby]").count() == 1
        levels = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1])")
        assert levels[0] == 1 and levels.count(1) == 1
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels
    finally:
        context.close()


def test_the_spoiler_notice_comes_first_with_a_way_on(browser, server: PreviewServer, book: Path) -> None:
    context, page = open_page(browser, server.url)
    try:
        after_title = page.evaluate("document.querySelector('main > header').nextElementSibling.id")
        assert after_title == "spoiler-notice"
        assert page.locator("#contents li a").first.get_attribute("href") == "#spoiler-notice"
        page.get_by_role("link", name="Continue to the text").click()
        assert page.evaluate("location.hash") == "#" + first_chapter_id(book)
    finally:
        context.close()


def test_keyboard_skip_link_and_menu(browser, server: PreviewServer, book: Path) -> None:
    context, page = open_page(browser, server.url)
    try:
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.className")
        assert focused == "skip-link"
        assert page.locator(".skip-link").bounding_box()["y"] >= 0, "the focused skip link is on screen"
        page.keyboard.press("Enter")
        assert page.evaluate("location.hash") == "#spoiler-notice"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Continue to the text"
        page.keyboard.press("Enter")
        assert page.evaluate("location.hash") == "#" + first_chapter_id(book)
    finally:
        context.close()
    context, page = open_page(browser, server.url, size="phone")
    try:
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
        page.keyboard.press("Enter")
        assert page.locator(CHAPTERS_LIST).is_visible()
        page.keyboard.press("Escape")
        assert not page.locator(CHAPTERS_LIST).is_visible()
        assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    finally:
        context.close()


def test_footnotes_link_both_ways(browser, server: PreviewServer) -> None:
    context, page = open_page(browser, server.url)
    try:
        ref = page.locator("a.noteref").first
        ref_id, note_href = ref.get_attribute("id"), ref.get_attribute("href")
        ref.click()
        assert page.evaluate("location.hash") == note_href
        note = page.locator(note_href)
        assert "after dark" in note.inner_text()
        assert note.is_visible() and page.evaluate(f"document.querySelector('{note_href}').getBoundingClientRect().top") >= 0
        note.locator("a.backlink").click()
        assert page.evaluate("location.hash") == f"#{ref_id}"
    finally:
        context.close()


def test_the_chapter_being_read_is_marked_in_the_contents(browser, server: PreviewServer) -> None:
    context, page = open_page(browser, server.url)
    try:
        page.locator("#contents a[href='#the-comeback-when-failure-becomes-freedom']").click()
        page.wait_for_selector("#contents a[aria-current='location']")
        assert page.locator("#contents a[aria-current='location']").get_attribute("href") == \
            "#the-comeback-when-failure-becomes-freedom"
    finally:
        context.close()


def test_printing_gives_the_text_alone(browser, server: PreviewServer) -> None:
    from pypdf import PdfReader

    context, page = open_page(browser, server.url, media="print")
    try:
        assert page.evaluate("getComputedStyle(document.getElementById('contents')).display") == "none"
        assert page.evaluate("getComputedStyle(document.querySelector('.chapter:not(.opening)')).breakBefore") == "page"
        pdf = PdfReader(io.BytesIO(page.pdf(format="A5")))
        text = pdf.pages[0].extract_text()
        assert "Whiplash" in text and "Contents" not in text
        assert len(pdf.pages) >= 6  # title page, the opening, then each chapter on a new page
    finally:
        context.close()


def test_no_request_leaves_the_machine(browser, server: PreviewServer, book: Path, tmp_path: Path) -> None:
    from publish.html import render_html

    context, page = open_page(browser, "about:blank")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(server.url)
        page.evaluate("document.fonts.ready.then(() => window.scrollTo(0, document.body.scrollHeight))")
        page.wait_for_timeout(200)
        assert requested and all(url.startswith(server.url) for url in requested), requested
        # The published folder opens from disk and reads only what sits beside it.
        edition = tmp_path / "edition"
        for name, data in render_html(parse_book(load_manuscript(book))).items():
            (edition / name).parent.mkdir(parents=True, exist_ok=True)
            (edition / name).write_bytes(data)
        requested.clear()
        page.goto((edition / "index.html").as_uri())
        page.evaluate("document.fonts.ready.then(() => true)")
        assert page.evaluate(BOOK_FACE).startswith("Book Face ")
        assert all(url.startswith(edition.as_uri()) for url in requested), requested
        assert any(url.endswith(".ttf") for url in requested)
    finally:
        context.close()


def test_saving_a_chapter_reloads_the_open_page_at_the_same_place(browser, server: PreviewServer, book: Path) -> None:
    context, page = open_page(browser, server.url)
    try:
        reading = "#the-core-message-human-perfection-not-cruel-perfectionism"
        top = f"document.querySelector('{reading}').getBoundingClientRect().top"
        for _ in range(20):  # chapters coming into view are laid out and change height: scroll until still
            page.evaluate(f"window.scrollBy({{top: {top} + 200, behavior: 'instant'}})")
            page.wait_for_timeout(50)
            if abs(page.evaluate(top) + 200) < 1:
                break
        before = page.evaluate(f"document.querySelector('{reading}').getBoundingClientRect().top")
        chapter = book / "03-the-comeback.md"
        chapter.write_text(chapter.read_text() + "\n## Written during the preview {#live-reload-check}\n\nText.\n")
        page.locator("#live-reload-check").wait_for(state="attached", timeout=15_000)
        page.wait_for_load_state("load")
        after = page.evaluate(f"document.querySelector('{reading}').getBoundingClientRect().top")
        assert before == pytest.approx(-200, abs=5)
        assert after == pytest.approx(before, abs=5), "the place being read is kept across the reload"
    finally:
        context.close()
