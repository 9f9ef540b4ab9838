// Tests for RenderMime: every message is read back by an independent parser (Debian's
// python3 email package, testdata/mime_probe.py), bodies and names in three scripts round-
// trip, folding keeps lines within RFC 5322's limits, and header injection is refused with
// the field named.
#include "daemon/mail/message.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/mail/mail_templates.h"
#include "tests/support/command.h"

namespace credd::mail {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kZoe = "Zoë Lévesque-O'Brien";
const std::string kHang = "Nguyễn Thị Hằng";
const std::string kAniya = "ᐊᓂᔭ";

// 2026-11-28 14:03:07 UTC.
const std::chrono::system_clock::time_point kDate{std::chrono::seconds(1795874587)};

std::string Unix(std::string text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  return out;
}

// Writes the message to a per-test file and returns what mime_probe.py read from it.
json Probe(const std::string& mime) {
  static int counter = 0;
  const fs::path path = fs::path(testing::TempDir()) /
                        ("mime-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
  {
    std::ofstream out(path, std::ios::binary);
    out << mime;
  }
  const test_support::CommandResult probe = test_support::RunCommand(
      std::string(CREDD_PYTHON) + " " + CREDD_MIME_PROBE + " " + path.string());
  fs::remove(path);
  if (probe.exit_code != 0) return json{{"error", probe.output}};
  return json::parse(probe.output, nullptr, false);
}

OutgoingMessage SampleMessage() {
  OutgoingMessage message;
  message.from = {"Registrariat — Collège Boréal", "registrar@example-college.ca"};
  message.to = {kZoe, "zoe.levesque@students.example-college.ca"};
  message.reply_to = MailAddress{"Service aux étudiants", "help@example-college.ca"};
  message.subject = "Vos documents officiels — " + kZoe + ", " + kHang + ", " + kAniya;
  message.text_body = "Bonjour " + kZoe + ",\n\n" + kHang + " et " + kAniya +
                      " aussi.\nLine with trailing spaces   \n.starts with a dot\nFrom here\n" +
                      std::string(300, 'x') + "\n" + std::string(200, 'e') + "é\n";
  message.html_body = "<!DOCTYPE html>\n<html lang=\"fr-CA\"><body><p>Bonjour " + kZoe + "</p><p>" +
                      kHang + " " + kAniya + "</p><p>" + std::string(1500, 'h') +
                      "</p></body></html>\n";
  message.message_id = "invitation-42@credd.example-college.ca";
  message.date = kDate;
  message.extra_headers = {{"X-Credd-Invitation", "42"}};
  return message;
}

void ExpectWellFormed(const json& probe) {
  ASSERT_FALSE(probe.contains("error")) << probe.dump(2);
  EXPECT_EQ(probe["defects"], json::array()) << probe.dump(2);
  EXPECT_LE(probe["max_header_line"].get<int>(), 78);
  EXPECT_LE(probe["max_line"].get<int>(), 78) << "quoted-printable lines are at most 76";
  EXPECT_FALSE(probe["bare_cr_or_lf"].get<bool>());
  EXPECT_TRUE(probe["ends_with_crlf"].get<bool>());
}

TEST(RenderMime, BothPartsDecodeToTheInputs) {
  const OutgoingMessage message = SampleMessage();
  Result<std::string> mime = RenderMime(message);
  ASSERT_TRUE(mime.ok()) << mime.error().ToString();
  const json probe = Probe(*mime);
  ExpectWellFormed(probe);

  EXPECT_EQ(probe["content_type"], "multipart/alternative");
  ASSERT_EQ(probe["parts"].size(), 2u);
  EXPECT_EQ(probe["parts"][0]["content_type"], "text/plain");
  EXPECT_EQ(probe["parts"][0]["charset"], "utf-8");
  EXPECT_EQ(probe["parts"][0]["cte"], "quoted-printable");
  EXPECT_EQ(Unix(probe["parts"][0]["body"]), message.text_body);
  EXPECT_EQ(probe["parts"][1]["content_type"], "text/html");
  EXPECT_EQ(probe["parts"][1]["charset"], "utf-8");
  EXPECT_EQ(Unix(probe["parts"][1]["body"]), message.html_body);

  EXPECT_EQ(probe["subject"], message.subject);
  ASSERT_EQ(probe["from"].size(), 1u);
  EXPECT_EQ(probe["from"][0]["display_name"], message.from.display_name);
  EXPECT_EQ(probe["from"][0]["addr_spec"], message.from.address);
  ASSERT_EQ(probe["to"].size(), 1u);
  EXPECT_EQ(probe["to"][0]["display_name"], kZoe);
  EXPECT_EQ(probe["to"][0]["addr_spec"], message.to.address);
  ASSERT_EQ(probe["reply_to"].size(), 1u);
  EXPECT_EQ(probe["reply_to"][0]["display_name"], "Service aux étudiants");
  EXPECT_EQ(probe["message_id"], "<invitation-42@credd.example-college.ca>");
  EXPECT_EQ(probe["date_raw"], "Sat, 28 Nov 2026 14:03:07 +0000");
  EXPECT_EQ(probe["date_epoch"].get<double>(), 1795874587.0);
  EXPECT_EQ(probe["auto_submitted"], "auto-generated");
  EXPECT_EQ(probe["mime_version"], "1.0");
  EXPECT_EQ(probe["extra"], (json{{"X-Credd-Invitation", "42"}}));
  EXPECT_EQ(probe["header_names"],
            (json{"Date", "From", "To", "Reply-To", "Subject", "Message-ID", "X-Credd-Invitation",
                  "MIME-Version", "Auto-Submitted", "Content-Type"}));
}

TEST(RenderMime, SameMessageSameBytesAndTheBoundaryAvoidsTheBodies) {
  OutgoingMessage message = SampleMessage();
  Result<std::string> first = RenderMime(message);
  Result<std::string> second = RenderMime(message);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);

  // A body that quotes the boundary verbatim makes RenderMime pick another one, which then
  // appears only in the header and the three delimiter lines.
  const std::string boundary = Probe(*first)["boundary"];
  ASSERT_EQ(boundary.rfind("=_credd_", 0), 0u) << boundary;
  message.text_body = "--" + boundary + "\n--" + boundary + "--\n";
  message.html_body = "<p>--" + boundary + "</p>";
  Result<std::string> quoted = RenderMime(message);
  ASSERT_TRUE(quoted.ok()) << quoted.error().ToString();
  const json probe = Probe(*quoted);
  ExpectWellFormed(probe);
  const std::string other = probe["boundary"];
  EXPECT_NE(other, boundary);
  int occurrences = 0;
  for (std::size_t at = quoted->find(other); at != std::string::npos;
       at = quoted->find(other, at + 1)) {
    ++occurrences;
  }
  EXPECT_EQ(occurrences, 4);
  ASSERT_EQ(probe["parts"].size(), 2u);
  EXPECT_EQ(Unix(probe["parts"][0]["body"]), message.text_body);
  EXPECT_EQ(Unix(probe["parts"][1]["body"]), message.html_body);
}

TEST(RenderMime, LongSubjectsFoldIntoValidLines) {
  std::string words;
  while (words.size() < 2000) words += "documents officiels ";
  words.resize(2000);
  std::string one_word(2000, 'a');
  std::string accented;
  while (accented.size() < 2000) accented += kHang + kAniya + "é";
  for (const std::string& subject : {words, one_word, accented, std::string("=?utf-8?q?x?=")}) {
    OutgoingMessage message = SampleMessage();
    message.subject = subject;
    Result<std::string> mime = RenderMime(message);
    ASSERT_TRUE(mime.ok()) << mime.error().ToString();
    const json probe = Probe(*mime);
    ExpectWellFormed(probe);
    EXPECT_EQ(probe["subject"], subject);
  }
}

// Found by fuzz/mail_header_fuzz.cpp: folding happens only before a word, so a run of
// spaces stayed on one line and made it longer than RFC 5322's 998 characters.
TEST(RenderMime, RunsOfSpacesInASubjectKeepEverySpaceWithinTheLineLimit) {
  const std::vector<std::string> subjects = {"a" + std::string(1000, ' ') + "b",
                                             std::string(1200, ' '),
                                             " leading",
                                             "trailing ",
                                             "two  spaces",
                                             std::string(70, 'w') + std::string(10, ' ')};
  for (const std::string& subject : subjects) {
    SCOPED_TRACE(subject.size());
    OutgoingMessage message = SampleMessage();
    message.subject = subject;
    Result<std::string> mime = RenderMime(message);
    ASSERT_TRUE(mime.ok()) << mime.error().ToString();
    const json probe = Probe(*mime);
    ExpectWellFormed(probe);
    EXPECT_EQ(probe["subject"], subject);
  }
}

TEST(RenderMime, ExtraHeaderValuesThatCannotFoldWithinTheLineLimitAreRefused) {
  const std::string too_long =
      "extra_headers[0].value: makes a header line longer than 998 characters (a word or a run "
      "of spaces too long to fold)";
  struct Case {
    std::string value;
    std::string expected;  // Error::ToString(), or "ok".
  };
  const std::vector<Case> cases = {
      {std::string(993, 'w'), "ok"},  // "X-A: " + 993 = 998.
      {std::string(994, 'w'), too_long},
      {"a" + std::string(1000, ' ') + "b", too_long},
      {std::string(983, 'w') + std::string(20, ' ') + "x", too_long},
      {std::string(500, 'w') + " " + std::string(500, 'v'), "ok"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value.size());
    OutgoingMessage message = SampleMessage();
    message.extra_headers = {{"X-A", c.value}};
    Result<std::string> mime = RenderMime(message);
    EXPECT_EQ(mime.ok() ? "ok" : mime.error().ToString(), c.expected);
  }
}

TEST(RenderMime, AsciiDisplayNameWithSpecialsStaysOneAddress) {
  OutgoingMessage message = SampleMessage();
  message.to.display_name = R"(Eve "admin" \ <evil@example.org>, Bob)";
  Result<std::string> mime = RenderMime(message);
  ASSERT_TRUE(mime.ok()) << mime.error().ToString();
  const json probe = Probe(*mime);
  ExpectWellFormed(probe);
  ASSERT_EQ(probe["to"].size(), 1u);
  EXPECT_EQ(probe["to"][0]["display_name"], message.to.display_name);
  EXPECT_EQ(probe["to"][0]["addr_spec"], message.to.address);
}

TEST(RenderMime, NoDisplayNameGivesTheBareAddress) {
  OutgoingMessage message = SampleMessage();
  message.to.display_name.clear();
  message.reply_to.reset();
  Result<std::string> mime = RenderMime(message);
  ASSERT_TRUE(mime.ok()) << mime.error().ToString();
  EXPECT_NE(mime->find("\r\nTo: zoe.levesque@students.example-college.ca\r\n"), std::string::npos);
  const json probe = Probe(*mime);
  ExpectWellFormed(probe);
  EXPECT_TRUE(probe["reply_to"].is_null());
}

struct InjectionCase {
  std::string label;
  std::function<void(OutgoingMessage&)> mutate;
  std::string where;
};

TEST(RenderMime, HeaderInjectionIsRefusedWithTheFieldNamed) {
  const std::vector<InjectionCase> cases = {
      {"CRLF Bcc in From name",
       [](OutgoingMessage& m) { m.from.display_name = "Zoë\r\nBcc: x@example.org"; },
       "from.display_name"},
      {"LF in To name", [](OutgoingMessage& m) { m.to.display_name = "Zoë\nBcc: x@example.org"; },
       "to.display_name"},
      {"CR in Reply-To name", [](OutgoingMessage& m) { m.reply_to->display_name = "a\rb"; },
       "reply_to.display_name"},
      {"NUL in To name", [](OutgoingMessage& m) { m.to.display_name = std::string("Zo\0e", 4); },
       "to.display_name"},
      {"tab in To name", [](OutgoingMessage& m) { m.to.display_name = "Zoë\tL"; },
       "to.display_name"},
      {"NEL (U+0085) in To name", [](OutgoingMessage& m) { m.to.display_name = "Zoë\u0085L"; },
       "to.display_name"},
      {"CRLF in subject", [](OutgoingMessage& m) { m.subject = "Hi\r\nBcc: x@example.org"; },
       "subject"},
      {"LF in subject", [](OutgoingMessage& m) { m.subject = "Hi\n"; }, "subject"},
      {"NUL in subject", [](OutgoingMessage& m) { m.subject = std::string("Hi\0", 3); }, "subject"},
      {"U+2028 in subject", [](OutgoingMessage& m) { m.subject = "Hi\u2028there"; }, "subject"},
      {"bad UTF-8 in subject", [](OutgoingMessage& m) { m.subject = "Caf\xe9"; }, "subject"},
      {"CRLF in From address",
       [](OutgoingMessage& m) { m.from.address = "a@example.org\r\nBcc: x@example.org"; },
       "from.address"},
      {"two addresses in To",
       [](OutgoingMessage& m) { m.to.address = "a@example.org, x@example.org"; }, "to.address"},
      {"space in To address", [](OutgoingMessage& m) { m.to.address = "a b@example.org"; },
       "to.address"},
      {"angle brackets in To address", [](OutgoingMessage& m) { m.to.address = "<a@example.org>"; },
       "to.address"},
      {"no domain", [](OutgoingMessage& m) { m.to.address = "zoe"; }, "to.address"},
      {"non-ASCII address", [](OutgoingMessage& m) { m.to.address = "zoë@example.org"; },
       "to.address"},
      {"Reply-To address", [](OutgoingMessage& m) { m.reply_to->address = "x@exa mple.org"; },
       "reply_to.address"},
      {"CRLF in message id", [](OutgoingMessage& m) { m.message_id = "a@b\r\nBcc: x@example.org"; },
       "message_id"},
      {"angle brackets in message id", [](OutgoingMessage& m) { m.message_id = "<a@b>"; },
       "message_id"},
      {"CRLF in extra header value",
       [](OutgoingMessage& m) {
         m.extra_headers = {{"X-A", "1\r\nBcc: x@example.org"}};
       },
       "extra_headers[0].value"},
      {"CRLF in extra header name",
       [](OutgoingMessage& m) {
         m.extra_headers = {{"X-A", "1"}, {"X-B\r\nBcc", "x@example.org"}};
       },
       "extra_headers[1].name"},
      {"colon in extra header name",
       [](OutgoingMessage& m) {
         m.extra_headers = {{"Bcc: x@example.org\r\nX-A", "1"}};
       },
       "extra_headers[0].name"},
      {"Bcc as extra header",
       [](OutgoingMessage& m) {
         m.extra_headers = {{"bcc", "x@example.org"}};
       },
       "extra_headers[0].name"},
      {"second Subject",
       [](OutgoingMessage& m) {
         m.extra_headers = {{"Subject", "x"}};
       },
       "extra_headers[0].name"},
      {"non-ASCII extra value",
       [](OutgoingMessage& m) {
         m.extra_headers = {{"X-A", "é"}};
       },
       "extra_headers[0].value"},
      {"bad UTF-8 text body", [](OutgoingMessage& m) { m.text_body = "\xff"; }, "text_body"},
      {"empty HTML body", [](OutgoingMessage& m) { m.html_body.clear(); }, "html_body"},
  };
  for (const InjectionCase& test : cases) {
    OutgoingMessage message = SampleMessage();
    test.mutate(message);
    Result<std::string> mime = RenderMime(message);
    ASSERT_FALSE(mime.ok()) << test.label << ":\n" << *mime;
    EXPECT_EQ(mime.error().code, ErrorCode::kData) << test.label;
    EXPECT_EQ(mime.error().where, test.where) << test.label << ": " << mime.error().ToString();
  }
}

TEST(RenderMime, ErrorsSayWhatIsWrong) {
  OutgoingMessage message = SampleMessage();
  message.from.display_name = "Zoë\r\nBcc: x@example.org";
  Result<std::string> mime = RenderMime(message);
  ASSERT_FALSE(mime.ok());
  EXPECT_EQ(mime.error().ToString(),
            "from.display_name: contains the control character U+000D at byte 4; header "
            "values must not carry CR, LF, NUL or other controls");
}

TEST(IsSafeHeaderValue, RefusesControlsAndLineSeparators) {
  EXPECT_TRUE(IsSafeHeaderValue(""));
  EXPECT_TRUE(IsSafeHeaderValue(kZoe + " " + kHang + " " + kAniya));
  EXPECT_FALSE(IsSafeHeaderValue("a\rb"));
  EXPECT_FALSE(IsSafeHeaderValue("a\nb"));
  EXPECT_FALSE(IsSafeHeaderValue(std::string("a\0b", 3)));
  EXPECT_FALSE(IsSafeHeaderValue("a\x7f"));
  EXPECT_FALSE(IsSafeHeaderValue("a\u0085"));
  EXPECT_FALSE(IsSafeHeaderValue("a\u2029"));
  EXPECT_FALSE(IsSafeHeaderValue("\xc0\x8a"));      // Overlong LF.
  EXPECT_FALSE(IsSafeHeaderValue("\xed\xa0\x80"));  // A surrogate.
}

TEST(EnvelopeAddress, ReturnsTheValidatedAddress) {
  Result<std::string> good = EnvelopeAddress({kZoe, "zoe@example.org"}, "to");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, "zoe@example.org");
  Result<std::string> bad = EnvelopeAddress({"", "zoe@example.org>\r\nRCPT TO:<x@y.org"}, "to");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().where, "to");
}

// The invitation as the mailer will build it: templates rendered, then RenderMime.
TEST(RenderMime, RenderedInvitationTemplatesRoundTrip) {
  Result<std::unique_ptr<MailTemplates>> templates = MailTemplates::Load(CREDD_TEMPLATES_DIR);
  ASSERT_TRUE(templates.ok()) << templates.error().ToString();
  const json values = {{"student_name", kHang},
                       {"institution", "Collège Boréal"},
                       {"documents", {{{"title", "Relevé de notes"}, {"kind", "relevé"}}}},
                       {"activation_url", "https://wallet.example.ca/activate?t=abc&x=1"},
                       {"expires_on", "28 décembre 2026"},
                       {"reply_to", "help@example-college.ca"}};
  for (const std::string locale : {"en", "fr"}) {
    Result<RenderedMail> mail = (*templates)->Render("invitation", locale, values);
    ASSERT_TRUE(mail.ok()) << mail.error().ToString();
    OutgoingMessage message = SampleMessage();
    message.subject = mail->subject;
    message.text_body = mail->text;
    message.html_body = mail->html;
    Result<std::string> mime = RenderMime(message);
    ASSERT_TRUE(mime.ok()) << mime.error().ToString();
    const json probe = Probe(*mime);
    ExpectWellFormed(probe);
    EXPECT_EQ(probe["subject"], mail->subject);
    ASSERT_EQ(probe["parts"].size(), 2u);
    EXPECT_EQ(Unix(probe["parts"][0]["body"]), mail->text);
    EXPECT_EQ(Unix(probe["parts"][1]["body"]), mail->html);
  }
}

}  // namespace
}  // namespace credd::mail
