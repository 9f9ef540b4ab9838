// Tests for TsaClient against tests/tsa_server.py, a real `openssl ts -reply` behind HTTP(S),
// with keys and certificates made by the openssl CLI in a temp folder; tokens and stamped
// PDFs are checked by the real verifiers (openssl ts -verify, openssl cms, pdfsig).
#include "daemon/sign/tsa_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/sign/pades_signer.h"
#include "daemon/sign/pdf_signature.h"
#include "daemon/sign/signing_key.h"
#include "tests/support/child_server.h"
#include "tests/support/command.h"

namespace credd::sign {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using std::chrono::steady_clock;

using test_support::CommandResult;
using test_support::RunCommand;

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

// A port nothing listens on: the OS hands out a free one, which is closed again at once.
int UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  sockaddr* generic = reinterpret_cast<sockaddr*>(&address);
  const bool ok = ::bind(fd, generic, length) == 0 && ::getsockname(fd, generic, &length) == 0;
  ::close(fd);
  return ok ? ntohs(address.sin_port) : 0;
}

// tests/tsa_server.py as a child process; it prints its port on stdout first thing.
class TsaServerProcess : public test_support::ChildServer {
 public:
  TsaServerProcess() : ChildServer({CREDD_PYTHON, CREDD_TSA_SERVER}) {}

  std::string Url(const std::string& path, const std::string& scheme = "http",
                  const std::string& host = "127.0.0.1") const {
    return scheme + "://" + host + ":" + std::to_string(port()) + path;
  }
};

// A one-page PDF, written by hand so the test needs no corpus.
std::string SmallPdf() {
  const std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
      "<< /Length 42 >>\nstream\nBT /F1 12 Tf 72 720 Td (Transcript) Tj ET\nendstream"};
  std::string pdf = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (const size_t offset : offsets) {
    std::array<char, 32> line{};
    std::snprintf(line.data(), line.size(), "%010zu 00000 n \n", offset);
    pdf += line.data();
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) +
         " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

class TsaClientTest : public ::testing::Test {
 protected:
  // One CA issues the TSA's signing certificate, the HTTPS server's and the PDF signer's.
  static void SetUpTestSuite() {
    pki_ = MakeTempDir("credd_tsa_pki");
    const fs::path& dir = pki_;
    WriteFile(dir / "tsa.ext",
              "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=critical,timeStamping\n");
    WriteFile(dir / "tls.ext",
              "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n");
    WriteFile(dir / "signer.ext",
              "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n");
    // [tsa_reject] accepts only SHA-512, so the SHA-256 request gets a real rejection.
    const std::string common =
        "crypto_device = builtin\nsigner_cert = " + (dir / "tsa.pem").string() +
        "\nsigner_key = " + (dir / "tsa.key").string() +
        "\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n"
        "accuracy = secs:1\ness_cert_id_alg = sha256\nserial = " +
        (dir / "serial").string() + "\n";
    WriteFile(dir / "tsa.cnf", "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\n" + common +
                                   "digests = sha256\n[ tsa_reject ]\n" + common +
                                   "digests = sha512\n");
    WriteFile(dir / "serial", "01\n");
    std::string commands =
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
        Quote(dir / "ca.key") + " && openssl req -x509 -new -key " + Quote(dir / "ca.key") +
        " -subj '/CN=credd test TSA CA' -days 3650 -addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign,cRLSign -out " +
        Quote(dir / "ca.pem");
    int serial = 2;
    for (const std::string name : {"tsa", "tls", "signer"}) {
      commands += " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
                  Quote(dir / (name + ".key")) + " && openssl req -new -key " +
                  Quote(dir / (name + ".key")) + " -subj '/CN=credd test " + name + "' -out " +
                  Quote(dir / (name + ".csr")) + " && openssl x509 -req -in " +
                  Quote(dir / (name + ".csr")) + " -CA " + Quote(dir / "ca.pem") + " -CAkey " +
                  Quote(dir / "ca.key") + " -set_serial " + std::to_string(serial++) +
                  " -days 3650 -extfile " + Quote(dir / (name + ".ext")) + " -out " +
                  Quote(dir / (name + ".pem")) + " && chmod 600 " + Quote(dir / (name + ".key"));
    }
    commands += " && cat " + Quote(dir / "signer.pem") + " " + Quote(dir / "ca.pem") + " > " +
                Quote(dir / "signer.chain.pem");
    const CommandResult made = RunCommand(commands);
    pki_ready_ = made.exit_code == 0;
    pki_error_ = made.output;
  }
  static void TearDownTestSuite() { fs::remove_all(pki_); }

  void SetUp() override {
    ASSERT_TRUE(pki_ready_) << pki_error_;
    dir_ = MakeTempDir("credd_tsa_test");
    ASSERT_FALSE(dir_.empty());
    ASSERT_EQ(server_.Start({"--config", (pki_ / "tsa.cnf").string(), "--slow-seconds", "10"}), "");
  }
  void TearDown() override {
    server_.Stop();
    tls_server_.Stop();
    ::unsetenv("SSL_CERT_FILE");
    fs::remove_all(dir_);
  }

  // Checks the token with the real openssl ts against the test CA only.
  void ExpectTokenVerifies(const std::string& token, std::string_view data) {
    WriteFile(dir_ / "data.bin", data);
    WriteFile(dir_ / "token.der", token);
    const CommandResult verify =
        RunCommand("openssl ts -verify -data " + Quote(dir_ / "data.bin") + " -in " +
                   Quote(dir_ / "token.der") + " -token_in -CAfile " + Quote(pki_ / "ca.pem"));
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_NE(verify.output.find("Verification: OK"), std::string::npos) << verify.output;
  }

  static fs::path pki_;
  static bool pki_ready_;
  static std::string pki_error_;
  fs::path dir_;
  TsaServerProcess server_;
  TsaServerProcess tls_server_;
};

fs::path TsaClientTest::pki_;
bool TsaClientTest::pki_ready_ = false;
std::string TsaClientTest::pki_error_;

TEST_F(TsaClientTest, TokenVerifiesWithOpensslTs) {
  const TsaClient client(server_.Url("/"), seconds(10));
  const std::string data = "credd: bytes to timestamp\n";
  auto token = client.Timestamp(data);
  ASSERT_TRUE(token.ok()) << token.error().ToString();
  ExpectTokenVerifies(*token, data);

  // A second request gets a token of its own (fresh nonce, next serial).
  auto second = client.Timestamp(data);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_NE(*token, *second);
}

TEST_F(TsaClientTest, StampsAPdfSignatureAsPadesBT) {
  auto key = SigningKey::LoadFromFiles((pki_ / "signer.key").string(),
                                       (pki_ / "signer.chain.pem").string(), "");
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  const TsaClient client(server_.Url("/"), seconds(10));
  SignOptions options;
  options.signing_time = "D:20261128190000Z";
  options.where = "stamped.pdf";
  options.timestamp = [&](std::string_view value) { return client.Timestamp(value); };
  auto signed_pdf = SignPdf(SmallPdf(), *key, options);
  ASSERT_TRUE(signed_pdf.ok()) << signed_pdf.error().ToString();
  WriteFile(dir_ / "stamped.pdf", *signed_pdf);

  // -nocert: the test CA is in no NSS database; the chain is openssl's job in sign_test.
  const CommandResult pdfsig = RunCommand("pdfsig -nocert " + Quote(dir_ / "stamped.pdf"));
  EXPECT_NE(pdfsig.output.find("Signature is Valid."), std::string::npos) << pdfsig.output;
  EXPECT_NE(pdfsig.output.find("Total document signed"), std::string::npos) << pdfsig.output;

  auto signature = ExtractLastSignature(*signed_pdf, "stamped.pdf");
  ASSERT_TRUE(signature.ok()) << signature.error().ToString();
  WriteFile(dir_ / "stamped.sig.der", signature->cms_der);
  const CommandResult print =
      RunCommand("openssl cms -cmsout -print -inform DER -in " + Quote(dir_ / "stamped.sig.der"));
  EXPECT_NE(print.output.find("id-smime-aa-timeStampToken"), std::string::npos) << print.output;
}

TEST_F(TsaClientTest, UnreachableTsaIsUnavailableQuickly) {
  const int port = UnusedPort();
  ASSERT_GT(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const auto start = steady_clock::now();
  auto token = TsaClient(url, seconds(2)).Timestamp("data");
  ASSERT_FALSE(token.ok());
  EXPECT_LT(steady_clock::now() - start, seconds(2));
  EXPECT_EQ(token.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(token.error().where, url);
  EXPECT_NE(token.error().message.find("cannot connect"), std::string::npos)
      << token.error().message;
}

TEST_F(TsaClientTest, SilentTsaTimesOutAtTheDeadline) {
  const auto start = steady_clock::now();
  auto token = TsaClient(server_.Url("/slow"), seconds(1)).Timestamp("data");
  const auto elapsed = steady_clock::now() - start;
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(token.error().message.find("timed out after 1 s"), std::string::npos)
      << token.error().message;
  EXPECT_GE(elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(elapsed, seconds(4));
}

TEST_F(TsaClientTest, Http500IsUnavailableWithTheStatus) {
  auto token = TsaClient(server_.Url("/fail500"), seconds(10)).Timestamp("data");
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(token.error().ToString(),
            server_.Url("/fail500") + ": the TSA answered HTTP 500 Internal Server Error");
}

TEST_F(TsaClientTest, RejectionIsDataWithTheTsaStatusText) {
  auto token = TsaClient(server_.Url("/reject"), seconds(10)).Timestamp("data");
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code, ErrorCode::kData);
  EXPECT_EQ(token.error().message,
            "the TSA refused the request: rejection: Message digest algorithm is not "
            "supported. (badAlg)");
}

TEST_F(TsaClientTest, BadRepliesAreDataErrors) {
  auto wrong_type = TsaClient(server_.Url("/wrongtype"), seconds(10)).Timestamp("data");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.error().code, ErrorCode::kData);
  EXPECT_NE(wrong_type.error().message.find("text/plain"), std::string::npos);

  // A reply to another request: its nonce and imprint do not match this one.
  const TsaClient client(server_.Url("/"), seconds(10));
  ASSERT_TRUE(client.Timestamp("first request").ok());
  auto replayed = TsaClient(server_.Url("/replay"), seconds(10)).Timestamp("second request");
  ASSERT_FALSE(replayed.ok());
  EXPECT_EQ(replayed.error().code, ErrorCode::kData);
  EXPECT_NE(replayed.error().message.find("does not match the request"), std::string::npos)
      << replayed.error().message;

  auto tampered = TsaClient(server_.Url("/tamper"), seconds(10)).Timestamp("data");
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.error().code, ErrorCode::kData);
  EXPECT_NE(tampered.error().message.find("signature does not verify"), std::string::npos)
      << tampered.error().message;
}

TEST_F(TsaClientTest, MalformedUrlsAreConfigErrors) {
  for (const std::string url :
       {"ftp://tsa.example/", "tsa.example", "http://", "http://:80/", "http://tsa:0/",
        "http://tsa:99999/", "http://tsa:8o/", "http://user@tsa/", "http://[::1/"}) {
    auto token = TsaClient(url, seconds(1)).Timestamp("data");
    ASSERT_FALSE(token.ok()) << url;
    EXPECT_EQ(token.error().code, ErrorCode::kConfig) << url << ": " << token.error().message;
    EXPECT_EQ(token.error().where, url);
  }
}

// HTTPS checks the certificate against the system store; SSL_CERT_FILE (read by OpenSSL's
// default paths) stands in for installing the test CA system-wide.
TEST_F(TsaClientTest, HttpsVerifiesTheServerCertificateAndName) {
  ASSERT_EQ(
      tls_server_.Start({"--config", (pki_ / "tsa.cnf").string(), "--tls-cert",
                         (pki_ / "tls.pem").string(), "--tls-key", (pki_ / "tls.key").string()}),
      "");
  auto untrusted = TsaClient(tls_server_.Url("/", "https"), seconds(10)).Timestamp("data");
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(untrusted.error().message.find("certificate verify failed"), std::string::npos)
      << untrusted.error().message;

  ASSERT_EQ(::setenv("SSL_CERT_FILE", (pki_ / "ca.pem").c_str(), 1), 0);
  auto trusted = TsaClient(tls_server_.Url("/", "https"), seconds(10)).Timestamp("data");
  ASSERT_TRUE(trusted.ok()) << trusted.error().ToString();
  ExpectTokenVerifies(*trusted, "data");

  // The certificate names 127.0.0.1 only.
  auto wrong_name =
      TsaClient(tls_server_.Url("/", "https", "localhost"), seconds(10)).Timestamp("data");
  ASSERT_FALSE(wrong_name.ok());
  EXPECT_EQ(wrong_name.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace credd::sign
