"""Signed documents end to end: files dropped into a running credd become EN/FR PDFs that
the real verifiers accept (pdfsig, qpdf --check), whose text (pdftotext) shows the record,
and that `credctl verify` judges by the contract's exit codes."""

import glob
import json
import os
import signal
import subprocess
import unittest
import zipfile

import harness
from ingest_util import HEADER, Installation, csv_row, make_signing_key

CORPUS = harness.CORPUS
EN, FR = "college-en", "college-fr"


def run_tool(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120)


class Site(Installation):
    """An installation that signs, with two institutions: one English, one French."""

    def __init__(self, test, key_name="signing", signing=None, http_yaml="", invitations="",
                 **kwargs):
        """signing: the config's signing section (default: a fresh key file and certificate);
        http_yaml: an http section (default: a free port); invitations: an invitations
        section for both institutions; kwargs go to Installation."""
        keys = harness.make_temp_dir(test)
        self.key, self.cert, self.ca = make_signing_key(keys, key_name)
        signing = signing or f"signing:\n  key: '{self.key}'\n  certificate: '{self.cert}'\n"
        institutions = (
            f"  - id: {EN}\n    name_en: Test College\n    name_fr: Collège Test\n{invitations}"
            f"  - id: {FR}\n    name_en: Test College\n    name_fr: Collège Test\n"
            f"    default_locale: fr\n{invitations}")
        super().__init__(test, institutions=(), extra_institution_yaml=institutions,
                         extra_yaml=signing + http_yaml, **kwargs)

    def restart_with_new_key(self):
        """Stops credd, puts a fresh key and certificate in the config (the old key is then
        retired at start), and starts it again. Returns the stopped daemon's exit status."""
        self.daemon.signal(signal.SIGTERM)
        status = self.daemon.wait()
        key, cert, _ = make_signing_key(harness.make_temp_dir(self.test), "second")
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text.replace(self.key, key).replace(self.cert, cert))
        self.key, self.cert = key, cert
        self.start()
        return status

    def credctl(self, *args):
        return harness.run([harness.CREDCTL, "--config", self.config, *args])

    def documents(self, where="TRUE"):
        rows = self.sql("SELECT json_agg(json_build_object('id', d.id, 'public_id', d.public_id, "
                        "'status', d.status, 'locale', d.locale, 'student_id', s.student_id, "
                        "'data', c.data, 'institution', s.institution_id)) FROM documents d "
                        "JOIN credentials c ON c.id = d.credential JOIN students s ON s.id = c.student "
                        f"WHERE {where}")
        return json.loads(rows) if rows else []

    def export(self, document_id, directory):
        path = os.path.join(directory, f"{document_id}.pdf")
        result = self.credctl("document", "export", str(document_id), "--out", path)
        self.test.assertEqual(result.returncode, 0, result.stderr)
        return path

    def verify(self, path):
        return self.credctl("verify", path)


def check_pdf(test, path):
    """The real judges: pdfsig and qpdf --check."""
    sig = run_tool("pdfsig", "-nocert", path)
    test.assertIn("Signature is Valid.", sig.stdout, sig.stdout + sig.stderr)
    test.assertIn("Total document signed", sig.stdout)
    check = run_tool("qpdf", "--check", path)
    test.assertEqual(check.returncode, 0, check.stdout + check.stderr)
    test.assertNotIn("WARNING", check.stdout + check.stderr)
    return run_tool("pdftotext", "-layout", path, "-").stdout


class DocumentsTest(harness.TestCase):
    def test_corpus_transcripts_and_diplomas_in_english_and_french(self):
        harness.require_corpus(self)
        site = Site(self)
        site.start()
        transcripts = [p for p in sorted(glob.glob(os.path.join(CORPUS, "pesc-xml", "**", "*.xml"), recursive=True))
                       if "HighSchool" not in p and "highschool" not in p and "bcgov" not in p]
        dropped = []
        for inst in (EN, FR):
            for path in transcripts:
                name = os.path.relpath(path, os.path.join(CORPUS, "pesc-xml")).replace("/", "__").replace(" ", "_")
                site.drop_file(inst, path, name)
                dropped.append((inst, name))
            site.drop(inst, "diplomas.csv", HEADER +
                      "D001,Lévesque-O'Brien,Zoë,zoe@college.example,,,diploma,Diploma in Nursing,Nursing,2024-06-14\n"
                      "D002,Nguyễn,Thị Hằng,hang@college.example,,,diploma,Bachelor of Arts,History,2024-06-14\n"
                      "D003,ᐊᓂᔭ,Annie,anie@college.example,,,certificate,Certificate in Cree,Cree,2024-06-14\n"
                      "D004,ሀይሌ,Abebe,abebe@college.example,,,diploma,Diploma in Music,Music,2024-06-14\n")
        for inst in (EN, FR):
            state, report = site.report(inst, "diplomas.csv")
            self.assertEqual(report["records"]["accepted"], 3, report)
            self.assertEqual([(e["line"], e["field"]) for e in report["errors"]], [(5, "family_name")])
            self.assertIn("not covered by the document fonts", report["errors"][0]["message"])
        # Every file reported first: a count of credentials taken while later files are still
        # being imported is too early (they supersede some), and the test then races them.
        for inst, name in dropped:
            site.report(inst, name, timeout=120)
        expected = site.count("SELECT count(*) FROM credentials WHERE status = 'active'")
        harness.wait_for(lambda: site.count(
            "SELECT count(*) FROM credentials c WHERE c.status = 'active' AND NOT EXISTS "
            "(SELECT 1 FROM documents d WHERE d.credential = c.id AND d.status = 'active')") == 0,
            120, what="an active document for every active credential")
        out = harness.make_temp_dir(self)
        documents = site.documents("d.status = 'active'")
        self.assertEqual(len(documents), expected)
        transcript_docs = 0
        for doc in documents:
            with self.subTest(document=doc["public_id"], student=doc["student_id"]):
                text = check_pdf(self, site.export(doc["id"], out))
                data = doc["data"]
                self.assertEqual(doc["locale"], "fr" if doc["institution"] == FR else "en")
                self.assertIn(data["family_name"], text)
                transcript = data.get("transcript")
                if transcript:
                    transcript_docs += 1
                    for session in transcript["sessions"]:
                        for course in session["courses"]:
                            code = f"{course['subject']} {course['number']}".strip()
                            self.assertIn(code, text)
                            self.assertIn(course["grade"], text)
                    gpa = transcript["cumulative"]["gpa"]
                    if gpa:
                        self.assertIn(gpa, text)
                    self.assertIn("Relevé" if doc["locale"] == "fr" else "Transcript", text)
                self.assertEqual(site.verify(os.path.join(out, f"{doc['id']}.pdf")).returncode, 0)
        print(f"checked {len(documents)} documents, {transcript_docs} of them transcripts")
        self.assertGreaterEqual(transcript_docs, 16)  # 8+ corpus transcripts, in both languages.

    def test_verify_exit_codes(self):
        site = Site(self)
        site.start()
        site.drop(EN, "v1.csv", HEADER + csv_row(1) + csv_row(2) + csv_row(3))
        site.report(EN, "v1.csv")
        harness.wait_for(lambda: site.count("SELECT count(*) FROM documents") == 3, 60, what="3 documents")
        out = harness.make_temp_dir(self)
        docs = {d["student_id"]: d for d in site.documents()}
        good = site.export(docs["S0000001"]["id"], out)
        self.assertEqual(site.verify(good).returncode, 0, site.verify(good).stdout)

        with open(good, "rb") as f:
            pdf = bytearray(f.read())
        changed = os.path.join(out, "changed.pdf")
        pdf[len(pdf) // 3] ^= 0x01
        with open(changed, "wb") as f:
            f.write(pdf)
        self.assertEqual(site.verify(changed).returncode, 1)
        appended = os.path.join(out, "appended.pdf")
        with open(good, "rb") as f, open(appended, "wb") as g:
            g.write(f.read() + b"\n% appended\n")
        result = site.verify(appended)
        self.assertEqual(result.returncode, 1)
        self.assertIn("does not cover the whole file", result.stdout)

        # Defect 12: hostile PDFs (anyone may upload one to the verify endpoint) give "not
        # genuine" with a reason, never a crash: ranges near INT64_MAX, a truncated file, junk.
        with open(good, "rb") as f:
            pdf = f.read()
        start = pdf.rindex(b"/ByteRange [") + len(b"/ByteRange ")
        end = pdf.index(b"/Contents", start)
        hostile = {}
        for name, byte_range in (("max.pdf", b"[0 10 9223372036854775807 10]"),
                                 ("wrap.pdf", b"[1 9223372036854775807 0 10]")):
            hostile[name] = pdf[:start] + byte_range.ljust(end - start - 1) + pdf[end - 1:]
        hostile["truncated.pdf"] = pdf[:len(pdf) // 2]
        hostile["junk.pdf"] = b"%PDF-1.7\n" + bytes(range(256)) * 4
        for name, data in hostile.items():
            path = os.path.join(out, name)
            with open(path, "wb") as f:
                f.write(data)
            result = site.verify(path)
            self.assertEqual(result.returncode, 1, (name, result.stdout, result.stderr))
            self.assertIn(": NOT GENUINE: ", result.stdout, name)
            self.assertNotIn("terminate", result.stderr, name)
        self.assertIn("lies outside the file", site.verify(os.path.join(out, "max.pdf")).stdout)

        revoked = site.export(docs["S0000002"]["id"], out)
        self.assertEqual(site.credctl("document", "revoke", docs["S0000002"]["public_id"],
                                      "--reason", "issued in error").returncode, 0)
        result = site.verify(revoked)
        self.assertEqual(result.returncode, 2, result.stdout)
        self.assertIn("issued in error", result.stdout)

        # A corrected record supersedes the document of the old version.
        superseded = site.export(docs["S0000003"]["id"], out)
        site.drop(EN, "v2.csv", HEADER + csv_row(3, issued_on="2024-06-15"))
        site.report(EN, "v2.csv")
        harness.wait_for(lambda: site.count("SELECT count(*) FROM documents") == 4, 60, what="the new version's document")
        self.assertEqual(site.verify(superseded).returncode, 2)

        # A new key: documents signed by the retired key stay genuine and current.
        site.restart_with_new_key()
        listing = json.loads(site.credctl("keys", "list", "--json").stdout)["keys"]
        self.assertEqual(sorted(k["status"] for k in listing), ["active", "retired"])
        self.assertEqual(site.verify(good).returncode, 0)

        # Reissue: a new document, signed by the new key, supersedes the old one.
        result = site.credctl("document", "reissue", str(docs["S0000001"]["id"]))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(site.verify(good).returncode, 2)

    def test_a_key_in_softhsm_signs_and_its_pin_is_never_shown(self):
        """The key lives in a SoftHSM2 token and its PIN is in the pkcs11: URI, as some HSM
        guides write it. Documents are signed, and the PIN appears nowhere credd writes: not
        in `credctl keys list`, the database, `credctl status` or the log."""
        pin = "73519"
        keys = harness.make_temp_dir(self)
        key, cert, ca = make_signing_key(keys, "hsm")
        tokens = os.path.join(keys, "tokens")
        os.mkdir(tokens)
        conf = os.path.join(keys, "softhsm2.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
        previous = os.environ.get("SOFTHSM2_CONF")
        os.environ["SOFTHSM2_CONF"] = conf  # credd and credctl inherit it.
        self.addCleanup(lambda: os.environ.pop("SOFTHSM2_CONF") if previous is None
                        else os.environ.__setitem__("SOFTHSM2_CONF", previous))
        for args in (["--init-token", "--free", "--label", "credd-e2e", "--pin", pin, "--so-pin", "86420"],
                     ["--import", key, "--token", "credd-e2e", "--label", "signing", "--id", "01",
                      "--pin", pin]):
            result = run_tool("softhsm2-util", *args)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        uri = f"pkcs11:token=credd-e2e;object=signing;type=private?pin-value={pin}"
        site = Site(self, signing=f"signing:\n  key: '{uri}'\n  certificate: '{cert}'\n")
        site.start()
        site.drop(EN, "hsm.csv", HEADER + csv_row(1) + csv_row(2))
        site.report(EN, "hsm.csv")
        harness.wait_for(lambda: site.count("SELECT count(*) FROM documents") == 2, 120,
                         what="two documents signed in the token")
        out = harness.make_temp_dir(self)
        for doc in site.documents():
            path = site.export(doc["id"], out)
            check_pdf(self, path)
            self.assertEqual(site.verify(path).returncode, 0)

        listing = site.credctl("keys", "list", "--json")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        keys_listed = json.loads(listing.stdout)["keys"]
        self.assertEqual([k["status"] for k in keys_listed], ["active"])
        self.assertNotIn(pin, listing.stdout)
        self.assertNotIn("pin-value", listing.stdout)
        self.assertIn("pkcs11:token=credd-e2e;object=signing;type=private", listing.stdout)
        plain = site.credctl("keys", "list")
        self.assertEqual(plain.returncode, 0, plain.stderr)
        self.assertNotIn(pin, plain.stdout + plain.stderr)
        status = site.credctl("status", "--json")
        self.assertNotIn(pin, status.stdout + status.stderr)
        self.assertEqual(site.count(
            f"SELECT count(*) FROM signing_keys WHERE key_reference LIKE '%{pin}%'"), 0)
        self.assertEqual(site.count(
            f"SELECT count(*) FROM audit_events WHERE details::text LIKE '%{pin}%'"), 0)
        site.daemon.signal(signal.SIGTERM)
        site.daemon.wait()
        self.assertNotIn(pin, site.daemon.log())

    def test_third_party_pdfs_are_signed_without_changing_a_byte(self):
        harness.require_corpus(self)
        site = Site(self)
        site.start()
        pdfs = sorted(glob.glob(os.path.join(CORPUS, "pdf", "canpesc-cdl", "*.pdf")))
        manifest = ("file,student_id,family_name,given_names,email,personal_email,preferred_locale,"
                    "credential_type,credential_title,issued_on\n")
        for i, pdf in enumerate(pdfs, start=1):
            manifest += f"{os.path.basename(pdf)},P{i:04d},Family{i},Given{i},p{i}@college.example,,,transcript,Transcript,2023-05-01\n"
        zip_path = os.path.join(site.dir, "rendered.zip")
        with zipfile.ZipFile(zip_path, "w") as z:
            z.writestr("manifest.csv", manifest)
            for pdf in pdfs:
                z.write(pdf, os.path.basename(pdf))
        site.drop_file(EN, zip_path)
        site.report(EN, "rendered.zip")
        harness.wait_for(lambda: site.count("SELECT count(*) FROM documents") == len(pdfs), 120, what="10 documents")
        out = harness.make_temp_dir(self)
        for doc in site.documents():
            path = site.export(doc["id"], out)
            check_pdf(self, path)
            i = int(doc["student_id"][1:])
            with open(pdfs[i - 1], "rb") as f:
                original = f.read()
            with open(path, "rb") as f:
                self.assertTrue(f.read().startswith(original), "the institution's bytes must be a prefix")

    def test_dry_run_renders_and_signs_without_a_database(self):
        d = harness.make_temp_dir(self)
        key, cert, _ = make_signing_key(d)
        config = harness.write_config(
            os.path.join(d, "credd.yaml"), harness.url_database(f"host={d}/nowhere dbname=x connect_timeout=1"),
            os.path.join(d, "drop"), institutions=("test-college",),
            extra=f"signing:\n  key: '{key}'\n  certificate: '{cert}'\n")
        source = os.path.join(d, "in.csv")
        with open(source, "w") as f:
            # Row 3's title has a quoted line break, as SIS exports write long titles.
            f.write(HEADER + csv_row(1) + csv_row(2, locale="fr") +
                    csv_row(3, title='"Diploma in Nursing\r\nPractical Option"'))
        # A folder that is not there yet is made, parents too (papercut: it used to be refused).
        out = os.path.join(d, "out", "pdfs")
        result = harness.run([harness.CREDCTL, "--config", config, "import", "--institution", "test-college",
                              "--dry-run", "--out", out, source])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        # A file in the folder's place is refused, by name, before anything is signed.
        in_the_way = os.path.join(d, "a-file")
        with open(in_the_way, "w") as f:
            f.write("x")
        refused = harness.run([harness.CREDCTL, "--config", config, "import", "--institution", "test-college",
                               "--dry-run", "--out", in_the_way, source])
        self.assertEqual(refused.returncode, 74, refused.stderr)
        self.assertIn(f"{in_the_way}: cannot make the --out folder", refused.stderr)
        written = sorted(os.listdir(out))
        self.assertEqual(len(written), 3, written)
        two_lines = 0
        for name in written:
            text = check_pdf(self, os.path.join(out, name))
            self.assertIn("Family", text)
            if "Family3" in text:
                lines = [line.strip() for line in text.splitlines()]
                self.assertIn("Diploma in Nursing", lines, text)
                self.assertIn("Practical Option", lines, text)
                two_lines += 1
        self.assertEqual(two_lines, 1)


if __name__ == "__main__":
    unittest.main()
