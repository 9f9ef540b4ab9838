// Tests for the mail transports: the SMTP transport against tests/smtp_server.py (a real
// aiosmtpd server, started per test, scripted to defer, fail, drop or require TLS and AUTH)
// with certificates made by the openssl CLI; the maildir transport against a temp folder.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/mail/transport.h"
#include "tests/support/child_server.h"

namespace credd::mail {
namespace {

namespace fs = std::filesystem;
using Kind = SendOutcome::Kind;
using std::chrono::seconds;
using std::chrono::steady_clock;

int RunCommand(const std::string& command) {
  const int status = std::system(("(" + command + ") >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string Quote(const fs::path& path) { return "'" + path.string() + "'"; }

fs::path MakeTempDir(const std::string& prefix) {
  std::string pattern = (fs::temp_directory_path() / (prefix + ".XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

// A listening socket on 127.0.0.1 that never accepts: connecting works (the kernel's
// backlog takes it), but no greeting ever comes. With listen=false, a port nobody uses.
class SilentPort {
 public:
  explicit SilentPort(bool listen) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    sockaddr* generic = reinterpret_cast<sockaddr*>(&address);
    if (::bind(fd_, generic, length) == 0 && ::getsockname(fd_, generic, &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
    if (listen) {
      ::listen(fd_, 4);
    } else {
      ::close(fd_);
      fd_ = -1;
    }
  }
  SilentPort(const SilentPort&) = delete;
  SilentPort& operator=(const SilentPort&) = delete;
  ~SilentPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// tests/smtp_server.py as a child process; it prints its port on stdout first thing.
class SmtpServerProcess : public test_support::ChildServer {
 public:
  SmtpServerProcess() : ChildServer({CREDD_PYTHON, CREDD_SMTP_SERVER}) {}
};

std::string Message(const std::string& subject, const std::string& body) {
  return "From: Registrar <registrar@uni.example>\r\nTo: zoe@student.example\r\nSubject: " +
         subject + "\r\nMessage-ID: <" + subject + "@credd.uni.example>\r\n\r\n" + body;
}

class MailTransportTest : public ::testing::Test {
 protected:
  // A test CA issues the server's certificate (for "localhost" only, so 127.0.0.1 is a name
  // mismatch); a second CA, unrelated, is the wrong one.
  static void SetUpTestSuite() {
    pki_ = MakeTempDir("credd_smtp_pki");
    const fs::path& dir = pki_;
    WriteFile(dir / "server.ext",
              "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n");
    std::string commands;
    for (const std::string ca : {"ca", "other_ca"}) {
      commands += "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
                  Quote(dir / (ca + ".key")) + " && openssl req -x509 -new -key " +
                  Quote(dir / (ca + ".key")) + " -subj '/CN=credd test " + ca +
                  "' -days 3650 -addext basicConstraints=critical,CA:TRUE"
                  " -addext keyUsage=critical,keyCertSign,cRLSign -out " +
                  Quote(dir / (ca + ".pem")) + " && ";
    }
    commands += "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
                Quote(dir / "server.key") + " && openssl req -new -key " +
                Quote(dir / "server.key") + " -subj '/CN=localhost' -out " +
                Quote(dir / "server.csr") + " && openssl x509 -req -in " +
                Quote(dir / "server.csr") + " -CA " + Quote(dir / "ca.pem") + " -CAkey " +
                Quote(dir / "ca.key") + " -set_serial 2 -days 365 -extfile " +
                Quote(dir / "server.ext") + " -out " + Quote(dir / "server.pem");
    pki_ok_ = RunCommand(commands) == 0;
  }
  static void TearDownTestSuite() { fs::remove_all(pki_); }

  void SetUp() override {
    ASSERT_TRUE(pki_ok_) << "openssl could not make the test certificates";
    dir_ = MakeTempDir("credd_smtp_test");
    out_ = dir_ / "messages.jsonl";
  }
  void TearDown() override {
    server_.Stop();
    fs::remove_all(dir_);
  }

  // Starts smtp_server.py with --out and `arguments`; fails the test if it does not come up.
  void StartServer(std::vector<std::string> arguments = {}) {
    arguments.insert(arguments.end(), {"--out", out_.string()});
    const std::string error = server_.Start(arguments);
    ASSERT_EQ(error, "");
  }
  static std::vector<std::string> TlsFiles() {
    return {(pki_ / "server.pem").string(), (pki_ / "server.key").string()};
  }

  SmtpConfig Config(const std::string& tls, int port = 0) const {
    SmtpConfig config;
    config.host = "localhost";
    config.port = port != 0 ? port : server_.port();
    config.tls = tls;
    config.ca_file = (pki_ / "ca.pem").string();
    config.timeout_seconds = 5;
    return config;
  }

  std::unique_ptr<MailTransport> Transport(const SmtpConfig& config,
                                           const std::string& password = {}) {
    Result<std::unique_ptr<MailTransport>> made =
        MakeSmtpTransport(config, password, log_, "client.credd.test");
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().ToString());
    return made.ok() ? std::move(made.value()) : nullptr;
  }

  // The messages the server received, one JSON object each.
  std::vector<nlohmann::json> Received() const {
    std::vector<nlohmann::json> messages;
    std::ifstream in(out_);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) messages.push_back(nlohmann::json::parse(line));
    }
    return messages;
  }

  static inline fs::path pki_;
  static inline bool pki_ok_ = false;
  fs::path dir_;
  fs::path out_;
  std::ostringstream log_text_;
  Logger log_{log_text_, LogLevel::kDebug};
  SmtpServerProcess server_;
};

TEST_F(MailTransportTest, TenMessagesShareOneConnection) {
  StartServer();
  std::unique_ptr<MailTransport> transport = Transport(Config("none"));
  ASSERT_NE(transport, nullptr);
  for (int i = 0; i < 10; ++i) {
    const SendOutcome outcome = transport->Send("registrar@uni.example", "zoe@student.example",
                                                Message("m" + std::to_string(i), "Hello\r\n"));
    EXPECT_EQ(outcome.kind, Kind::kSent) << outcome.reply;
    EXPECT_EQ(outcome.smtp_code, 250);
  }
  transport->Close();
  const std::vector<nlohmann::json> received = Received();
  ASSERT_EQ(received.size(), 10u);
  std::set<int> sessions;
  for (size_t i = 0; i < received.size(); ++i) {
    sessions.insert(received[i]["session"].get<int>());
    EXPECT_EQ(received[i]["data"], Message("m" + std::to_string(i), "Hello\r\n"));
    EXPECT_EQ(received[i]["mail_from"], "registrar@uni.example");
    EXPECT_EQ(received[i]["rcpt_tos"], nlohmann::json::array({"zoe@student.example"}));
  }
  EXPECT_EQ(sessions.size(), 1u);
  EXPECT_NE(log_text_.str().find("smtp_tls_disabled"), std::string::npos);
}

TEST_F(MailTransportTest, TemporaryFailureIsDeferredThenTheNextSends) {
  StartServer({"--script", "451"});
  std::unique_ptr<MailTransport> transport = Transport(Config("none"));
  const SendOutcome first = transport->Send("a@uni.example", "b@student.example", Message("x", ""));
  EXPECT_EQ(first.kind, Kind::kDeferred);
  EXPECT_EQ(first.smtp_code, 451);
  EXPECT_EQ(first.reply, "451 4.3.0 Try again later (scripted)");
  const SendOutcome second =
      transport->Send("a@uni.example", "b@student.example", Message("x", ""));
  EXPECT_EQ(second.kind, Kind::kSent) << second.reply;
  EXPECT_EQ(second.smtp_code, 250);
}

TEST_F(MailTransportTest, PermanentFailureIsFailed) {
  StartServer({"--script", "550"});
  const SendOutcome outcome =
      Transport(Config("none"))->Send("a@uni.example", "b@student.example", Message("x", ""));
  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_EQ(outcome.smtp_code, 550);
  EXPECT_EQ(outcome.reply, "550 5.7.1 Rejected (scripted)");
}

// Only "no such mailbox" bounces an address; a relay's policy refusal never does.
TEST(MeansNoSuchMailboxTest, ReadsTheEnhancedCodeFirst) {
  const struct {
    int code;
    const char* reply;
    bool bounce;
  } cases[] = {
      {550, "550 5.1.1 <s1@uni.ca>: Recipient address rejected: User unknown", true},
      {550,
       "550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 "
       "Please try again",
       true},
      {553, "553 5.1.3 Bad recipient address syntax", true},
      {550, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found", true},
      {550, "550 5.1.2 Host unknown", true},
      {554, "554 5.7.1 <s1@uni.ca>: Relay access denied", false},
      {550, "550 5.7.1 Client does not have permissions to send as this sender", false},
      {550, "550 5.7.606 Access denied, banned sending IP", false},
      {553, "553 5.1.8 Sender address rejected: Domain not found", false},  // The sender's.
      {550, "550 5.1.7 Invalid address (sender)", false},
      {552, "552 5.2.2 Mailbox full", false},
      {550, "550 Requested action not taken: mailbox unavailable", true},  // No enhanced code.
      {551, "551 User not local", true},
      {553, "553 mailbox name not allowed", true},
      {554, "554 Transaction failed", false},
      {450, "450 4.1.1 Try again", false},  // Temporary: never a bounce.
      {550, "550 5.1", true},               // Malformed enhanced code: read as absent.
  };
  for (const auto& c : cases) EXPECT_EQ(MeansNoSuchMailbox(c.code, c.reply), c.bounce) << c.reply;
}

TEST_F(MailTransportTest, APolicyRefusalAtRcptIsNotARefusedRecipient) {
  StartServer({"--rcpt-script", "554,550/5.1.1"});
  std::unique_ptr<MailTransport> transport = Transport(Config("none"));
  const SendOutcome policy =
      transport->Send("a@uni.example", "b@student.example", Message("1", ""));
  EXPECT_EQ(policy.kind, Kind::kFailed);
  EXPECT_EQ(policy.reply, "554 5.7.1 Rejected (scripted)");
  EXPECT_FALSE(policy.recipient_refused);
  const SendOutcome unknown =
      transport->Send("a@uni.example", "c@student.example", Message("2", ""));
  EXPECT_EQ(unknown.kind, Kind::kFailed);
  EXPECT_TRUE(unknown.recipient_refused) << unknown.reply;
}

TEST_F(MailTransportTest, RefusedRecipientFailsAndTheConnectionCarriesTheNextMessage) {
  StartServer({"--rcpt-script", "550,450"});
  std::unique_ptr<MailTransport> transport = Transport(Config("none"));
  const SendOutcome refused =
      transport->Send("a@uni.example", "b@student.example", Message("1", ""));
  EXPECT_EQ(refused.kind, Kind::kFailed);
  EXPECT_EQ(refused.smtp_code, 550);
  const SendOutcome busy = transport->Send("a@uni.example", "b@student.example", Message("2", ""));
  EXPECT_EQ(busy.kind, Kind::kDeferred);
  EXPECT_EQ(busy.smtp_code, 450);
  const SendOutcome sent = transport->Send("a@uni.example", "c@student.example", Message("3", ""));
  EXPECT_EQ(sent.kind, Kind::kSent) << sent.reply;
  const std::vector<nlohmann::json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0]["rcpt_tos"], nlohmann::json::array({"c@student.example"}));
}

TEST_F(MailTransportTest, NoListenerIsDeferredQuickly) {
  const SilentPort unused(false);
  const auto start = steady_clock::now();
  const SendOutcome outcome = Transport(Config("none", unused.port()))
                                  ->Send("a@uni.example", "b@student.example", Message("x", ""));
  EXPECT_EQ(outcome.kind, Kind::kDeferred);
  EXPECT_EQ(outcome.smtp_code, 0);
  EXPECT_NE(outcome.reply.find("local: "), std::string::npos) << outcome.reply;
  EXPECT_LT(steady_clock::now() - start, seconds(3));
}

TEST_F(MailTransportTest, SilentServerTimesOutAsDeferred) {
  const SilentPort silent(true);
  SmtpConfig config = Config("none", silent.port());
  config.timeout_seconds = 1;
  const auto start = steady_clock::now();
  const SendOutcome outcome =
      Transport(config)->Send("a@uni.example", "b@student.example", Message("x", ""));
  EXPECT_EQ(outcome.kind, Kind::kDeferred);
  EXPECT_NE(outcome.reply.find("timed out"), std::string::npos) << outcome.reply;
  EXPECT_LT(steady_clock::now() - start, seconds(4));
}

TEST_F(MailTransportTest, ConnectionLostAfterTheFinalDotIsUnknown) {
  StartServer({"--drop-after-data", "2"});
  std::unique_ptr<MailTransport> transport = Transport(Config("none"));
  EXPECT_EQ(transport->Send("a@uni.example", "b@student.example", Message("1", "")).kind,
            Kind::kSent);
  const SendOutcome lost = transport->Send("a@uni.example", "b@student.example", Message("2", ""));
  EXPECT_EQ(lost.kind, Kind::kUnknown) << lost.reply;
  EXPECT_EQ(lost.smtp_code, 0);
  // The next message reconnects by itself.
  const SendOutcome next = transport->Send("a@uni.example", "b@student.example", Message("3", ""));
  EXPECT_EQ(next.kind, Kind::kSent) << next.reply;
  const std::vector<nlohmann::json> received = Received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_TRUE(received[1]["dropped"].get<bool>());
  EXPECT_NE(received[0]["session"], received[2]["session"]);
}

TEST_F(MailTransportTest, ConnectionClosedWhileIdleIsReopenedWithoutAnError) {
  StartServer({"--close-after-data", "1"});
  std::unique_ptr<MailTransport> transport = Transport(Config("none"));
  for (int i = 0; i < 2; ++i) {
    const SendOutcome outcome =
        transport->Send("a@uni.example", "b@student.example", Message(std::to_string(i), ""));
    EXPECT_EQ(outcome.kind, Kind::kSent) << outcome.reply;
  }
  const std::vector<nlohmann::json> received = Received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_NE(received[0]["session"], received[1]["session"]);
}

TEST_F(MailTransportTest, StartTlsWithTheTestCaSends) {
  StartServer({"--starttls", TlsFiles()[0], TlsFiles()[1]});
  std::unique_ptr<MailTransport> transport = Transport(Config("starttls"));
  for (int i = 0; i < 2; ++i) {
    const SendOutcome outcome =
        transport->Send("a@uni.example", "b@student.example", Message("t", "secret\r\n"));
    EXPECT_EQ(outcome.kind, Kind::kSent) << outcome.reply;
  }
  const std::vector<nlohmann::json> received = Received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_TRUE(received[0]["tls"].get<bool>());
  EXPECT_EQ(received[0]["session"], received[1]["session"]);
}

TEST_F(MailTransportTest, StartTlsWithTheWrongCaIsDeferred) {
  StartServer({"--starttls", TlsFiles()[0], TlsFiles()[1]});
  SmtpConfig config = Config("starttls");
  config.ca_file = (pki_ / "other_ca.pem").string();
  const SendOutcome outcome =
      Transport(config)->Send("a@uni.example", "b@student.example", Message("t", ""));
  EXPECT_EQ(outcome.kind, Kind::kDeferred);
  EXPECT_NE(outcome.reply.find("certificate"), std::string::npos) << outcome.reply;
  EXPECT_TRUE(Received().empty());
}

TEST_F(MailTransportTest, StartTlsChecksTheHostName) {
  StartServer({"--starttls", TlsFiles()[0], TlsFiles()[1]});
  SmtpConfig config = Config("starttls");
  config.host = "127.0.0.1";  // The certificate names only "localhost".
  const SendOutcome outcome =
      Transport(config)->Send("a@uni.example", "b@student.example", Message("t", ""));
  EXPECT_EQ(outcome.kind, Kind::kDeferred);
  EXPECT_NE(outcome.reply.find("127.0.0.1"), std::string::npos) << outcome.reply;
  EXPECT_TRUE(Received().empty());
}

TEST_F(MailTransportTest, StartTlsNotOfferedIsDeferredAndNothingGoesInClear) {
  StartServer();
  const SendOutcome outcome =
      Transport(Config("starttls"))->Send("a@uni.example", "b@student.example", Message("t", ""));
  EXPECT_EQ(outcome.kind, Kind::kDeferred);
  EXPECT_NE(outcome.reply.find("STARTTLS not offered"), std::string::npos) << outcome.reply;
  EXPECT_TRUE(Received().empty());
}

TEST_F(MailTransportTest, ImplicitTlsSends) {
  StartServer({"--implicit-tls", TlsFiles()[0], TlsFiles()[1]});
  const SendOutcome outcome =
      Transport(Config("implicit"))->Send("a@uni.example", "b@student.example", Message("i", ""));
  EXPECT_EQ(outcome.kind, Kind::kSent) << outcome.reply;
  const std::vector<nlohmann::json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_TRUE(received[0]["tls"].get<bool>());
}

TEST_F(MailTransportTest, AuthWithTheRightPasswordSends) {
  StartServer({"--starttls", TlsFiles()[0], TlsFiles()[1], "--auth", "registrar:s3cret"});
  SmtpConfig config = Config("starttls");
  config.username = "registrar";
  const SendOutcome outcome =
      Transport(config, "s3cret")->Send("a@uni.example", "b@student.example", Message("a", ""));
  EXPECT_EQ(outcome.kind, Kind::kSent) << outcome.reply;
  const std::vector<nlohmann::json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_TRUE(received[0]["authenticated"].get<bool>());
}

// A rejected password is a configuration problem, not the message's: deferred, so nothing is
// lost while someone fixes the password.
TEST_F(MailTransportTest, AuthWithAWrongPasswordIsDeferredWith535) {
  StartServer({"--starttls", TlsFiles()[0], TlsFiles()[1], "--auth", "registrar:s3cret"});
  SmtpConfig config = Config("starttls");
  config.username = "registrar";
  const SendOutcome outcome =
      Transport(config, "wrong")->Send("a@uni.example", "b@student.example", Message("a", ""));
  EXPECT_EQ(outcome.kind, Kind::kDeferred);
  EXPECT_EQ(outcome.smtp_code, 535);
  EXPECT_NE(outcome.reply.find("535"), std::string::npos) << outcome.reply;
  EXPECT_TRUE(Received().empty());
}

TEST_F(MailTransportTest, BadEnvelopeAddressesAreRefusedLocally) {
  StartServer();
  std::unique_ptr<MailTransport> transport = Transport(Config("none"));
  const std::vector<std::string> bad_addresses = {"zoe@student.example\r\nRCPT TO:<evil@x.example>",
                                                  "zoe@student.example\n",
                                                  "zoe@x\r",
                                                  std::string("zoe@student.example\0x", 21),
                                                  "zoe @student.example",
                                                  "<zoe@x.example>",
                                                  "zoe",
                                                  "",
                                                  "@x.example",
                                                  "zoe@"};
  for (const std::string& bad : bad_addresses) {
    const SendOutcome outcome = transport->Send("a@uni.example", bad, Message("x", ""));
    EXPECT_EQ(outcome.kind, Kind::kFailed) << bad;
    EXPECT_EQ(outcome.reply, "local: invalid address");
    EXPECT_EQ(transport->Send(bad, "b@student.example", Message("x", "")).kind, Kind::kFailed);
  }
  EXPECT_TRUE(Received().empty());
}

TEST_F(MailTransportTest, LinesStartingWithADotArriveIntact) {
  StartServer();
  const std::string body = ".hidden\r\n.\r\n..two\r\nend\r\n.";
  const SendOutcome outcome =
      Transport(Config("none"))->Send("a@uni.example", "b@student.example", Message("d", body));
  EXPECT_EQ(outcome.kind, Kind::kSent) << outcome.reply;
  const std::vector<nlohmann::json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  // The last line gets the CRLF that SMTP needs before the final dot.
  EXPECT_EQ(received[0]["data"], Message("d", body + "\r\n"));
}

TEST_F(MailTransportTest, BareLineFeedsGoOutAsCrLf) {
  StartServer();
  const SendOutcome outcome =
      Transport(Config("none"))
          ->Send("a@uni.example", "b@student.example", "Subject: lf\n\n.line one\nline two\n");
  EXPECT_EQ(outcome.kind, Kind::kSent) << outcome.reply;
  const std::vector<nlohmann::json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0]["data"], "Subject: lf\r\n\r\n.line one\r\nline two\r\n");
}

TEST_F(MailTransportTest, BadConfigurationIsAnError) {
  SmtpConfig config = Config("tls", 25);
  Result<std::unique_ptr<MailTransport>> made = MakeSmtpTransport(config, "", log_);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error().where, "mail.smtp.tls");
  config = Config("starttls", 25);
  config.ca_file = (dir_ / "missing.pem").string();
  made = MakeSmtpTransport(config, "", log_);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error().code, ErrorCode::kConfig);
  EXPECT_EQ(made.error().where, "mail.smtp.ca_file");
}

TEST_F(MailTransportTest, MaildirKeepsEachMessageByteForByte) {
  const fs::path maildir = dir_ / "outbox" / "mail";
  Result<std::unique_ptr<MailTransport>> made = MakeMaildirTransport(maildir.string());
  ASSERT_TRUE(made.ok()) << made.error().ToString();
  std::vector<std::string> messages = {Message("1", "one\r\n"), Message("2", ".dot\r\n"),
                                       "Subject: bare\n\nno CR here\n"};
  for (const std::string& message : messages) {
    const SendOutcome outcome = (*made)->Send("a@uni.example", "b@student.example", message);
    EXPECT_EQ(outcome.kind, Kind::kSent) << outcome.reply;
  }
  EXPECT_TRUE(fs::is_directory(maildir / "cur"));
  EXPECT_TRUE(fs::is_empty(maildir / "tmp"));
  std::vector<std::string> stored;
  for (const fs::directory_entry& entry : fs::directory_iterator(maildir / "new")) {
    stored.push_back(ReadFile(entry.path()));
  }
  std::sort(stored.begin(), stored.end());
  std::sort(messages.begin(), messages.end());
  EXPECT_EQ(stored, messages);
  EXPECT_EQ((*made)->Send("a@uni.example", "b\r\n@x", messages[0]).kind, Kind::kFailed);
}

TEST_F(MailTransportTest, MaildirWriteErrorIsDeferred) {
  const fs::path maildir = dir_ / "mail";
  Result<std::unique_ptr<MailTransport>> made = MakeMaildirTransport(maildir.string());
  ASSERT_TRUE(made.ok());
  fs::remove_all(maildir / "tmp");
  const SendOutcome outcome = (*made)->Send("a@uni.example", "b@student.example", "x\r\n");
  EXPECT_EQ(outcome.kind, Kind::kDeferred);
  EXPECT_NE(outcome.reply.find("local: maildir: create"), std::string::npos) << outcome.reply;
}

}  // namespace
}  // namespace credd::mail
