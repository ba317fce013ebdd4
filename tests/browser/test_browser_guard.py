"""The guard in conftest.py must see what it is there to catch, in this Chromium: a
Content-Security-Policy violation, a JavaScript error and a request leaving the machine.
Each is provoked here on purpose, checked, and then forgiven so the test passes."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import wait_until


def test_the_guard_sees_csp_violations_script_errors_and_foreign_requests(
    page: Page, browser_problems
):
    response = page.goto("/w/Support/tasks/?size=1")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#live-controls")).to_be_visible()  # our own script runs
    with page.expect_popup() as popup:
        page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "window.inlineScriptRan = true";
                document.body.append(script);
                const style = document.createElement("style");
                style.textContent = "body { color: red }";
                document.head.append(style);
                setTimeout(() => { throw new Error("provoked by the guard's test"); }, 0);
                // The policy blocks fetches, images, scripts... elsewhere; not a new window.
                window.open("http://example.invalid/page");
            }"""
        )
    popup.value.close()
    expect(page.locator("body")).to_be_visible()

    def timer_error_arrived() -> bool:
        browser_problems.flush()
        return bool(browser_problems.page_errors)

    wait_until(timer_error_arrived, timeout=5)

    assert page.evaluate("window.inlineScriptRan") is None
    console = browser_problems.console_errors
    assert any("inline script" in e and "Content Security Policy" in e for e in console), console
    assert any("inline style" in e and "Content Security Policy" in e for e in console), console
    assert browser_problems.page_errors == ["provoked by the guard's test"]
    assert browser_problems.foreign_requests == ["GET http://example.invalid/page"]
    browser_problems.forgive()
