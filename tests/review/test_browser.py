"""A real browser (headless Chromium via Selenium) reviews an image; the export holds exactly what it did."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spacejunk.io import read_labels
from spacejunk.preprocess import make_rgb
from spacejunk.review import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not (
        shutil.which("chromium") and shutil.which("chromedriver")),
    reason="headless Chromium + ChromeDriver not installed (`make browser`)")


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,900"):
        options.add_argument(arg)
    service = webdriver.ChromeService(
        executable_path=CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


class RecordingRender:
    """make_rgb, remembering the (image, bands, stretch) of each picture the server draws."""

    def __init__(self):
        self.calls: list[tuple[str, tuple[str, ...], str]] = []

    def __call__(self, exposure, *, bands, stretch):
        self.calls.append((exposure.name, tuple(bands), stretch))
        return make_rgb(exposure.select(list(bands)), stretch=stretch)


def test_review_in_a_real_browser(prepared, browser, serve_app, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    folder, store, images = prepared
    render = RecordingRender()
    app = create_app(folder, store=store, images=images, reviewer="tester", render=render)
    wait = WebDriverWait(browser, 30, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException])
    js = browser.execute_script

    def text(css: str) -> str:
        return js("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)

    with serve_app(app) as url:
        browser.get(url + "/")
        wait.until(lambda d: js("return !!(window.spacejunkReview && window.spacejunkReview.ready())"))
        # the queue opened the least certain image, drew its three proposals and its picture
        assert text("#image-name") == "alpha"
        assert text("#progress") == "Reviewed 0 of 3"
        assert len(browser.find_elements(By.CSS_SELECTOR, "#viewer .mark")) == 3
        assert ("alpha", ("g", "r", "i"), "asinh") in render.calls
        assert "click image" in text("#help")

        # accept the satellite proposal: click its row, press A
        satellite = next(m for m in store.marks("alpha") if m.category == "satellite")
        browser.find_element(By.CSS_SELECTOR, f'#marks li[data-id="{satellite.id}"]').click()
        ActionChains(browser).send_keys("a").perform()
        wait.until(lambda d: text(f'#marks li[data-id="{satellite.id}"] .decision') == "accepted")
        assert store.mark(satellite.id).decision == "accepted" and store.mark(satellite.id).reviewer == "tester"

        # contrast stretch and band toggles reach the server
        ActionChains(browser).send_keys("t").perform()
        wait.until(lambda d: ("alpha", ("g", "r", "i"), "linear") in render.calls)
        ActionChains(browser).send_keys("1").perform()          # band g off
        wait.until(lambda d: ("alpha", ("r", "i"), "linear") in render.calls)

        # add a missed artifact: medium circle, category cosmic-ray, one click on pixel (60, 200)
        ActionChains(browser).send_keys("m").perform()
        Select(browser.find_element(By.ID, "category")).select_by_value("cosmic-ray")
        js("document.activeElement.blur()")
        wait.until(lambda d: js("return window.spacejunkReview.ready()"))
        viewer = browser.find_element(By.ID, "viewer")
        px, py = js("return window.spacejunkReview.imageToElement(60, 200)")
        w, h = viewer.size["width"], viewer.size["height"]
        ActionChains(browser).move_to_element_with_offset(viewer, round(px - w / 2), round(py - h / 2)) \
            .click().perform()
        wait.until(lambda d: any(m.source == "person" for m in store.marks("alpha")))
        (added,) = [m for m in store.marks("alpha") if m.source == "person"]
        assert (added.radius, added.category, added.reviewer) == (75.0, "cosmic-ray", "tester")
        assert abs(added.x - 60) < 3 and abs(added.y - 200) < 3
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, f"#mark-{added.id}")) == 1)

        # drag it 30 screen pixels to the right: it moves, the view does not pan
        scale = js("const a = window.spacejunkReview.imageToElement(0, 0),"
                   " b = window.spacejunkReview.imageToElement(100, 0); return (b[0] - a[0]) / 100;")
        box = browser.find_element(By.ID, f"mark-{added.id}")
        ActionChains(browser).move_to_element(box).click_and_hold().move_by_offset(15, 0).move_by_offset(15, 0) \
            .release().perform()
        wait.until(lambda d: store.mark(added.id).version == 2)
        moved = store.mark(added.id)
        assert moved.x - added.x == pytest.approx(30 / scale, abs=1.5) and moved.y == pytest.approx(added.y, abs=0.5)

        # done & next: the pending proposals become rejected, progress moves, the next image opens
        ActionChains(browser).send_keys("n").perform()
        wait.until(lambda d: text("#progress") == "Reviewed 1 of 3")
        wait.until(lambda d: text("#image-name") != "alpha" and js("return window.spacejunkReview.ready()"))
        assert "by tester" in text('#queue li[data-name="alpha"]')

    labels = read_labels(store.export_labels(tmp_path / "labels.csv"))
    assert list(labels) == ["alpha"]
    got = sorted(((round(a.x, 1), round(a.y, 1), round(a.radius, 2), a.category) for a in labels["alpha"]),
                 key=lambda r: r[3])
    assert got == sorted([(round(satellite.x, 1), round(satellite.y, 1), round(satellite.radius, 2), "satellite"),
                          (round(moved.x, 1), round(moved.y, 1), 75.0, "cosmic-ray")], key=lambda r: r[3])
    assert sorted(m.decision for m in store.marks("alpha")) == ["accepted", "accepted", "rejected", "rejected"]
