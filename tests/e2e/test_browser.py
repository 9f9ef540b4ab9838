"""The verification pages in a real browser: Debian's headless Chromium, driven by
python3-selenium through chromium-driver. The EN and FR pages at the URL printed on a
document are opened, a genuine and a tampered PDF are uploaded through the form, and the
result is read back; every page is kept as a screenshot (CREDD_TEST_ARTIFACTS, default
build/test-artifacts/browser/). Also checked: the pages work without JavaScript, every
form control has a label, and the keyboard reaches the form."""

import os
import shutil

import harness
from ingest_util import HEADER, csv_row
from test_documents import EN, Site

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

ARTIFACTS = os.environ.get("CREDD_TEST_ARTIFACTS",
                           os.path.join(harness.SOURCE_DIR, "build", "test-artifacts", "browser"))


def browser(test):
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1100,1400"):
        options.add_argument(flag)
    # Pages must work without JavaScript: the browser runs with it off.
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    test.addCleanup(driver.quit)
    return driver


def left(element):
    """A wait condition: the page holding `element` has been replaced. Chromium's driver says
    so either as a stale element or, when the old node's document is gone mid-call, as
    "Node with given id does not belong to the document": both mean the same."""
    def check(_):
        try:
            element.is_enabled()
            return False
        except WebDriverException:
            return True
    return check


def submit_and_read_verdict(driver):
    """Submits the form and returns the result page's verdict, once that page has loaded."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    try:
        WebDriverWait(driver, 60).until(left(old))
        return WebDriverWait(driver, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".verdict"))[0].text
    except TimeoutException:
        raise AssertionError("no verdict on the page:\n" + driver.page_source[:3000])


class BrowserTest(harness.TestCase):
    def test_verify_pages_in_english_and_french(self):
        os.makedirs(ARTIFACTS, exist_ok=True)
        site = Site(self)
        site.start()
        port = harness.http_port(site.config)
        site.drop(EN, "b.csv", HEADER + csv_row(1))
        site.report(EN, "b.csv")
        harness.wait_for(lambda: site.count("SELECT count(*) FROM documents") == 1, 60, what="1 document")
        doc = site.documents()[0]
        out = harness.make_temp_dir(self)
        good = site.export(doc["id"], out)
        with open(good, "rb") as f:
            pdf = bytearray(f.read())
        pdf[len(pdf) // 3] ^= 0x01
        tampered = os.path.join(out, "tampered.pdf")
        with open(tampered, "wb") as f:
            f.write(pdf)

        driver = browser(self)
        cases = (("en", "valid and current", "Genuine document", "Not a genuine document", "Français"),
                 ("fr", "valide et à jour", "Document authentique", "Document non authentique", "English"))
        for lang, status_text, genuine_text, fake_text, switch_text in cases:
            with self.subTest(lang=lang):
                driver.get(f"http://127.0.0.1:{port}/verify/{doc['public_id']}?lang={lang}")
                self.assertEqual(driver.find_element(By.TAG_NAME, "html").get_attribute("lang"), lang)
                self.assertIn(status_text, driver.find_element(By.CSS_SELECTOR, ".status").text)
                self.assertEqual(driver.find_element(By.CSS_SELECTOR, "nav a").text, switch_text)
                # Every control has a label; the keyboard reaches the file input and the button.
                for control in driver.find_elements(By.CSS_SELECTOR, "input:not([type=hidden])"):
                    labels = driver.find_elements(By.CSS_SELECTOR, f"label[for='{control.get_attribute('id')}']")
                    self.assertEqual(len(labels), 1, control.get_attribute("outerHTML"))
                reached = []
                for _ in range(8):
                    ActionChains(driver).send_keys(Keys.TAB).perform()
                    active = driver.switch_to.active_element
                    reached.append(active.tag_name + ":" + (active.get_attribute("type") or ""))
                self.assertIn("input:file", reached)
                self.assertIn("button:submit", reached)
                driver.save_screenshot(os.path.join(ARTIFACTS, f"verify-{lang}.png"))

                driver.find_element(By.ID, "pdf").send_keys(good)
                verdict = submit_and_read_verdict(driver)
                self.assertTrue(verdict.startswith(genuine_text), verdict)
                self.assertIn("Given1 Family1", driver.find_element(By.TAG_NAME, "dl").text)
                driver.save_screenshot(os.path.join(ARTIFACTS, f"verify-{lang}-genuine.png"))

                driver.find_element(By.ID, "pdf").send_keys(tampered)
                self.assertEqual(submit_and_read_verdict(driver), fake_text)
                self.assertEqual(driver.find_element(By.TAG_NAME, "html").get_attribute("lang"), lang)
                driver.save_screenshot(os.path.join(ARTIFACTS, f"verify-{lang}-not-genuine.png"))
