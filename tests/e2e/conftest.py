"""A real Chromium (Debian's package) driven by Playwright against pytest-django's live server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.processes import npm_ci

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("The browser tests need Chromium: `apt-get install chromium` (or set CHROMIUM_PATH).")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def script_errors(page: Page) -> list[str]:
    """What the page's scripts report as broken: console errors and uncaught exceptions, with the
    address they happened on."""
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    return errors


# --- Journeys: shared steps and checks -----------------------------------------------------------


def demo_login(page: Page, *, index: int = 0, level: str = "eidas2") -> None:
    """On the login page the gateway sent us to: the demo login, one person, one eIDAS level."""
    page.get_by_role("link", name="Connexion de démonstration").click()
    page.wait_for_url("**/connexion/demo/**")
    # DSFR radios hide the native input behind the label: click the label as a person would.
    page.locator(f"label[for='id_citizen_{index}']").click()
    page.locator(f"input[name='eidas_level'][value='{level}'] + label").click()
    page.get_by_role("button", name="Se connecter").click()


def accessibility_problems(page: Page) -> list[str]:
    """Basic facts a screen-reader user relies on, checked in the rendered page (axe-core is not
    vendored, and CI is offline): one h1, <html lang>, a skip link to the content, one main
    landmark, unique ids, every form control labelled, every button and link named, tables with a
    caption and header cells."""
    # Right after a click the new document may be committed but not parsed yet (no <html>).
    page.wait_for_load_state("domcontentloaded")
    return list(
        page.evaluate(
            """() => {
        const problems = [];
        const name = (el) => (el.getAttribute('aria-label') || el.textContent || el.getAttribute('title')
                              || el.value || '').trim();
        const h1 = document.querySelectorAll('h1');
        if (h1.length !== 1) problems.push(`${h1.length} h1 elements`);
        if (!document.documentElement.getAttribute('lang')) problems.push('no <html lang>');
        if (!document.querySelector('.fr-skiplinks a[href="#content"]')) problems.push('no skip link');
        if (!document.getElementById('content')) problems.push('skip link target #content missing');
        const mains = document.querySelectorAll('main, [role="main"]');
        if (mains.length !== 1) problems.push(`${mains.length} main landmarks`);
        const ids = [...document.querySelectorAll('[id]')].map((el) => el.id);
        for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push(`duplicate id ${id}`);
        for (const el of document.querySelectorAll('input, select, textarea')) {
          if (el.type === 'hidden') continue;
          const labelled = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`))
            || el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
          if (!labelled) problems.push(`unlabelled ${el.tagName.toLowerCase()} ${el.name || el.id}`);
        }
        for (const el of document.querySelectorAll('button, a[href]')) {
          if (!name(el)) problems.push(`unnamed ${el.tagName.toLowerCase()} ${el.outerHTML.slice(0, 80)}`);
        }
        for (const table of document.querySelectorAll('table')) {
          if (!table.querySelector('caption')) problems.push('table without caption');
          if (!table.querySelector('th')) problems.push('table without header cells');
        }
        return problems;
    }"""
        )
    )


# --- axe-core (npm, tests/e2e/axe): the accessibility rules, run in the page -----------------------

AXE_DIR = Path(__file__).resolve().parent / "axe"
# A phone's width (iPhone SE, the narrowest common one) and a laptop's.
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def axe_source() -> str:
    npm_ci(AXE_DIR)
    return (AXE_DIR / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture
def axe(page: Page, axe_source: str) -> Page:
    """`page`, with axe-core loaded in every document it opens from now on (an init script: no
    page's own policy or markup is changed to let it in)."""
    page.add_init_script(script=axe_source)
    return page


def axe_violations(page: Page) -> list[str]:
    """Every axe-core violation on the page as it is now, whatever its impact, one line each:
    rule, impact, and the elements concerned."""
    return list(
        page.evaluate(
            """async () => {
        const results = await window.axe.run(document, {resultTypes: ['violations']});
        return results.violations.map((v) =>
            `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
    }"""
        )
    )


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal page scroll)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))


def too_wide(page: Page) -> list[str]:
    """The elements that reach past the window's right edge (what makes the page scroll sideways)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
        .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} `
                     + `${Math.round(el.getBoundingClientRect().right)}`)
        .slice(0, 8)"""
        )
    )
