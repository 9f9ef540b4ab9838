// Tests for daemon/sign: keys and certificates are made with the openssl CLI in a temp
// folder; every signed PDF is checked by the real verifiers (pdfsig, qpdf, openssl cms).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <qpdf/QPDF.hh>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/sign/pades_signer.h"
#include "daemon/sign/pdf_signature.h"
#include "daemon/sign/signing_key.h"
#include "tests/support/command.h"
#include "tests/support/corpus.h"

namespace credd::sign {
namespace {

namespace fs = std::filesystem;

constexpr char kSigningTime[] = "D:20261128190000Z";

using test_support::CommandResult;
using test_support::RunCommand;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string Quote(const fs::path& path) { return "'" + path.string() + "'"; }

fs::path MakeTempDir(const std::string& prefix) {
  std::string pattern = (fs::temp_directory_path() / (prefix + ".XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

// A test CA and one leaf per key type, made once for the suite (RSA generation is slow).
struct TestPki {
  fs::path dir;
  fs::path ca_pem;
  fs::path ec_key, ec_chain;    // P-256 leaf key (PKCS#8 PEM) and leaf+CA PEM.
  fs::path rsa_key, rsa_chain;  // RSA-2048.
};

std::string MakeLeaf(const fs::path& dir, const std::string& name, const std::string& genpkey,
                     const std::string& serial) {
  const fs::path key = dir / (name + ".key");
  const std::string commands =
      "openssl genpkey " + genpkey + " -out " + Quote(key) + " && openssl req -new -key " +
      Quote(key) + " -subj '/CN=credd test signer " + name + "/O=Test College' -out " +
      Quote(dir / (name + ".csr")) + " && openssl x509 -req -in " + Quote(dir / (name + ".csr")) +
      " -CA " + Quote(dir / "ca.pem") + " -CAkey " + Quote(dir / "ca.key") + " -set_serial " +
      serial + " -days 3650 -extfile " + Quote(dir / "leaf.ext") + " -out " +
      Quote(dir / (name + ".pem")) + " && cat " + Quote(dir / (name + ".pem")) + " " +
      Quote(dir / "ca.pem") + " > " + Quote(dir / (name + ".chain.pem")) + " && chmod 600 " +
      Quote(key);
  CommandResult made = RunCommand(commands);
  return made.exit_code == 0 ? std::string() : made.output;
}

class SignTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_.dir = MakeTempDir("credd_sign_pki");
    const fs::path& dir = pki_.dir;
    WriteFile(dir / "leaf.ext",
              "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n");
    CommandResult ca = RunCommand(
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
        Quote(dir / "ca.key") + " && openssl req -x509 -new -key " + Quote(dir / "ca.key") +
        " -subj '/CN=credd test CA' -days 3650 -addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign,cRLSign -out " +
        Quote(dir / "ca.pem"));
    ASSERT_EQ(ca.exit_code, 0) << ca.output;
    pki_.ca_pem = dir / "ca.pem";
    ASSERT_EQ(MakeLeaf(dir, "ec", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256", "2"), "");
    ASSERT_EQ(MakeLeaf(dir, "rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", "3"), "");
    pki_.ec_key = dir / "ec.key";
    pki_.ec_chain = dir / "ec.chain.pem";
    pki_.rsa_key = dir / "rsa.key";
    pki_.rsa_chain = dir / "rsa.chain.pem";
  }
  static void TearDownTestSuite() { fs::remove_all(pki_.dir); }

  void SetUp() override {
    ASSERT_FALSE(pki_.dir.empty()) << "the test PKI could not be made";
    dir_ = MakeTempDir("credd_sign_test");
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override { fs::remove_all(dir_); }

  static SigningKey LoadKey(const fs::path& key, const fs::path& chain) {
    auto loaded = SigningKey::LoadFromFiles(key.string(), chain.string(), "");
    if (!loaded) ADD_FAILURE() << loaded.error().ToString();
    return std::move(loaded).value();
  }
  static SigningKey EcKey() { return LoadKey(pki_.ec_key, pki_.ec_chain); }
  static SigningKey RsaKey() { return LoadKey(pki_.rsa_key, pki_.rsa_chain); }

  static SignOptions Options(const std::string& where = "test.pdf") {
    SignOptions options;
    options.signing_time = kSigningTime;
    options.reason = "Official transcript";
    options.location = "Halifax, NS";
    options.name = "Registrar, Test Collège";
    options.where = where;
    return options;
  }

  static std::vector<fs::path> CorpusPdfs() {
    std::vector<fs::path> pdfs;
    for (const auto& entry : fs::directory_iterator(fs::path(credd::test_corpus::CorpusDir()) /
                                                    "pdf" / "canpesc-cdl")) {
      if (entry.path().extension() == ".pdf") pdfs.push_back(entry.path());
    }
    std::sort(pdfs.begin(), pdfs.end());
    return pdfs;
  }

  // Every check the brief names, by the real tools; `name` keeps each file's artefacts apart.
  void ExpectSignedCorrectly(const std::string& original, const std::string& signed_pdf,
                             const SigningKey& key, const std::string& name) {
    SCOPED_TRACE(name);
    ASSERT_GT(signed_pdf.size(), original.size());
    EXPECT_EQ(signed_pdf.compare(0, original.size(), original), 0)
        << "the original bytes are not an exact prefix";
    const fs::path out = dir_ / (name + ".signed.pdf");
    WriteFile(out, signed_pdf);

    // -nocert: the test CA is in no NSS database, so pdfsig would report the certificate
    // untrusted (and exit non-zero); the chain is checked by openssl below instead.
    CommandResult pdfsig = RunCommand("pdfsig -nocert " + Quote(out));
    const size_t last = pdfsig.output.rfind("Signature #");
    ASSERT_NE(last, std::string::npos) << pdfsig.output;
    const std::string last_signature = pdfsig.output.substr(last);
    EXPECT_NE(last_signature.find("Signature is Valid."), std::string::npos) << pdfsig.output;
    EXPECT_NE(last_signature.find("Total document signed"), std::string::npos) << pdfsig.output;
    EXPECT_NE(last_signature.find("ETSI.CAdES.detached"), std::string::npos) << pdfsig.output;

    CommandResult check = RunCommand("qpdf --check " + Quote(out));
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_EQ(check.output.find("WARNING"), std::string::npos) << check.output;

    auto signature = ExtractLastSignature(signed_pdf, name);
    ASSERT_TRUE(signature.ok()) << signature.error().ToString();
    EXPECT_TRUE(signature->covers_whole_file);
    EXPECT_EQ(signature->sub_filter, "/ETSI.CAdES.detached");
    WriteFile(dir_ / (name + ".sig.der"), signature->cms_der);
    WriteFile(dir_ / (name + ".signed-bytes.bin"), SignedBytes(signed_pdf, *signature));
    CommandResult cms_verify = RunCommand("openssl cms -verify -binary -inform DER -in " +
                                          Quote(dir_ / (name + ".sig.der")) + " -content " +
                                          Quote(dir_ / (name + ".signed-bytes.bin")) + " -CAfile " +
                                          Quote(pki_.ca_pem) + " -purpose any -out /dev/null");
    EXPECT_EQ(cms_verify.exit_code, 0) << cms_verify.output;
    EXPECT_NE(cms_verify.output.find("Verification successful"), std::string::npos);

    CommandResult print = RunCommand("openssl cms -cmsout -print -inform DER -in " +
                                     Quote(dir_ / (name + ".sig.der")));
    EXPECT_NE(print.output.find("id-smime-aa-signingCertificateV2"), std::string::npos)
        << print.output;
    // A timestamp token's own signed attributes (unsigned here) do carry a signingTime.
    const std::string signed_part = print.output.substr(0, print.output.find("unsignedAttrs:"));
    EXPECT_EQ(signed_part.find("signingTime"), std::string::npos) << print.output;
    EXPECT_EQ(print.output.find("SMIMECapabilities"), std::string::npos) << print.output;

    X509* ca = nullptr;
    {
      auto cas = ReadPemCertificateFile(pki_.ca_pem.string());
      ASSERT_TRUE(cas.ok()) << cas.error().ToString();
      ca = X509_dup(cas->front().get());
    }
    X509Ptr ca_owner(ca);
    auto verified = VerifyCms(signed_pdf, *signature, {ca}, name);
    ASSERT_TRUE(verified.ok()) << verified.error().ToString();
    EXPECT_TRUE(verified->digest_matched) << verified->problem;
    EXPECT_TRUE(verified->chain_trusted) << verified->problem;
    EXPECT_EQ(verified->signer_key_id, key.key_id());
  }

  // The bytes of the first corpus PDF (sorted by name).
  std::string FirstCorpusPdf() { return ReadFile(CorpusPdfs().front()); }

  static TestPki pki_;
  fs::path dir_;
};

TestPki SignTest::pki_;

TEST_F(SignTest, SignsEveryCorpusPdfWithEcdsaAndRsa) {
  CREDD_REQUIRE_CORPUS();
  const std::vector<fs::path> pdfs = CorpusPdfs();
  ASSERT_EQ(pdfs.size(), 10u) << credd::test_corpus::CorpusDir();
  const SigningKey ec = EcKey();
  const SigningKey rsa = RsaKey();
  for (const fs::path& path : pdfs) {
    const std::string original = ReadFile(path);
    for (const SigningKey* key : {&ec, &rsa}) {
      auto signed_pdf = SignPdf(original, *key, Options(path.filename().string()));
      ASSERT_TRUE(signed_pdf.ok()) << signed_pdf.error().ToString();
      // The corpus files end with a classic xref table, so the update does too.
      EXPECT_NE(signed_pdf->find("\nxref\n", original.size()), std::string::npos);
      ExpectSignedCorrectly(original, *signed_pdf, *key,
                            path.stem().string() + (key == &ec ? ".ec" : ".rsa"));
    }
  }
}

TEST_F(SignTest, SignsPdfWithXrefStreamAndObjectStreams) {
  CREDD_REQUIRE_CORPUS();
  const fs::path in = CorpusPdfs().front();
  const fs::path streams = dir_ / "object-streams.pdf";
  CommandResult made =
      RunCommand("qpdf --object-streams=generate " + Quote(in) + " " + Quote(streams));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const std::string original = ReadFile(streams);
  ASSERT_NE(original.find("/ObjStm"), std::string::npos);
  const SigningKey key = RsaKey();
  auto signed_pdf = SignPdf(original, key, Options("object-streams.pdf"));
  ASSERT_TRUE(signed_pdf.ok()) << signed_pdf.error().ToString();
  const std::string update = signed_pdf->substr(original.size());
  EXPECT_NE(update.find("/Type /XRef"), std::string::npos) << "expected an xref stream";
  EXPECT_EQ(update.find("\nxref\n"), std::string::npos) << "no xref table after a stream";
  ExpectSignedCorrectly(original, *signed_pdf, key, "object-streams");
}

// A one-page PDF with a text field, written by hand so the AcroForm's shape is known:
// indirect AcroForm and direct /Annots, or a direct AcroForm and an indirect /Annots array.
std::string PdfWithForm(bool indirect_acro_form) {
  const std::string kContentStream =
      "<< /Length 42 >>\nstream\nBT /F1 12 Tf 72 720 Td (Transcript) Tj ET\nendstream";
  std::vector<std::string> objects;
  if (indirect_acro_form) {
    objects = {"<< /Type /Catalog /Pages 2 0 R /AcroForm 6 0 R >>",
               "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               "/Annots [5 0 R] >>",
               kContentStream,
               "<< /Type /Annot /Subtype /Widget /FT /Tx /T (StudentName) /V (Ada) "
               "/Rect [72 600 300 620] /P 3 0 R >>",
               "<< /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) /NeedAppearances true >>"};
  } else {
    objects = {
        "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) >> >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Annots 6 0 R >>",
        kContentStream,
        "<< /Type /Annot /Subtype /Widget /FT /Tx /T (StudentName) /V (Ada) "
        "/Rect [72 600 300 620] /P 3 0 R >>",
        "[5 0 R]"};
  }
  std::string pdf = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (const size_t offset : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", offset);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) +
         " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

TEST_F(SignTest, MergesIntoAnExistingAcroForm) {
  const SigningKey key = EcKey();
  for (const bool indirect : {true, false}) {
    const std::string original = PdfWithForm(indirect);
    const std::string name = indirect ? "form-indirect" : "form-direct";
    WriteFile(dir_ / (name + ".pdf"), original);
    CommandResult original_check = RunCommand("qpdf --check " + Quote(dir_ / (name + ".pdf")));
    ASSERT_EQ(original_check.exit_code, 0) << original_check.output;

    auto signed_pdf = SignPdf(original, key, Options(name));
    ASSERT_TRUE(signed_pdf.ok()) << signed_pdf.error().ToString();
    ExpectSignedCorrectly(original, *signed_pdf, key, name);

    QPDF qpdf;
    qpdf.processMemoryFile(name.c_str(), signed_pdf->data(), signed_pdf->size());
    QPDFObjectHandle form = qpdf.getRoot().getKey("/AcroForm");
    EXPECT_EQ(form.getKey("/SigFlags").getIntValue(), 3);
    EXPECT_EQ(form.getKey("/DA").getUTF8Value(), "/Helv 0 Tf 0 g");
    std::vector<QPDFObjectHandle> fields = form.getKey("/Fields").getArrayAsVector();
    ASSERT_EQ(fields.size(), 2u);
    EXPECT_EQ(fields[0].getKey("/T").getUTF8Value(), "StudentName");
    EXPECT_EQ(fields[1].getKey("/FT").getName(), "/Sig");
    QPDFObjectHandle page = qpdf.getAllPages().front();
    std::vector<QPDFObjectHandle> annots = page.getKey("/Annots").getArrayAsVector();
    ASSERT_EQ(annots.size(), 2u);
    EXPECT_EQ(annots[1].getKey("/F").getIntValue(), 132);
  }
}

TEST_F(SignTest, SignsAnAlreadySignedPdfAndBothSignaturesStayValid) {
  CREDD_REQUIRE_CORPUS();
  const std::string original = FirstCorpusPdf();
  const SigningKey ec = EcKey();
  const SigningKey rsa = RsaKey();
  auto once = SignPdf(original, ec, Options("once.pdf"));
  ASSERT_TRUE(once.ok()) << once.error().ToString();
  auto twice = SignPdf(*once, rsa, Options("once.pdf"));
  ASSERT_TRUE(twice.ok()) << twice.error().ToString();
  ExpectSignedCorrectly(*once, *twice, rsa, "twice");

  CommandResult pdfsig = RunCommand("pdfsig -nocert " + Quote(dir_ / "twice.signed.pdf"));
  size_t valid = 0;
  for (size_t at = 0; (at = pdfsig.output.find("Signature is Valid.", at)) != std::string::npos;
       ++at) {
    ++valid;
  }
  EXPECT_EQ(valid, 2u) << pdfsig.output;
  EXPECT_NE(pdfsig.output.find("Signature1"), std::string::npos) << pdfsig.output;
  EXPECT_NE(pdfsig.output.find("Signature2"), std::string::npos) << pdfsig.output;
}

TEST_F(SignTest, RefusesEncryptedPdfs) {
  CREDD_REQUIRE_CORPUS();
  const fs::path in = CorpusPdfs().front();
  const SigningKey key = EcKey();
  for (const std::string user_password : {"u", ""}) {
    const fs::path encrypted = dir_ / "encrypted.pdf";
    CommandResult made = RunCommand("qpdf --encrypt '" + user_password + "' o 256 -- " + Quote(in) +
                                    " " + Quote(encrypted));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    auto signed_pdf = SignPdf(ReadFile(encrypted), key, Options("encrypted.pdf"));
    ASSERT_FALSE(signed_pdf.ok());
    EXPECT_EQ(signed_pdf.error().code, ErrorCode::kData);
    EXPECT_EQ(signed_pdf.error().message.rfind("encrypted PDFs cannot be signed: ", 0), 0u)
        << signed_pdf.error().message;
    EXPECT_EQ(signed_pdf.error().where, "encrypted.pdf");
  }
}

TEST_F(SignTest, RefusesAKeyFileOthersCanRead) {
  const fs::path key = dir_ / "open.key";
  fs::copy_file(pki_.ec_key, key);
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  auto loaded = SigningKey::LoadFromFiles(key.string(), pki_.ec_chain.string(), "");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kConfig);
  EXPECT_EQ(loaded.error().where, key.string());
  EXPECT_NE(loaded.error().message.find("readable by group or others (mode 0644)"),
            std::string::npos)
      << loaded.error().message;
  EXPECT_NE(loaded.error().message.find("chmod 600 " + key.string()), std::string::npos);
}

TEST_F(SignTest, LoadsPkcs12TraditionalAndEncryptedPemKeys) {
  const SigningKey reference = EcKey();
  CommandResult digest = RunCommand("openssl x509 -in " + Quote(pki_.dir / "ec.pem") +
                                    " -outform DER | sha256sum | cut -d' ' -f1");
  EXPECT_EQ(reference.key_id() + "\n", digest.output);

  CommandResult made = RunCommand(
      "openssl pkcs12 -export -inkey " + Quote(pki_.ec_key) + " -in " + Quote(pki_.dir / "ec.pem") +
      " -certfile " + Quote(pki_.ca_pem) + " -passout pass:secret -out " + Quote(dir_ / "key.p12") +
      " && openssl ec -in " + Quote(pki_.ec_key) + " -out " + Quote(dir_ / "traditional.pem") +
      " && openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret -in " + Quote(pki_.rsa_key) +
      " -out " + Quote(dir_ / "encrypted.pem") + " && chmod 600 " + Quote(dir_) + "/*");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  ASSERT_NE(ReadFile(dir_ / "traditional.pem").find("BEGIN EC PRIVATE KEY"), std::string::npos);

  auto p12 = SigningKey::LoadFromFiles((dir_ / "key.p12").string(), "", "secret");
  ASSERT_TRUE(p12.ok()) << p12.error().ToString();
  EXPECT_EQ(p12->key_id(), reference.key_id());
  EXPECT_EQ(p12->chain().size(), 2u);
  auto wrong = SigningKey::LoadFromFiles((dir_ / "key.p12").string(), "", "nope");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("wrong passphrase"), std::string::npos);

  auto traditional =
      SigningKey::LoadFromFiles((dir_ / "traditional.pem").string(), pki_.ec_chain.string(), "");
  ASSERT_TRUE(traditional.ok()) << traditional.error().ToString();
  EXPECT_EQ(traditional->key_id(), reference.key_id());

  auto encrypted = SigningKey::LoadFromFiles((dir_ / "encrypted.pem").string(),
                                             pki_.rsa_chain.string(), "secret");
  ASSERT_TRUE(encrypted.ok()) << encrypted.error().ToString();
  auto no_passphrase =
      SigningKey::LoadFromFiles((dir_ / "encrypted.pem").string(), pki_.rsa_chain.string(), "");
  EXPECT_FALSE(no_passphrase.ok());

  auto mismatched = SigningKey::LoadFromFiles(pki_.rsa_key.string(), pki_.ec_chain.string(), "");
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.error().message.find("does not belong"), std::string::npos)
      << mismatched.error().message;
}

TEST_F(SignTest, RsaOutputIsByteIdenticalAndEcdsaDiffersOnlyInTheSignature) {
  CREDD_REQUIRE_CORPUS();
  const std::string original = FirstCorpusPdf();
  const SigningKey rsa = RsaKey();
  auto first = SignPdf(original, rsa, Options());
  auto second = SignPdf(original, rsa, Options());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(*first == *second) << "RSA PKCS#1 v1.5 signing must be deterministic";

  const SigningKey ec = EcKey();
  auto ec_first = SignPdf(original, ec, Options());
  auto ec_second = SignPdf(original, ec, Options());
  ASSERT_TRUE(ec_first.ok() && ec_second.ok());
  auto first_signature = ExtractLastSignature(*ec_first);
  auto second_signature = ExtractLastSignature(*ec_second);
  ASSERT_TRUE(first_signature.ok() && second_signature.ok());
  EXPECT_EQ(first_signature->byte_range, second_signature->byte_range);
  EXPECT_EQ(SignedBytes(*ec_first, *first_signature), SignedBytes(*ec_second, *second_signature));
}

TEST_F(SignTest, VerifyPrimitivesDetectChangesAndAppendedBytes) {
  CREDD_REQUIRE_CORPUS();
  const std::string original = FirstCorpusPdf();
  const SigningKey key = EcKey();
  auto signed_pdf = SignPdf(original, key, Options());
  ASSERT_TRUE(signed_pdf.ok()) << signed_pdf.error().ToString();
  auto cas = ReadPemCertificateFile(pki_.ca_pem.string());
  ASSERT_TRUE(cas.ok());
  const std::vector<X509*> trusted = {cas->front().get()};

  auto untouched = ExtractLastSignature(*signed_pdf, "untouched.pdf");
  ASSERT_TRUE(untouched.ok()) << untouched.error().ToString();
  EXPECT_TRUE(untouched->covers_whole_file);
  auto valid = VerifyCms(*signed_pdf, *untouched, trusted);
  ASSERT_TRUE(valid.ok());
  EXPECT_TRUE(valid->digest_matched && valid->chain_trusted) << valid->problem;
  EXPECT_EQ(valid->signer_key_id, key.key_id());

  // One byte inside a content stream of the original (first range), then one in /M (second).
  const size_t in_stream = signed_pdf->find("stream", 0) + 20;
  const size_t in_date = signed_pdf->find("D:2026", original.size()) + 5;
  for (const size_t at : {in_stream, in_date}) {
    std::string altered = *signed_pdf;
    altered[at] = static_cast<char>(altered[at] ^ 0x01);
    auto signature = ExtractLastSignature(altered, "altered.pdf");
    ASSERT_TRUE(signature.ok()) << signature.error().ToString();
    auto check = VerifyCms(altered, *signature, trusted);
    ASSERT_TRUE(check.ok()) << check.error().ToString();
    EXPECT_FALSE(check->digest_matched) << "byte " << at;
    EXPECT_NE(check->problem.find("altered"), std::string::npos) << check->problem;
  }

  const std::string appended = *signed_pdf + "\n% added after signing\n";
  auto longer = ExtractLastSignature(appended, "appended.pdf");
  ASSERT_TRUE(longer.ok()) << longer.error().ToString();
  EXPECT_FALSE(longer->covers_whole_file);
  auto still_signed = VerifyCms(appended, *longer, trusted);
  ASSERT_TRUE(still_signed.ok());
  EXPECT_TRUE(still_signed->digest_matched);

  auto unknown_signer = VerifyCms(*signed_pdf, *untouched, {});
  ASSERT_TRUE(unknown_signer.ok());
  EXPECT_TRUE(unknown_signer->digest_matched);
  EXPECT_FALSE(unknown_signer->chain_trusted);

  auto unsigned_pdf = ExtractLastSignature(original, "plain.pdf");
  ASSERT_FALSE(unsigned_pdf.ok());
  EXPECT_EQ(unsigned_pdf.error().ToString(), "plain.pdf: the PDF has no signature");
}

// A minimal PDF (no xref: qpdf rebuilds it) holding one signature dictionary with the given
// /ByteRange text, padded to a fixed width so offsets after it do not move.
std::string PdfWithByteRange(const std::string& byte_range) {
  std::string padded = byte_range;
  padded.resize(std::max<size_t>(padded.size(), 100), ' ');
  return "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
         "2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
         "3 0 obj << /Type /Sig /ByteRange " +
         padded +
         " /Contents <3003020100> >> endobj\n"
         "trailer << /Root 1 0 R >>\n%%EOF\n";
}

struct ByteRangeCase {
  std::string name;
  std::string byte_range;
  std::string expected;  // Error::ToString() of ExtractLastSignature.
};

// Defect 12: /ByteRange values near INT64_MAX overflowed the range arithmetic (undefined
// behaviour) and then made substr throw std::out_of_range through `credctl verify`.
TEST(ByteRangeTest, HostileByteRangesGiveAReasonNeverACrash) {
  const std::string outside = ": the signature's /ByteRange lies outside the file";
  const std::vector<ByteRangeCase> cases = {
      {"max-second.pdf", "[0 10 9223372036854775807 10]", "max-second.pdf" + outside},
      {"wrapping-first.pdf", "[1 9223372036854775807 0 10]", "wrapping-first.pdf" + outside},
      {"all-max.pdf",
       "[9223372036854775807 9223372036854775807 9223372036854775807 9223372036854775807]",
       "all-max.pdf" + outside},
      {"min.pdf", "[-9223372036854775808 10 0 10]", "min.pdf" + outside},
      {"negative-length.pdf", "[0 -5 20 10]", "negative-length.pdf" + outside},
      {"overlapping.pdf", "[0 20 10 5]", "overlapping.pdf" + outside},
      {"past-end.pdf", "[0 10 20 100000]", "past-end.pdf" + outside},
      {"gap.pdf", "[0 10 20 5]",
       "gap.pdf: the signature's /ByteRange leaves out more than its /Contents"},
      {"reals.pdf", "[0 1.5 2 3]", "reals.pdf: the PDF has no signature"},
      {"three.pdf", "[0 10 20]", "three.pdf: the PDF has no signature"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string pdf = PdfWithByteRange(c.byte_range);
    auto signature = ExtractLastSignature(pdf, c.name);
    ASSERT_FALSE(signature.ok());
    EXPECT_EQ(signature.error().code, ErrorCode::kData);
    EXPECT_EQ(signature.error().ToString(), c.expected);
  }
}

TEST(ByteRangeTest, ExactRangesAroundContentsAreFoundAndAJunkCmsIsAnError) {
  // Offsets depend only on the fixed-width /ByteRange field, so they are computed once.
  const std::string probe = PdfWithByteRange("[]");
  const size_t open = probe.find("<3003020100>");
  const size_t close = open + 12;
  const std::string range = "[0 " + std::to_string(open) + " " + std::to_string(close) + " " +
                            std::to_string(probe.size() - close) + "]";
  const std::string pdf = PdfWithByteRange(range);
  auto signature = ExtractLastSignature(pdf, "junk-cms.pdf");
  ASSERT_TRUE(signature.ok()) << signature.error().ToString();
  EXPECT_TRUE(signature->covers_whole_file);
  auto check = VerifyCms(pdf, *signature, {}, "junk-cms.pdf");
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.error().code, ErrorCode::kData);
  EXPECT_EQ(check.error().where, "junk-cms.pdf");
}

TEST(ByteRangeTest, RangesOutsideTheBytesAreRefusedByEveryPrimitive) {
  const std::string pdf = "%PDF-1.4 short";
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const std::vector<std::array<std::int64_t, 4>> ranges = {{0, 1, max, 1},       {1, max, 0, 1},
                                                           {max, max, max, max}, {-1, 1, 2, 1},
                                                           {0, 5, 3, 1},         {0, 5, 6, 100}};
  for (const auto& range : ranges) {
    SCOPED_TRACE(std::to_string(range[0]) + " " + std::to_string(range[1]) + " " +
                 std::to_string(range[2]) + " " + std::to_string(range[3]));
    EXPECT_FALSE(ByteRangeFits(range, pdf.size()));
    PdfSignature signature;
    signature.byte_range = range;
    signature.cms_der = std::string("\x30\x03\x02\x01\x00", 5);
    EXPECT_EQ(SignedBytes(pdf, signature), "");
    auto check = VerifyCms(pdf, signature, {}, "short.pdf");
    ASSERT_FALSE(check.ok());
    EXPECT_EQ(check.error().ToString(),
              "short.pdf: the signature's /ByteRange lies outside the file");
  }
  EXPECT_TRUE(ByteRangeFits({0, 2, 4, 10}, pdf.size()));
  EXPECT_FALSE(ByteRangeFits({0, 2, 4, 11}, pdf.size()));
}

// A one-page PDF whose xref also lists object `id` and whose trailer says /Size `size`.
std::string PdfWithObjectNumber(long long id, long long size) {
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  const std::vector<std::string> bodies = {
      "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"};
  for (size_t i = 0; i < bodies.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + bodies[i] + "\nendobj\n";
  }
  const size_t high = pdf.size();
  pdf += std::to_string(id) + " 0 obj\n42\nendobj\n";
  const size_t xref = pdf.size();
  char line[32];
  pdf += "xref\n0 4\n0000000000 65535 f \n";
  for (const size_t offset : offsets) {
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", offset);
    pdf += line;
  }
  std::snprintf(line, sizeof line, "%010zu 00000 n \n", high);
  pdf += std::to_string(id) + " 1\n" + line;
  pdf += "trailer\n<< /Size " + std::to_string(size) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

// Found with the sign fuzz target's UBSan build: object numbers near INT_MAX overflowed
// the int that numbers the update's new objects.
TEST_F(SignTest, RefusesObjectNumbersThatLeaveNoRoomForTheUpdate) {
  const SigningKey key = EcKey();
  struct Case {
    long long id;
    long long size;
    std::string expected;  // Error::ToString(), or "ok".
  };
  const std::string no_room =
      " leaves no room for the signature's objects (the PDF limit is 8388607)";
  const std::vector<Case> cases = {
      {2147483646, 2147483647, "big.pdf: not a valid PDF: object number 2147483647" + no_room},
      {8388604, 8388605, "big.pdf: not a valid PDF: object number 8388605" + no_room},
      {8388602, 8388603, "ok"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.id);
    auto signed_pdf = SignPdf(PdfWithObjectNumber(c.id, c.size), key, Options("big.pdf"));
    EXPECT_EQ(signed_pdf.ok() ? "ok" : signed_pdf.error().ToString(), c.expected);
    if (!signed_pdf.ok()) continue;
    auto signature = ExtractLastSignature(*signed_pdf, "big.pdf");
    ASSERT_TRUE(signature.ok()) << signature.error().ToString();
    EXPECT_TRUE(signature->covers_whole_file);
  }
}

// Found by the sign fuzz target: qpdf reads objects lazily, so damage in an object that the
// update never touches went unseen; the signed file then sent verifiers into a rebuilt xref
// that did not find the signature.
TEST_F(SignTest, RefusesAPdfDamagedInAnObjectTheUpdateDoesNotTouch) {
  std::string pdf = PdfWithObjectNumber(4, 5);
  const std::string object = "4 0 obj\n42\n";
  const size_t at = pdf.find(object);
  ASSERT_NE(at, std::string::npos);
  pdf.replace(at, object.size(), "4 0 obj\nx]\n");  // Same length: every offset still holds.
  auto signed_pdf = SignPdf(pdf, EcKey(), Options("damaged.pdf"));
  ASSERT_FALSE(signed_pdf.ok()) << "signed a damaged PDF";
  EXPECT_EQ(signed_pdf.error().code, ErrorCode::kData);
  EXPECT_NE(signed_pdf.error().ToString().find("damaged.pdf: damaged PDF cannot be signed"),
            std::string::npos)
      << signed_pdf.error().ToString();
  // The undamaged file signs.
  EXPECT_TRUE(SignPdf(PdfWithObjectNumber(4, 5), EcKey(), Options("whole.pdf")).ok());
}

TEST_F(SignTest, RejectsAMalformedSigningTime) {
  CREDD_REQUIRE_CORPUS();
  SignOptions options = Options("x.pdf");
  options.signing_time = "2026-11-28";
  auto signed_pdf = SignPdf(FirstCorpusPdf(), EcKey(), options);
  ASSERT_FALSE(signed_pdf.ok());
  EXPECT_EQ(signed_pdf.error().code, ErrorCode::kUsage);
}

// PAdES B-T: a TSA run with `openssl ts` stamps the signature value.
TEST_F(SignTest, AddsARfc3161TimestampToken) {
  CREDD_REQUIRE_CORPUS();
  const fs::path& pki = pki_.dir;
  WriteFile(dir_ / "tsa.ext",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=critical,timeStamping\n");
  WriteFile(dir_ / "tsa.cnf",
            "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\nserial = " + (dir_ / "serial").string() +
                "\ncrypto_device = builtin\nsigner_cert = " + (dir_ / "tsa.pem").string() +
                "\nsigner_key = " + (dir_ / "tsa.key").string() +
                "\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\n"
                "accuracy = secs:1\ness_cert_id_alg = sha256\n");
  WriteFile(dir_ / "serial", "01\n");
  CommandResult tsa = RunCommand(
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
      Quote(dir_ / "tsa.key") + " && openssl req -new -key " + Quote(dir_ / "tsa.key") +
      " -subj '/CN=credd test TSA' -out " + Quote(dir_ / "tsa.csr") + " && openssl x509 -req -in " +
      Quote(dir_ / "tsa.csr") + " -CA " + Quote(pki / "ca.pem") + " -CAkey " +
      Quote(pki / "ca.key") + " -set_serial 9 -days 3650 -extfile " + Quote(dir_ / "tsa.ext") +
      " -out " + Quote(dir_ / "tsa.pem"));
  ASSERT_EQ(tsa.exit_code, 0) << tsa.output;

  SignOptions options = Options("stamped.pdf");
  const fs::path value = dir_ / "signature-value.bin";
  options.timestamp = [&](std::string_view signature_value) -> Result<std::string> {
    WriteFile(value, signature_value);
    CommandResult reply =
        RunCommand("openssl ts -query -data " + Quote(value) + " -sha256 -cert -out " +
                   Quote(dir_ / "request.tsq") + " && openssl ts -reply -config " +
                   Quote(dir_ / "tsa.cnf") + " -queryfile " + Quote(dir_ / "request.tsq") +
                   " -token_out -out " + Quote(dir_ / "token.der"));
    if (reply.exit_code != 0) return MakeError(ErrorCode::kUnavailable, reply.output, "tsa");
    return ReadFile(dir_ / "token.der");
  };
  const std::string original = FirstCorpusPdf();
  const SigningKey key = EcKey();
  auto signed_pdf = SignPdf(original, key, options);
  ASSERT_TRUE(signed_pdf.ok()) << signed_pdf.error().ToString();
  ExpectSignedCorrectly(original, *signed_pdf, key, "stamped");

  CommandResult print =
      RunCommand("openssl cms -cmsout -print -inform DER -in " + Quote(dir_ / "stamped.sig.der"));
  EXPECT_NE(print.output.find("id-smime-aa-timeStampToken"), std::string::npos);
  CommandResult verify_token = RunCommand(
      "openssl ts -verify -data " + Quote(value) + " -in " + Quote(dir_ / "token.der") +
      " -token_in -CAfile " + Quote(pki / "ca.pem") + " -untrusted " + Quote(dir_ / "tsa.pem"));
  EXPECT_EQ(verify_token.exit_code, 0) << verify_token.output;

  options.timestamp = [](std::string_view) -> Result<std::string> {
    return MakeError(ErrorCode::kUnavailable, "TSA unreachable", "https://tsa.invalid");
  };
  auto no_tsa = SignPdf(original, key, options);
  ASSERT_FALSE(no_tsa.ok());
  EXPECT_EQ(no_tsa.error().code, ErrorCode::kUnavailable);
}

// The key lives in a SoftHSM2 token made for this test. Fails (never skips) without
// softhsm2: the DESIGN promises PKCS#11 support, tested.
// A PKCS#11 URI may carry the PIN; what is stored, printed and logged never does.
TEST(RedactKeyReferenceTest, DropsThePinWhereverItStands) {
  const std::pair<std::string, std::string> cases[] = {
      {"pkcs11:token=t;object=k?pin-value=1234", "pkcs11:token=t;object=k"},
      {"pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
       "pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so"},
      {"pkcs11:token=t;object=k?pin-value=12%2634&module-path=/m.so",
       "pkcs11:token=t;object=k?module-path=/m.so"},
      {"pkcs11:token=t;pin-value=1234;object=k", "pkcs11:token=t;object=k"},
      {"pkcs11:pin-value=1234", "pkcs11:"},
      {"pkcs11:token=t;object=k;type=private", "pkcs11:token=t;object=k;type=private"},
      {"/etc/credd/pin-value=1234.pem", "/etc/credd/pin-value=1234.pem"},  // A file, not a URI.
  };
  for (const auto& [reference, shown] : cases) {
    EXPECT_EQ(RedactKeyReference(reference), shown) << reference;
  }
}

TEST_F(SignTest, SignsWithAKeyInSoftHsm) {
  CREDD_REQUIRE_CORPUS();
  ASSERT_TRUE(fs::exists("/usr/lib/softhsm/libsofthsm2.so"))
      << "softhsm2 is not installed (apt-get install softhsm2)";
  ASSERT_EQ(RunCommand("command -v softhsm2-util").exit_code, 0) << "softhsm2-util missing";
  fs::create_directory(dir_ / "tokens");
  WriteFile(dir_ / "softhsm2.conf", "directories.tokendir = " + (dir_ / "tokens").string() +
                                        "\nobjectstore.backend = file\nlog.level = ERROR\n");
  // Both softhsm2-util and the module loaded into this process read it.
  ASSERT_EQ(::setenv("SOFTHSM2_CONF", (dir_ / "softhsm2.conf").c_str(), 1), 0);
  CommandResult token = RunCommand(
      "softhsm2-util --init-token --free --label credd-test --pin 1234 --so-pin 5678 && "
      "softhsm2-util --import " +
      Quote(pki_.rsa_key) +
      " --token credd-test --label signing --id 01 --pin 1234 && "
      "softhsm2-util --import " +
      Quote(pki_.ec_key) + " --token credd-test --label signing-ec --id 02 --pin 1234");
  ASSERT_EQ(token.exit_code, 0) << token.output;

  // Before any good PIN: PKCS#11 login state is per process, so a wrong PIN after a
  // successful login would not be noticed by the token.
  auto wrong_pin = SigningKey::LoadFromPkcs11("pkcs11:token=credd-test;object=signing;type=private",
                                              pki_.rsa_chain.string(), "0000");
  ASSERT_FALSE(wrong_pin.ok());
  EXPECT_EQ(wrong_pin.error().where, "pkcs11:token=credd-test;object=signing;type=private");
  auto pin_in_uri = SigningKey::LoadFromPkcs11(
      "pkcs11:token=credd-test;object=signing;type=private?pin-value=97531",
      pki_.rsa_chain.string(), "");
  ASSERT_FALSE(pin_in_uri.ok());
  EXPECT_EQ(pin_in_uri.error().ToString().find("97531"), std::string::npos)
      << pin_in_uri.error().ToString();

  const std::string original = FirstCorpusPdf();
  const std::pair<std::string, fs::path> keys[] = {{"signing", pki_.rsa_chain},
                                                   {"signing-ec", pki_.ec_chain}};
  for (const auto& [label, chain] : keys) {
    auto key = SigningKey::LoadFromPkcs11(
        "pkcs11:token=credd-test;object=" + label + ";type=private", chain.string(), "1234");
    ASSERT_TRUE(key.ok()) << key.error().ToString();
    auto signed_pdf = SignPdf(original, *key, Options("hsm.pdf"));
    ASSERT_TRUE(signed_pdf.ok()) << signed_pdf.error().ToString();
    ExpectSignedCorrectly(original, *signed_pdf, *key, "hsm-" + label);
  }

  ::unsetenv("SOFTHSM2_CONF");
}

}  // namespace
}  // namespace credd::sign
