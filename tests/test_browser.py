"""The app in a real browser: Playwright drives the system Chromium through every tab.

Each test saves full-page screenshots in its tmp_path, for a person to look at. The
tests are skipped, with the reason shown in pytest's summary, only where there is no
Chromium at /usr/bin/chromium (CI's .ci/run installs it).
"""

import csv
import io
import os
import re
import time
import zipfile

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from captcha_model.data import rendering

CHROMIUM = "/usr/bin/chromium"
# This machine and CI have no network: Chromium must not try to reach its update and sync services.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"no Chromium at {CHROMIUM}; install it with `apt-get install chromium` (.ci/run does)"),
    # Gradio's queue calls a pandas API that pandas 3 deprecates; nothing here can act on it.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh page on the app, opened on its first tab once the first captcha has been read and explained."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page.goto(app_url)
    expect(textbox(page, "generated-reading")).not_to_have_value("", timeout=TIMEOUT_MS)
    # The first reading's explanation follows it; an event that ended meanwhile would lose its messages.
    expect(saliency_captions(page, "generated-saliency")).not_to_have_count(0)
    yield page
    context.close()


def textbox(page, elem_id):
    return page.locator(f"#{elem_id}").get_by_role("textbox")


def saliency_captions(page, elem_id):
    return page.locator(f"#{elem_id} .caption-label")


def expect_saliency_of_the_reading(page, elem_id, reading):
    """One overlay per character read, each captioned with its character and confidence."""
    expect(saliency_captions(page, elem_id)).to_have_text(
        [re.compile(rf"^{re.escape(character)} · \d{{1,3}}\.\d%$") for character in reading])
    expect(page.locator(f"#{elem_id} img")).to_have_count(len(reading))


def screenshot(page, tmp_path, name):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def test_generate_and_solve(page, tmp_path):
    screenshot(page, tmp_path, "01-opened")
    textbox(page, "generate-text").fill("7K2P")
    page.locator("#generate-seed").get_by_role("spinbutton").fill("8")
    page.locator("#generate-button").click()
    expect(textbox(page, "generated-truth")).to_have_value("7K2P")
    expect(textbox(page, "generated-reading")).to_have_value("7K2P")
    expect(page.locator("#verdict")).to_contain_text("Right")
    expect(page.locator("#generated-confidences")).to_contain_text("%")
    expect_saliency_of_the_reading(page, "generated-saliency", "7K2P")
    screenshot(page, tmp_path, "02-generated")

    page.locator("#random-button").click()
    expect(page.locator("#generate-seed").get_by_role("spinbutton")).not_to_have_value("8")
    expect(textbox(page, "generated-truth")).not_to_have_value("7K2P")
    expect(textbox(page, "generated-reading")).not_to_have_value("")


def test_invalid_text_gets_a_clear_message(page, tmp_path):
    textbox(page, "generate-text").fill("AB!")
    page.locator("#generate-button").click()
    # The message appears under the text box, and nothing is drawn.
    expect(page.locator("#generate-text")).to_contain_text("Captcha text must have exactly 4 characters")
    expect(textbox(page, "generated-truth")).not_to_have_value("AB!")
    screenshot(page, tmp_path, "03-invalid-text")


def test_upload_and_solve(page, tmp_path, config):
    text, image = rendering.sample_captcha(config, seed=2)
    path = tmp_path / "captcha.png"
    image.save(path)
    page.get_by_role("tab", name="Upload & solve").click()
    page.locator("#upload-image input[type=file]").set_input_files(str(path))
    expect(textbox(page, "upload-reading")).to_have_value(text)
    expect(page.locator("#upload-details")).to_contain_text("170×80 PNG image")
    expect(page.locator("#model-input img")).to_be_visible()
    expect_saliency_of_the_reading(page, "upload-saliency", text)
    screenshot(page, tmp_path, "04-uploaded")


def test_the_ctc_model_draws_and_reads_6_characters_at_200x70(page, tmp_path):
    length = page.locator("#generate-length")
    # The default model reads 4 characters only: there is no length to choose.
    expect(length).to_have_count(0)
    page.locator("#model-choice").get_by_label("ctc", exact=True).check()
    expect(page.locator("#model-headline")).to_contain_text("bundled ctc model")
    # The length slider spans the ctc model's lengths, and the chosen model reads the captcha on show.
    expect(length.locator("input[type=range]")).to_have_attribute("min", "1")
    expect(length.locator("input[type=range]")).to_have_attribute("max", "8")
    expect(page.locator("#generated-saliency [data-testid=status-tracker]")).to_have_class(re.compile(r"\bhide\b"))
    length.locator("input[type=number]").fill("6")
    length.locator("input[type=number]").press("Enter")
    textbox(page, "generate-size").fill("200x70")
    page.locator("#generate-button").click()
    expect(textbox(page, "generated-truth")).to_have_value(re.compile(r"^[0-9A-Z]{6}$"))
    image = page.locator("#generated-image img")
    expect(image).to_have_js_property("naturalWidth", 200)
    expect(image).to_have_js_property("naturalHeight", 70)
    expect(page.locator("#verdict")).to_contain_text("confidence")
    reading = textbox(page, "generated-reading").input_value()
    expect_saliency_of_the_reading(page, "generated-saliency", reading)
    screenshot(page, tmp_path, "07-ctc-generated")

    page.get_by_role("tab", name="Model").click()
    expect(page.locator("#model-details")).to_contain_text("1 to 8 characters")
    page.get_by_role("tab", name="Generate & solve").click()
    page.locator("#model-choice").get_by_label("default", exact=True).check()
    expect(page.locator("#model-headline")).to_contain_text("bundled default model")
    expect(length).to_have_count(0)


def test_a_bad_size_gets_a_clear_message(page, tmp_path):
    textbox(page, "generate-size").fill("1000x70")
    page.locator("#generate-button").click()
    expect(page.locator("#generate-size")).to_contain_text("Captchas are drawn from 40x20 to 400x200 pixels")
    screenshot(page, tmp_path, "08-bad-size")


def test_accuracy_evaluation(page, tmp_path):
    page.get_by_role("tab", name="Accuracy").click()
    count = page.locator("#evaluate-count").get_by_role("spinbutton")
    count.fill("50")
    count.press("Enter")
    page.locator("#evaluate-button").click()
    summary = page.locator("#evaluation-summary")
    expect(summary).to_contain_text("of 50 captchas read right")
    expect(page.locator("#confusions img").first).to_be_visible()
    screenshot(page, tmp_path, "05-evaluated")
    accuracy = float(summary.locator("h3").inner_text().split("%")[0])
    assert accuracy >= 90, summary.inner_text()


def test_model_tab(page, tmp_path):
    page.get_by_role("tab", name="Model").click()
    expect(page.locator("#model-details")).to_contain_text("Parameters")
    expect(page.locator("#network-diagram img")).to_be_visible()
    screenshot(page, tmp_path, "06-model")


def captchas_zip(path, config, count, typed, noisy):
    """A zip of `count` captchas drawn for `config` (the first `typed` labelled in labels.csv), and `noisy` images of
    random pixels, which the model reads least surely."""
    rows = ["file,text"]
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(count):
            text, image = rendering.sample_captcha(config, seed=index)
            archive.writestr(f"{index:03d}.png", png_bytes(image))
            if index < typed:
                rows.append(f"{index:03d}.png,{text}")
        noise = np.random.default_rng(0)
        for index in range(noisy):
            pixels = noise.integers(0, 256, (config.captcha_height, config.captcha_width), dtype=np.uint8)
            archive.writestr(f"noise-{index}.png", png_bytes(Image.fromarray(pixels)))
        archive.writestr("labels.csv", "\n".join(rows) + "\n")
    return path


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def box_label(page, slot):
    return page.locator(f"#your-label-{slot} [data-testid=block-info]")


def drop_and_prelabel(page, archive):
    page.get_by_role("tab", name="Your captchas").click()
    page.locator("#your-zip input[type=file]").set_input_files(str(archive))
    # The upload has reached the server once the box links to the server's copy.
    expect(page.locator("#your-zip a")).to_have_attribute("href", re.compile(re.escape(archive.name) + "$"))
    page.locator("#your-load-button").click()


def test_your_captchas_least_sure_first_corrected_with_enter(page, tmp_path, config):
    archive = captchas_zip(tmp_path / "site.zip", config, count=30, typed=5, noisy=4)
    drop_and_prelabel(page, archive)
    expect(page.locator("#your-summary")).to_contain_text(
        "site.zip: 34 captchas, 5 labelled (kept as typed) and 29 read by the model, least sure first.")
    expect(page.locator("#your-page")).to_contain_text("Page 1 of 2 · 34 captchas · 5 typed or confirmed")
    # The grid opens on the least sure readings: the noise first, the confidences never falling.
    expect(box_label(page, 23)).to_contain_text("sure")
    sureness = [int(re.search(r"· (\d+)% sure", box_label(page, slot).inner_text())[1]) for slot in range(24)]
    assert sureness == sorted(sureness) and sureness[0] < sureness[-1], sureness
    screenshot(page, tmp_path, "09-your-captchas")

    first = textbox(page, "your-label-0")
    first.fill("ABCD")
    first.press("Enter")
    expect(box_label(page, 0)).to_have_text("#1 · ✓ typed")
    expect(page.locator("#your-status")).to_contain_text("Saved #1 as ABCD · 6 typed or confirmed.")
    # The next box takes the focus: Enter confirms its pre-label as it stands.
    expect(textbox(page, "your-label-1")).to_be_focused()
    reading = textbox(page, "your-label-1").input_value()
    page.keyboard.press("Enter")
    expect(box_label(page, 1)).to_have_text("#2 · ✓ typed")
    expect(textbox(page, "your-label-2")).to_be_focused()

    # The corrections are the server's: they are there after turning the pages, and in the download.
    page.locator("#your-next").click()
    expect(page.locator("#your-page")).to_contain_text("Page 2 of 2")
    expect(textbox(page, "your-label-10")).to_be_hidden()
    page.locator("#your-previous").click()
    expect(textbox(page, "your-label-0")).to_have_value("ABCD")
    expect(box_label(page, 0)).to_have_text("#1 · ✓ typed")
    page.locator("#your-download").click()
    link = page.locator("#your-download-file a").first
    expect(link).to_have_attribute("download", "captcha-model.zip")
    response = page.request.get(link.get_attribute("href"))
    with zipfile.ZipFile(io.BytesIO(response.body())) as download:
        rows = list(csv.reader(io.StringIO(download.read("labels.csv").decode())))
    assert [row[1] for row in rows if row[3] == "yes"][:2] == ["ABCD", reading]
    screenshot(page, tmp_path, "10-your-captchas-corrected")


def test_your_captchas_empty_zip_gets_a_clear_message(page, tmp_path):
    archive = tmp_path / "empty.zip"
    zipfile.ZipFile(archive, "w").close()
    drop_and_prelabel(page, archive)
    expect(page.locator(".toast-body")).to_contain_text("empty.zip holds no images")
    expect(page.locator("#your-page")).to_contain_text("No captchas yet")


@pytest.mark.slow
def test_your_captchas_grid_stays_responsive_with_2000_images(page, tmp_path, config):
    archive = captchas_zip(tmp_path / "many.zip", config.at(width=60, height=24), count=0, typed=0, noisy=2000)
    drop_and_prelabel(page, archive)
    expect(page.locator("#your-page")).to_contain_text("Page 1 of 84 · 2,000 captchas")
    started = time.monotonic()
    page.locator("#your-next").click()
    expect(page.locator("#your-page")).to_contain_text("Page 2 of 84")
    expect(box_label(page, 0)).to_contain_text("#25 ·")
    turned = time.monotonic() - started
    first = textbox(page, "your-label-0")
    first.fill("AB12")
    first.press("Enter")
    expect(box_label(page, 0)).to_have_text("#25 · ✓ typed")
    saved = time.monotonic() - started - turned
    print(f"turning a page: {turned:.2f} s; saving a label: {saved:.2f} s")
    assert turned < 3 and saved < 3


@pytest.mark.slow
def test_your_captchas_training_shows_its_progress_and_stops(page, tmp_path, config):
    drop_and_prelabel(page, captchas_zip(tmp_path / "site.zip", config, count=40, typed=35, noisy=0))
    expect(page.locator("#your-page")).to_contain_text("35 typed or confirmed")
    page.locator("#your-train").click()
    expect(page.locator("#your-result .progress-text")).to_be_visible()
    screenshot(page, tmp_path, "11-your-captchas-training")
    page.locator("#your-stop").click()
    expect(page.locator("#your-result")).to_contain_text(
        "Training was stopped before it finished. You have no trained model yet.")
