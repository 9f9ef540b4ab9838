"""The students' and the desk's pages in a real browser: Debian's headless Chromium through
python3-selenium and chromium-driver.

The student's path runs in English and again in French with JavaScript off (the pages need
none): the invitation's link, activation with a password, the documents, the signed PDF
downloaded by the browser (byte-identical to the stored one, and pdfsig says it is valid),
a share whose recipient opens it in a browser of their own, "opened" in the student's
history, and the cancelled link's 410. Then axe-core (npm, tests/browser) runs inside
Chromium on every page the journeys visit, students' and staff's, and must find no serious
or critical violation. Every page is kept as a screenshot (CREDD_TEST_ARTIFACTS, default
build/test-artifacts/browser/)."""

import glob
import json
import os
import re
import shutil

import harness
from ingest_util import HEADER
from people_util import EN, FR, PASSWORD, PeopleSite, link
from test_accounts import row
from test_browser import ARTIFACTS, left
from test_documents import check_pdf

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

AXE = os.path.join(harness.SOURCE_DIR, "tests", "browser", "node_modules", "axe-core", "axe.min.js")


def chromium(test, downloads=None, javascript=False, lang="en"):
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1100,1400", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--lang={lang}"):
        options.add_argument(flag)
    prefs = {"intl.accept_languages": "fr-CA,fr" if lang == "fr" else "en-CA,en"}
    if not javascript:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    if downloads:
        prefs.update({"download.default_directory": downloads, "download.prompt_for_download": False,
                      "plugins.always_open_pdf_externally": True})
    options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    test.addCleanup(driver.quit)
    return driver


def submit(driver, button_css="main button[type=submit]"):
    """Clicks the button and waits for the next page to load."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, button_css).click()
    try:
        WebDriverWait(driver, 60).until(left(old))
    except TimeoutException:
        raise AssertionError("the page did not change:\n" + driver.page_source[:3000])


def shot(driver, name):
    driver.save_screenshot(os.path.join(ARTIFACTS, f"people-{name}.png"))


class PeopleBrowserTest(harness.TestCase):
    def test_student_and_desk_pages_in_english_and_french_with_axe(self):
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.assertTrue(os.path.exists(AXE), "axe-core is missing: run scripts/install-deps")
        site = PeopleSite(self)
        site.start()
        visited = []  # (path, who): the pages axe checks afterwards.
        for institution, lang, i, words in (
                (EN, "en", 1, {"activate": "Activate my account", "opened": "Opened by the recipient",
                               "gone": "no longer works"}),
                (FR, "fr", 2, {"activate": "Activer mon compte", "opened": "Ouvert par le destinataire",
                               "gone": "ne fonctionne plus"})):
            with self.subTest(lang=lang):
                self.student_path(site, institution, lang, i, words, visited)
        self.desk_pages(site, visited)
        self.axe_every_page(site, visited)

    def student_path(self, site, institution, lang, i, words, visited):
        downloads = harness.make_temp_dir(self)
        driver = chromium(self, downloads=downloads, lang=lang)
        site.drop(institution, f"s{i}.csv", HEADER + row(i, lang))
        site.report(institution, f"s{i}.csv")
        invitation = site.mail_to(f"student{i}@college.example")[0]
        driver.get(link(invitation, "/activate?token="))
        self.assertEqual(driver.find_element(By.TAG_NAME, "html").get_attribute("lang"), lang)
        shot(driver, f"{lang}-activate")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "password_confirm").send_keys(PASSWORD)
        self.assertEqual(driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").text,
                         words["activate"])
        submit(driver)
        self.assertTrue(driver.current_url.endswith("/documents?welcome=1"), driver.current_url)
        shot(driver, f"{lang}-documents")
        visited += [("/documents", i), ("/profile", i), ("/shares", i)]

        driver.find_element(By.CSS_SELECTOR, "main table a").click()
        doc = re.search(r"/documents/([0-9a-f-]{36})$", driver.current_url).group(1)
        shot(driver, f"{lang}-document")
        visited.append((f"/documents/{doc}", i))
        driver.find_element(By.CSS_SELECTOR, "a[download]").click()
        path = os.path.join(downloads, f"{doc}.pdf")
        harness.wait_for(lambda: os.path.exists(path) and not glob.glob(os.path.join(downloads, "*.crdownload")),
                         60, what="the browser's download")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), site.document_pdf(doc), "the download is not the stored PDF")
        check_pdf(self, path)

        driver.get(f"{site.origin}/shares")
        driver.find_element(By.CSS_SELECTOR, f"input[name=document][value='{doc}']").click()
        recipient_address = f"hr{i}@employer.example"
        driver.find_element(By.ID, "recipient").send_keys(recipient_address)
        driver.find_element(By.ID, "note").send_keys("For the application")
        submit(driver, "form[action='/shares'] button[type=submit]")
        share_page = driver.current_url.split("?")[0]
        shot(driver, f"{lang}-share-created")
        visited.append((share_page.replace(site.origin, ""), i))

        share_url = link(site.mail_to(recipient_address)[0], "/s/")
        recipient = chromium(self, lang=lang)
        recipient.get(share_url)
        self.assertIn("Diploma in Nursing", recipient.find_element(By.TAG_NAME, "main").text)
        shot(recipient, f"{lang}-shared")
        visited.append((share_url.replace(site.origin, ""), 0))

        driver.get(f"{site.origin}/documents/{doc}")
        self.assertIn(words["opened"], driver.find_element(By.TAG_NAME, "main").text)
        shot(driver, f"{lang}-history")
        driver.get(share_page)
        submit(driver, "form[action$='/cancel'] button[type=submit]")
        recipient.get(share_url)
        self.assertIn(words["gone"], recipient.find_element(By.TAG_NAME, "main").text)
        shot(recipient, f"{lang}-shared-cancelled")
        status = site.sql("SELECT count(*) FROM audit_events WHERE event = 'share.cancelled'")
        self.assertGreaterEqual(int(status), 1)

    def desk_pages(self, site, visited):
        result = site.credctl("staff", "add", "registrar1", "--role", "registrar",
                              "--institution", EN, "--institution", FR, "--name", "Jane Registrar",
                              stdin="registrar desk passphrase\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        visited += [("/desk", -1), ("/desk/students?q=student1@college.example", -1),
                    (f"/desk/students/{EN}/S0000001", -1),
                    (f"/desk/batches/{site.sql('SELECT min(id) FROM batches')}", -1)]

    def sign_in(self, driver, site, who):
        """Signs the axe browser in as student `who` (> 0), the registrar (-1), or nobody."""
        if who > 0:
            driver.get(f"{site.origin}/signin")
            driver.find_element(By.ID, "address").send_keys(f"student{who}@college.example")
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
        else:
            driver.get(f"{site.origin}/desk/signin")
            driver.find_element(By.ID, "username").send_keys("registrar1")
            driver.find_element(By.ID, "password").send_keys("registrar desk passphrase")
        submit(driver)

    def axe_every_page(self, site, visited):
        with open(AXE, encoding="utf-8") as f:
            axe = f.read()
        anonymous = ["/signin", "/reset", "/activate", "/activate?token=unknown", "/verify",
                     "/desk/signin", "/reset/password?token=unknown"]
        pages = [(p, 0) for p in anonymous] + visited
        problems = []
        for lang in ("en", "fr"):
            driver = chromium(self, javascript=True, lang=lang)
            signed_in = None
            for path, who in pages:
                if who != 0 and who != signed_in:
                    driver.delete_all_cookies()
                    self.sign_in(driver, site, who)
                    signed_in = who
                driver.get(site.origin + path)
                name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[:60] or "root"
                shot(driver, f"axe-{lang}-{name}")
                driver.execute_script(axe)
                violations = driver.execute_async_script(
                    "const done = arguments[arguments.length - 1];"
                    "axe.run(document, {resultTypes: ['violations']})"
                    ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,"
                    " help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3)}))))"
                    ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));")
                for v in violations:
                    if v["impact"] in ("serious", "critical"):
                        problems.append(f"{lang} {path}: {json.dumps(v)}")
        self.assertEqual(problems, [], "\n".join(problems))
