// Tests for MailTemplates: the shipped templates in EN and FR with sample values (the
// optional blocks with and without their values), HTML escaping in the HTML part only, and
// the configuration errors (missing, broken templates).
#include "daemon/mail/mail_templates.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace credd::mail {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json SampleValues() {
  return {{"student_name", "Nguyễn Thị Hằng"},
          {"institution", "Collège Boréal"},
          {"documents",
           {{{"title", "Relevé de notes officiel"}, {"kind", "relevé"}},
            {{"title", "Diplôme d'études collégiales"}, {"kind", "diplôme"}}}},
          {"activation_url", "https://wallet.example.ca/activate/4f9c2a"},
          {"portfolio_url", "https://wallet.example.ca/portfolio"},
          {"expires_on", "2026-12-28"},
          {"reply_to", "registrariat@example-college.ca"},
          {"reminder_number", 2}};
}

std::unique_ptr<MailTemplates> LoadShipped() {
  Result<std::unique_ptr<MailTemplates>> templates = MailTemplates::Load(CREDD_TEMPLATES_DIR);
  EXPECT_TRUE(templates.ok()) << templates.error().ToString();
  return templates.ok() ? std::move(*templates) : nullptr;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A per-test templates folder holding email/<file> with the given content.
class TemplateDir {
 public:
  TemplateDir() {
    static int counter = 0;
    root_ = fs::path(testing::TempDir()) /
            ("mail-templates-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
    fs::create_directories(root_ / "email");
  }
  ~TemplateDir() { fs::remove_all(root_); }
  void Write(const std::string& file, const std::string& content) {
    std::ofstream(root_ / "email" / file, std::ios::binary) << content;
  }
  std::string root() const { return root_.string(); }
  std::string Path(const std::string& file) const { return (root_ / "email" / file).string(); }

 private:
  fs::path root_;
};

TEST(MailTemplates, EveryShippedTemplateRendersInEnglishAndFrench) {
  std::unique_ptr<MailTemplates> templates = LoadShipped();
  ASSERT_NE(templates, nullptr);
  const json values = SampleValues();
  for (const std::string name : {"invitation", "reminder", "notice"}) {
    for (const std::string locale : {"en", "fr"}) {
      SCOPED_TRACE(name + "." + locale);
      Result<RenderedMail> mail = templates->Render(name, locale, values);
      ASSERT_TRUE(mail.ok()) << mail.error().ToString();
      EXPECT_FALSE(mail->subject.empty());
      EXPECT_EQ(mail->subject.find('\n'), std::string::npos);
      EXPECT_TRUE(Contains(mail->subject, "Collège Boréal")) << mail->subject;
      for (const std::string* body : {&mail->text, &mail->html}) {
        EXPECT_TRUE(Contains(*body, "Nguyễn Thị Hằng"));
        EXPECT_TRUE(Contains(*body, "Relevé de notes officiel (relevé)"));
        EXPECT_TRUE(Contains(*body, "registrariat@example-college.ca"));
        EXPECT_FALSE(Contains(*body, "{{")) << "an unrendered tag";
      }
      const std::string url = name == "notice" ? "https://wallet.example.ca/portfolio"
                                               : "https://wallet.example.ca/activate/4f9c2a";
      EXPECT_TRUE(Contains(mail->text, url));
      EXPECT_TRUE(Contains(mail->html, "href=\"" + url + "\""));
      if (name != "notice") {
        EXPECT_TRUE(Contains(mail->text, "2026-12-28"));
      }
      if (name == "reminder") {
        EXPECT_TRUE(Contains(mail->subject, "2")) << mail->subject;
      }
      EXPECT_TRUE(Contains(mail->text, locale == "en" ? "password" : "mot de passe"));
      EXPECT_TRUE(Contains(mail->html, locale == "en" ? "lang=\"en\"" : "lang=\"fr-CA\""));
      // The HTML part never pulls anything from the network.
      EXPECT_FALSE(Contains(mail->html, "<img"));
      EXPECT_FALSE(Contains(mail->html, "<script"));
      EXPECT_FALSE(Contains(mail->html, "src="));
    }
  }
}

// The values each of the account and sharing templates is documented to take
// (templates/email/README.md), and what each rendered part must show of them.
struct AccountTemplateCase {
  std::string name;
  json values;
  std::vector<std::string> shown;               // In the text and HTML parts, every locale.
  std::vector<std::string> shown_en, shown_fr;  // Likewise, per locale.
  std::string url;                              // The main link: in the text, and as href.
};

std::vector<AccountTemplateCase> AccountTemplateCases() {
  const json base = SampleValues();
  AccountTemplateCase share{
      "share",
      {{"student_name", base["student_name"]},
       {"institution", base["institution"]},
       {"documents", base["documents"]},
       {"share_url", "https://wallet.example.ca/s/Qm9yZWFs"},
       {"expires_on", "2026-08-31"},
       {"verify_url", "https://verify.example-college.ca/verify"}},
      {"Nguyễn Thị Hằng", "Collège Boréal", "Relevé de notes officiel (relevé)",
       "https://wallet.example.ca/s/Qm9yZWFs", "2026-08-31",
       "https://verify.example-college.ca/verify"},
      {},
      {},
      "https://wallet.example.ca/s/Qm9yZWFs"};
  AccountTemplateCase confirm{"email_confirm",
                              {{"student_name", base["student_name"]},
                               {"institution", base["institution"]},
                               {"address", "hang.nguyen@example.org"},
                               {"confirm_url", "https://wallet.example.ca/confirm/8d1e"},
                               {"expires_in_hours", 48}},
                              {"Nguyễn Thị Hằng", "Collège Boréal", "hang.nguyen@example.org",
                               "https://wallet.example.ca/confirm/8d1e"},
                              {"48 hours"},
                              {"48 heures"},
                              "https://wallet.example.ca/confirm/8d1e"};
  AccountTemplateCase reset{
      "password_reset",
      {{"student_name", base["student_name"]},
       {"institution", base["institution"]},
       {"reset_url", "https://wallet.example.ca/reset/c03b"},
       {"expires_in_minutes", 30}},
      {"Nguyễn Thị Hằng", "Collège Boréal", "https://wallet.example.ca/reset/c03b"},
      {"30 minutes"},
      {"30 minutes"},
      "https://wallet.example.ca/reset/c03b"};
  return {share, confirm, reset};
}

TEST(MailTemplates, AccountAndSharingTemplatesShowEveryValueInEnglishAndFrench) {
  std::unique_ptr<MailTemplates> templates = LoadShipped();
  ASSERT_NE(templates, nullptr);
  for (const AccountTemplateCase& test : AccountTemplateCases()) {
    for (const std::string locale : {"en", "fr"}) {
      SCOPED_TRACE(test.name + "." + locale);
      Result<RenderedMail> mail = templates->Render(test.name, locale, test.values);
      ASSERT_TRUE(mail.ok()) << mail.error().ToString();
      EXPECT_FALSE(mail->subject.empty());
      EXPECT_TRUE(Contains(mail->subject, "Collège Boréal")) << mail->subject;
      std::vector<std::string> shown = test.shown;
      for (const std::string& value : locale == "en" ? test.shown_en : test.shown_fr) {
        shown.push_back(value);
      }
      for (const std::string* body : {&mail->text, &mail->html}) {
        for (const std::string& value : shown) {
          EXPECT_TRUE(Contains(*body, value)) << value << " missing from:\n" << *body;
        }
        EXPECT_TRUE(Contains(*body, locale == "en" ? "password" : "mot de passe"));
        EXPECT_FALSE(Contains(*body, "{{")) << "an unrendered tag";
      }
      EXPECT_TRUE(Contains(mail->text, test.url));
      EXPECT_TRUE(Contains(mail->html, "href=\"" + test.url + "\""));
      EXPECT_FALSE(Contains(mail->text, "\n\n\n")) << mail->text;
      EXPECT_TRUE(Contains(mail->html, locale == "en" ? "lang=\"en\"" : "lang=\"fr-CA\""));
      EXPECT_FALSE(Contains(mail->html, "<img"));
      EXPECT_FALSE(Contains(mail->html, "<script"));
      EXPECT_FALSE(Contains(mail->html, "src="));
    }
  }
  // The share email is for someone who may not know the student: it names them in its subject.
  for (const std::string locale : {"en", "fr"}) {
    Result<RenderedMail> mail =
        templates->Render("share", locale, AccountTemplateCases()[0].values);
    ASSERT_TRUE(mail.ok()) << mail.error().ToString();
    EXPECT_TRUE(Contains(mail->subject, "Nguyễn Thị Hằng")) << mail->subject;
  }
}

TEST(MailTemplates, ShareShowsTheStudentsNoteOnlyWhenGivenAndEscapesItInHtml) {
  std::unique_ptr<MailTemplates> templates = LoadShipped();
  ASSERT_NE(templates, nullptr);
  const json without_note = AccountTemplateCases()[0].values;
  const json null_note = [&] {
    json values = without_note;
    values["note"] = nullptr;
    return values;
  }();
  for (const std::string locale : {"en", "fr"}) {
    SCOPED_TRACE(locale);
    const std::string heading = locale == "en" ? "Their note" : "Son message";
    for (const json* values : {&without_note, &null_note}) {
      Result<RenderedMail> mail = templates->Render("share", locale, *values);
      ASSERT_TRUE(mail.ok()) << mail.error().ToString();
      EXPECT_FALSE(Contains(mail->text, heading)) << mail->text;
      EXPECT_FALSE(Contains(mail->html, heading));
      EXPECT_FALSE(Contains(mail->html, "<blockquote"));
      EXPECT_FALSE(Contains(mail->text, "\n\n\n")) << mail->text;
    }
    json with_note = without_note;
    with_note["note"] = "<b>x</b>";
    Result<RenderedMail> mail = templates->Render("share", locale, with_note);
    ASSERT_TRUE(mail.ok()) << mail.error().ToString();
    EXPECT_TRUE(Contains(mail->text, heading)) << mail->text;
    EXPECT_TRUE(Contains(mail->text, "<b>x</b>"));
    EXPECT_FALSE(Contains(mail->text, "\n\n\n")) << mail->text;
    EXPECT_TRUE(Contains(mail->html, heading));
    EXPECT_TRUE(Contains(mail->html, "&lt;b&gt;x&lt;/b&gt;"));
    EXPECT_FALSE(Contains(mail->html, "<b>x</b>"));
  }
}

TEST(MailTemplates, InvitationAndReminderShowTheAccessCodeOnlyWhenGiven) {
  std::unique_ptr<MailTemplates> templates = LoadShipped();
  ASSERT_NE(templates, nullptr);
  const json without_code = SampleValues();
  json with_code = without_code;
  with_code["access_code"] = "K7M-4QP9";
  with_code["code_url"] = "https://wallet.example.ca/code";
  for (const std::string name : {"invitation", "reminder"}) {
    for (const std::string locale : {"en", "fr"}) {
      SCOPED_TRACE(name + "." + locale);
      const std::string phrase = locale == "en" ? "access code" : "code d'accès";
      Result<RenderedMail> plain = templates->Render(name, locale, without_code);
      ASSERT_TRUE(plain.ok()) << plain.error().ToString();
      Result<RenderedMail> coded = templates->Render(name, locale, with_code);
      ASSERT_TRUE(coded.ok()) << coded.error().ToString();
      EXPECT_EQ(plain->subject, coded->subject);
      for (const RenderedMail* mail : {&*plain, &*coded}) {
        for (const std::string* body : {&mail->text, &mail->html}) {
          EXPECT_TRUE(Contains(*body, "https://wallet.example.ca/activate/4f9c2a"));
          EXPECT_TRUE(Contains(*body, "Nguyễn Thị Hằng"));
          EXPECT_FALSE(Contains(*body, "{{")) << "an unrendered tag";
        }
        EXPECT_TRUE(Contains(mail->text, "2026-12-28"));
        EXPECT_FALSE(Contains(mail->text, "\n\n\n")) << mail->text;
      }
      for (const std::string* body : {&plain->text, &plain->html}) {
        EXPECT_FALSE(Contains(*body, phrase)) << *body;
        EXPECT_FALSE(Contains(*body, "https://wallet.example.ca/code"));
      }
      for (const std::string* body : {&coded->text, &coded->html}) {
        EXPECT_TRUE(Contains(*body, phrase)) << *body;
        EXPECT_TRUE(Contains(*body, "K7M-4QP9"));
        EXPECT_TRUE(Contains(*body, "https://wallet.example.ca/code"));
      }
      EXPECT_TRUE(Contains(coded->html, "href=\"https://wallet.example.ca/code\""));
      // Shown on its own in a monospace box, so that it is easy to read and type.
      EXPECT_TRUE(Contains(coded->html, "monospace"));
      EXPECT_TRUE(Contains(coded->html, ">K7M-4QP9</span>"));
      // The code comes after the activation link.
      EXPECT_LT(coded->text.find("https://wallet.example.ca/activate/4f9c2a"),
                coded->text.find("K7M-4QP9"));
    }
  }
}

TEST(MailTemplates, HtmlPartEscapesValuesAndTextPartKeepsThem) {
  std::unique_ptr<MailTemplates> templates = LoadShipped();
  ASSERT_NE(templates, nullptr);
  json values = SampleValues();
  values["documents"] = {{{"title", "<script>alert(1)</script> & co"}, {"kind", "\"x\" 'y'"}}};
  values["institution"] = "Smith & Jones <College>";
  Result<RenderedMail> mail = templates->Render("invitation", "en", values);
  ASSERT_TRUE(mail.ok()) << mail.error().ToString();
  EXPECT_TRUE(Contains(mail->text, "<script>alert(1)</script> & co (\"x\" 'y')"));
  EXPECT_TRUE(Contains(mail->html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
  EXPECT_TRUE(Contains(mail->html, "&quot;x&quot; &apos;y&apos;"));
  EXPECT_FALSE(Contains(mail->html, "<script>"));
  EXPECT_TRUE(Contains(mail->subject, "Smith & Jones <College>")) << mail->subject;
  EXPECT_TRUE(Contains(mail->html, "Smith &amp; Jones &lt;College&gt;"));
}

TEST(MailTemplates, ASubjectValueWithALineBreakIsRefused) {
  std::unique_ptr<MailTemplates> templates = LoadShipped();
  ASSERT_NE(templates, nullptr);
  json values = SampleValues();
  values["institution"] = "Collège\r\nBcc: x@example.org";
  Result<RenderedMail> mail = templates->Render("invitation", "en", values);
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.error().code, ErrorCode::kData);
  EXPECT_EQ(mail.error().where, std::string(CREDD_TEMPLATES_DIR) + "/email/invitation.en.subject");
}

TEST(MailTemplates, MissingLocaleOrTemplateIsAConfigErrorNamingThePath) {
  std::unique_ptr<MailTemplates> templates = LoadShipped();
  ASSERT_NE(templates, nullptr);
  Result<RenderedMail> mail = templates->Render("invitation", "de", SampleValues());
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.error().code, ErrorCode::kConfig);
  EXPECT_EQ(mail.error().ToString(), std::string(CREDD_TEMPLATES_DIR) +
                                         "/email/invitation.de.subject: no email template "
                                         "'invitation' for locale 'de'");
  Result<RenderedMail> unknown = templates->Render("farewell", "en", SampleValues());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().where, std::string(CREDD_TEMPLATES_DIR) + "/email/farewell.en.subject");
}

TEST(MailTemplates, ValuesMustBeAnObject) {
  std::unique_ptr<MailTemplates> templates = LoadShipped();
  ASSERT_NE(templates, nullptr);
  Result<RenderedMail> mail = templates->Render("invitation", "en", json::array());
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.error().code, ErrorCode::kUsage);
}

TEST(MailTemplates, LoadErrorsNameTheFile) {
  {
    TemplateDir dir;
    dir.Write("hello.en.subject", "Hi {{name}}\n");
    dir.Write("hello.en.txt", "{{#items}}never closed\n");
    dir.Write("hello.en.html", "<p>{{name}}</p>\n");
    Result<std::unique_ptr<MailTemplates>> loaded = MailTemplates::Load(dir.root());
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().code, ErrorCode::kConfig);
    EXPECT_EQ(loaded.error().where, dir.Path("hello.en.txt"));
    EXPECT_TRUE(Contains(loaded.error().message, "bad mustache template"))
        << loaded.error().message;
  }
  {
    TemplateDir dir;
    dir.Write("hello.en.subject", "Hi {{name}}\n");
    dir.Write("hello.en.txt", "Hi {{name}}\n");
    dir.Write("README.md", "not a template\n");
    Result<std::unique_ptr<MailTemplates>> loaded = MailTemplates::Load(dir.root());
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().code, ErrorCode::kConfig);
    EXPECT_EQ(loaded.error().where, dir.Path("hello.en.html"));
  }
  {
    TemplateDir dir;
    dir.Write("hello.en.subject", "Hi \xff\n");
    Result<std::unique_ptr<MailTemplates>> loaded = MailTemplates::Load(dir.root());
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().where, dir.Path("hello.en.subject"));
  }
  Result<std::unique_ptr<MailTemplates>> missing = MailTemplates::Load("/nonexistent/credd");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kConfig);
  EXPECT_EQ(missing.error().where, "/nonexistent/credd/email");
}

TEST(MailTemplates, MultiLineSubjectTemplateIsRefusedAtRender) {
  TemplateDir dir;
  dir.Write("hello.en.subject", "Hi\n{{name}}\n");
  dir.Write("hello.en.txt", "Hi {{name}}\n");
  dir.Write("hello.en.html", "<p>{{name}}</p>\n");
  Result<std::unique_ptr<MailTemplates>> loaded = MailTemplates::Load(dir.root());
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  Result<RenderedMail> mail = (*loaded)->Render("hello", "en", {{"name", "Zoë"}});
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.error().where, dir.Path("hello.en.subject"));
}

}  // namespace
}  // namespace credd::mail
