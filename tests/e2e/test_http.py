"""The HTTP service end to end: the real credd over real HTTP. Health and readiness (with
readiness failing while PostgreSQL is stopped and coming back after), metrics that move as
files, documents and emails do (and that promtool accepts), and public verification of
genuine, tampered, appended, revoked, superseded, retired-key and garbage PDFs, through
the JSON API and the EN/FR pages."""

import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid

import harness
from ingest_util import HEADER, csv_row
from mail_util import invitations_yaml, smtp_yaml
from test_documents import EN, FR, Site


class Http:
    """A client for one credd's HTTP port (no proxy, no redirects followed)."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def request(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                return res.status, dict(res.headers), res.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def json(self, method, path, body=None):
        status, _, data = self.request(method, path, body)
        return status, json.loads(data)

    def verify(self, pdf):
        status, answer = self.json("POST", "/api/v1/verify", pdf)
        if status != 200:
            raise AssertionError(f"POST /api/v1/verify answered {status}: {answer}")
        return answer

    def metrics(self):
        status, headers, data = self.get("/metrics")
        if status != 200:
            raise AssertionError(f"/metrics answered {status}")
        return data.decode()

    def metric(self, name, **labels):
        """The value of one series (0 when absent)."""
        want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
                       if labels else "")
        for line in self.metrics().splitlines():
            if line.startswith("#"):
                continue
            series, _, value = line.rpartition(" ")
            if Canonical(series) == want:
                return float(value)
        return 0.0


def Canonical(series):
    """A series with its labels sorted by name, to compare with what a test asks for."""
    if "{" not in series:
        return series
    name, rest = series.split("{", 1)
    labels = sorted(part for part in rest.rstrip("}").split(",") if part)
    return name + "{" + ",".join(labels) + "}"


def multipart(fields, pdf):
    boundary = "credd" + uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="pdf"; filename="d.pdf"\r\n'
                 f"Content-Type: application/pdf\r\n\r\n".encode() + pdf + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class HttpTest(harness.TestCase):
    def test_health_readiness_and_metrics(self):
        cluster = harness.OwnedCluster(self)
        site = Site(self, database_base=cluster.url, invitations=invitations_yaml())
        site.start()
        http = Http(harness.http_port(site.config))
        self.assertEqual(http.get("/healthz")[0], 200)
        status, ready = http.json("GET", "/readyz")
        self.assertEqual((status, ready), (200, {"ready": True, "reasons": []}))

        site.drop(EN, "m.csv", HEADER + csv_row(1) + csv_row(2) + csv_row(3))
        site.drop(EN, "bad.csv", "not,a,header\n1,2,3\n")
        site.report(EN, "m.csv")
        site.report(EN, "bad.csv")
        harness.wait_for(lambda: http.metric("credd_documents_issued_total", institution=EN) == 3, 60,
                         what="3 documents counted")
        self.assertEqual(http.metric("credd_files_total", institution=EN, outcome="done"), 1)
        self.assertEqual(http.metric("credd_files_total", institution=EN, outcome="rejected"), 1)
        self.assertEqual(http.metric("credd_records_total", institution=EN, outcome="accepted"), 3)
        self.assertEqual(http.metric("credd_batch_duration_seconds_count", institution=EN), 2)
        self.assertEqual(http.metric("credd_document_render_sign_seconds_count"), 3)
        # The invitations go out (maildir) and are counted.
        harness.wait_for(lambda: http.metric("credd_emails_total", outcome="sent") == 3, 120,
                         what="3 emails counted")
        self.assertEqual(http.metric("credd_outbox_emails", state="queued"), 0)
        self.assertEqual(http.metric("credd_processing_files", institution=EN), 0)
        self.assertGreaterEqual(http.metric("credd_http_requests_total", route="/metrics", code="200"), 1)
        text = http.metrics()
        self.assertIn('credd_build_info{version="', text)
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual((check.stdout + check.stderr).strip(), "")

        # PostgreSQL goes away: not ready, with the reason; alive all the same. Then back.
        cluster.stop()
        harness.wait_for(lambda: http.json("GET", "/readyz")[0] == 503, 60, what="/readyz 503")
        status, ready = http.json("GET", "/readyz")
        self.assertFalse(ready["ready"])
        self.assertTrue(any(r.startswith("database: ") for r in ready["reasons"]), ready)
        self.assertEqual(http.get("/healthz")[0], 200)
        cluster.start()
        harness.wait_for(lambda: http.json("GET", "/readyz") == (200, {"ready": True, "reasons": []}),
                         90, what="/readyz 200 again")
        self.assertTrue(site.daemon.alive())

    def test_readiness_names_a_drop_folder_it_cannot_use(self):
        site = Site(self)
        site.start()
        http = Http(harness.http_port(site.config))
        incoming = site.folder(FR, "incoming")
        os.chmod(incoming, 0o555)
        self.addCleanup(os.chmod, incoming, 0o755)
        if os.geteuid() == 0:
            # root ignores modes: make the folder unusable another way.
            os.chmod(incoming, 0o755)
            os.rename(incoming, incoming + ".away")
            self.addCleanup(lambda: os.path.exists(incoming + ".away") and os.rename(incoming + ".away", incoming))
        status, ready = http.json("GET", "/readyz")
        self.assertEqual(status, 503, ready)
        self.assertEqual(len(ready["reasons"]), 1, ready)
        self.assertTrue(ready["reasons"][0].startswith(f"drop folder {FR}: "), ready)

    def test_verification_of_every_kind_of_pdf(self):
        site = Site(self)
        site.start()
        http = Http(harness.http_port(site.config))
        site.drop(EN, "v1.csv", HEADER + csv_row(1) + csv_row(2) + csv_row(3))
        site.report(EN, "v1.csv")
        harness.wait_for(lambda: site.count("SELECT count(*) FROM documents") == 3, 60, what="3 documents")
        out = harness.make_temp_dir(self)
        docs = {d["student_id"]: d for d in site.documents()}

        def read(path):
            with open(path, "rb") as f:
                return f.read()

        good = read(site.export(docs["S0000001"]["id"], out))
        answer = http.verify(good)
        self.assertTrue(answer["genuine"], answer)
        self.assertEqual(answer["status"], "active")
        self.assertEqual(answer["document_id"], docs["S0000001"]["public_id"])
        self.assertEqual(answer["reasons"], [])
        self.assertTrue(answer["covers_whole_file"])
        self.assertEqual(answer["document"]["student_name"], "Given1 Family1")
        self.assertEqual(answer["document"]["institution"], EN)
        self.assertEqual(answer["document"]["title"], "Diploma in Nursing")
        self.assertFalse(answer["signer"]["retired"])
        self.assertIsNone(answer["superseded_by"])
        self.assertIsNone(answer["revoked"])

        tampered = bytearray(good)
        tampered[len(tampered) // 3] ^= 0x01
        answer = http.verify(bytes(tampered))
        self.assertFalse(answer["genuine"])
        self.assertEqual(answer["status"], "not_genuine")
        self.assertIsNone(answer["document_id"])
        self.assertTrue(answer["reasons"], answer)

        answer = http.verify(good + b"\n% appended\n")
        self.assertFalse(answer["genuine"])
        self.assertFalse(answer["covers_whole_file"])
        self.assertIn("does not cover the whole file", answer["reasons"][0])

        for garbage in (b"", b"hello", b"%PDF-1.7\n" + bytes(range(256)) * 64, good[: len(good) // 2]):
            if not garbage:
                status, _ = http.json("POST", "/api/v1/verify", garbage)
                self.assertEqual(status, 400)
                continue
            answer = http.verify(garbage)
            self.assertFalse(answer["genuine"], garbage[:20])
            self.assertTrue(answer["reasons"])

        revoked = read(site.export(docs["S0000002"]["id"], out))
        self.assertEqual(site.credctl("document", "revoke", docs["S0000002"]["public_id"],
                                      "--reason", "issued in error").returncode, 0)
        answer = http.verify(revoked)
        self.assertTrue(answer["genuine"])
        self.assertEqual(answer["status"], "revoked")
        self.assertEqual(answer["revoked"]["reason"], "issued in error")
        self.assertRegex(answer["revoked"]["revoked_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        superseded = read(site.export(docs["S0000003"]["id"], out))
        site.drop(EN, "v2.csv", HEADER + csv_row(3, issued_on="2024-06-15"))
        site.report(EN, "v2.csv")
        harness.wait_for(lambda: site.count("SELECT count(*) FROM documents") == 4, 60,
                         what="the new version's document")
        newer = site.sql("SELECT public_id FROM documents WHERE status = 'active' AND supersedes IS NOT NULL")
        answer = http.verify(superseded)
        self.assertTrue(answer["genuine"])
        self.assertEqual(answer["status"], "superseded")
        self.assertEqual(answer["superseded_by"]["document_id"], newer)

        # Status by id: the status, never the content; an unknown id is any other not-found.
        status, answer = http.json("GET", f"/api/v1/documents/{docs['S0000003']['public_id']}/status")
        self.assertEqual(status, 200)
        self.assertEqual(answer["status"], "superseded")
        self.assertEqual(answer["superseded_by"]["document_id"], newer)
        self.assertNotIn("title", json.dumps(answer))
        self.assertNotIn("Family3", json.dumps(answer))
        unknown = http.get(f"/api/v1/documents/{uuid.uuid4()}/status")
        nowhere = http.get("/api/v1/nowhere")
        self.assertEqual((unknown[0], unknown[2]), (nowhere[0], nowhere[2]))
        self.assertEqual(http.get("/api/v1/documents/not-a-uuid/status")[0], 404)

        # The pages: the URL printed on the document shows its status; the form verifies.
        status, headers, page = http.get(f"/verify/{docs['S0000001']['public_id']}")
        self.assertEqual(status, 200)
        self.assertIn(b"valid and current", page)
        self.assertIn("frame-ancestors 'none'", headers["Content-Security-Policy"])
        status, _, page = http.get(f"/verify/{docs['S0000001']['public_id']}",
                                   headers={"Accept-Language": "fr-CA,fr;q=0.9"})
        self.assertIn(b'<html lang="fr">', page)
        self.assertIn("valide et à jour".encode(), page)
        self.assertEqual(http.get(f"/verify/{uuid.uuid4()}")[0], 404)
        body, content_type = multipart({"lang": "en"}, good)
        status, _, page = http.request("POST", "/verify", body, {"Content-Type": content_type})
        self.assertEqual(status, 200)
        self.assertIn(b"Genuine document", page)
        self.assertIn(b"Given1 Family1", page)
        body, content_type = multipart({"lang": "fr"}, bytes(tampered))
        status, _, page = http.request("POST", "/verify", body, {"Content-Type": content_type})
        self.assertIn("Document non authentique".encode(), page)

        # A new key: documents signed by the retired one stay genuine, and say so.
        self.assertEqual(site.restart_with_new_key(), 0)
        answer = http.verify(good)
        self.assertTrue(answer["genuine"])
        self.assertEqual(answer["status"], "active")
        self.assertTrue(answer["signer"]["retired"])


class AdminApiTest(harness.TestCase):
    TOKENS = {"desk": "d" * 8 + uuid.uuid4().hex, "sis-job": "s" * 8 + uuid.uuid4().hex}

    def site(self):
        keys = harness.make_temp_dir(self)
        path = os.path.join(keys, "admin.tokens")
        with open(path, "w", encoding="utf-8") as f:
            f.write("# label:token\n" + "".join(f"{k}:{v}\n" for k, v in self.TOKENS.items()))
        os.chmod(path, 0o600)
        port = harness.free_port()
        site = Site(self, http_yaml=f"http:\n  listen: 127.0.0.1:{port}\n  admin_token_file: '{path}'\n")
        site.start()
        return site, Http(port)

    def call(self, http, method, path, token=None, body=None):
        headers = {"Authorization": token} if token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        status, _, data = http.request(method, path, json.dumps(body).encode() if body is not None else None,
                                       headers)
        return status, data

    def test_without_a_valid_token_every_route_is_refused_alike(self):
        site, http = self.site()
        routes = [("GET", "/api/v1/admin/status"), ("GET", "/api/v1/admin/batches"),
                  ("GET", "/api/v1/admin/batches/1"), ("GET", "/api/v1/admin/students?student_id=S1"),
                  ("POST", "/api/v1/admin/invitations/resend"),
                  ("POST", f"/api/v1/admin/documents/{uuid.uuid4()}/revoke"),
                  ("POST", f"/api/v1/admin/documents/{uuid.uuid4()}/reissue")]
        wrong = ["", "Bearer", "Bearer ", "Bearer nope", "Basic " + self.TOKENS["desk"],
                 "Bearer " + self.TOKENS["desk"][:-1], "bearer " + self.TOKENS["desk"],
                 "Bearer " + self.TOKENS["desk"] + "x"]
        answers = set()
        for method, path in routes:
            for token in wrong:
                status, data = self.call(http, method, path, token or None, {} if method == "POST" else None)
                answers.add((status, data))
        self.assertEqual(answers, {(401, b'{"error":"unauthorized"}\n')})
        self.assertEqual(site.count("SELECT count(*) FROM audit_events WHERE actor LIKE 'api:%'"), 0)

    def test_answers_equal_credctl_json_and_actions_are_audited_with_the_label(self):
        site, http = self.site()
        site.drop(EN, "a.csv", HEADER + csv_row(1) + csv_row(2) + "bad,row\n")
        site.report(EN, "a.csv")
        harness.wait_for(lambda: site.count("SELECT count(*) FROM documents") == 2, 60, what="2 documents")
        desk = "Bearer " + self.TOKENS["desk"]

        def same(path, *credctl_args):
            status, data = self.call(http, "GET", path, desk)
            self.assertEqual(status, 200, data)
            result = site.credctl(*credctl_args)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(json.loads(data), json.loads(result.stdout), path)
            return json.loads(data)

        same("/api/v1/admin/status", "status", "--json")
        listed = same("/api/v1/admin/batches", "batches", "list", "--json")
        batch = listed["batches"][0]["id"]
        report = same(f"/api/v1/admin/batches/{batch}", "batches", "show", str(batch), "--json")
        self.assertEqual(report["records"]["accepted"], 2)
        self.assertEqual(len(report["errors"]), 1)
        same(f"/api/v1/admin/batches?institution={FR}", "batches", "list", "--institution", FR, "--json")
        same(f"/api/v1/admin/students?institution={EN}&student_id=S0000001",
             "student", "find", "--institution", EN, "--student-id", "S0000001", "--json")
        status, _ = self.call(http, "GET", "/api/v1/admin/students?institution=x&student_id=nobody", desk)
        self.assertEqual(status, 404)
        status, _ = self.call(http, "GET", "/api/v1/admin/batches/999999", desk)
        self.assertEqual(status, 404)

        docs = {d["student_id"]: d for d in site.documents()}
        status, data = self.call(http, "POST", f"/api/v1/admin/documents/{docs['S0000001']['public_id']}/revoke",
                                 desk, {"reason": "issued in error"})
        self.assertEqual(status, 200, data)
        status, data = self.call(http, "POST", f"/api/v1/admin/documents/{docs['S0000001']['public_id']}/revoke",
                                 desk, {})
        self.assertEqual(status, 400, data)
        self.assertEqual(site.sql(f"SELECT status || ':' || revoked_reason FROM documents "
                                  f"WHERE public_id = '{docs['S0000001']['public_id']}'"), "revoked:issued in error")
        status, data = self.call(http, "POST", f"/api/v1/admin/documents/{docs['S0000002']['public_id']}/reissue",
                                 "Bearer " + self.TOKENS["sis-job"])
        self.assertEqual(status, 201, data)
        newer = json.loads(data)["document_id"]
        self.assertEqual(site.sql(f"SELECT status FROM documents WHERE public_id = '{docs['S0000002']['public_id']}'"),
                         "superseded")
        self.assertEqual(site.sql(f"SELECT status FROM documents WHERE public_id = '{newer}'"), "active")
        status, data = self.call(http, "POST", "/api/v1/admin/invitations/resend", desk,
                                 {"institution": EN, "student_id": "S0000002"})
        resent = site.credctl("invite", "resend", "--institution", EN, "--student-id", "S0000002")
        self.assertEqual(status == 202, resent.returncode == 0, (status, data, resent.stderr))
        actors = site.sql("SELECT string_agg(DISTINCT actor || ' ' || event, ', ' ORDER BY actor || ' ' || event) "
                          "FROM audit_events WHERE actor LIKE 'api:%'")
        self.assertIn("api:desk document.revoked", actors)
        self.assertIn("api:sis-job document.", actors)


class TransportTest(harness.TestCase):
    def test_tls_in_credd_itself_with_hsts(self):
        d = harness.make_temp_dir(self)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", "tls.key", "-out", "tls.crt", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1"], cwd=d, check=True, capture_output=True)
        os.chmod(os.path.join(d, "tls.key"), 0o600)
        port = harness.free_port()
        site = Site(self, http_yaml=f"http:\n  listen: 127.0.0.1:{port}\n  tls:\n"
                                    f"    certificate: '{d}/tls.crt'\n    key: '{d}/tls.key'\n")
        site.start()
        context = ssl.create_default_context(cafile=os.path.join(d, "tls.crt"))
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=context, timeout=30) as res:
            self.assertEqual(res.status, 200)
            self.assertEqual(res.headers["Strict-Transport-Security"], "max-age=31536000")
        # Plain HTTP on the TLS port gets nothing useful.
        with self.assertRaises(Exception):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).read()

    def test_readiness_says_when_the_relay_refuses_connections(self):
        closed = harness.free_port()  # Nothing listens there.
        site = Site(self, mail_yaml=smtp_yaml(closed))
        site.start()
        http = Http(harness.http_port(site.config))
        status, ready = http.json("GET", "/readyz")
        self.assertEqual(status, 503, ready)
        self.assertEqual([r.split(":")[0] for r in ready["reasons"]], ["mail"], ready)
        self.assertEqual(http.get("/healthz")[0], 200)

    def test_public_url_is_the_verification_url_printed_on_documents(self):
        site = Site(self, http_yaml=f"http:\n  listen: 127.0.0.1:{harness.free_port()}\n"
                                    "  public_url: https://credentials.example-college.ca/\n")
        site.start()
        site.drop(EN, "p.csv", HEADER + csv_row(1))
        site.report(EN, "p.csv")
        harness.wait_for(lambda: site.count("SELECT count(*) FROM documents") == 1, 60, what="1 document")
        doc = site.documents()[0]
        out = harness.make_temp_dir(self)
        text = subprocess.run(["pdftotext", site.export(doc["id"], out), "-"], capture_output=True,
                              text=True, timeout=60).stdout
        self.assertIn(f"https://credentials.example-college.ca/verify/{doc['public_id']}",
                      text.replace("\n", ""))
