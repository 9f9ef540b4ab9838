// MailTemplates: load and check every email template at start-up (so a broken one stops
// start-up or a reload, not the 3 a.m. send), then render with kainjow mustache.
#include "daemon/mail/mail_templates.h"

#include <exception>
#include <filesystem>
#include <fstream>
#include <kainjow/mustache.hpp>
#include <sstream>
#include <system_error>
#include <vector>

#include "common/mustache_json.h"
#include "daemon/mail/message.h"

namespace credd::mail {
namespace {

namespace fs = std::filesystem;
namespace mustache = kainjow::mustache;

// The text parts are not HTML: values go in verbatim. The subject is checked separately.
std::string Verbatim(const std::string& value) { return value; }

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return MakeError(ErrorCode::kConfig, "cannot read the email template", path.string());
  }
  return content.str();
}

// Parses one template to report syntax errors at load time, with the file they are in.
Status CheckSyntax(const std::string& path, const std::string& text) {
  mustache::mustache parsed{text};
  if (!parsed.is_valid()) {
    return MakeError(ErrorCode::kConfig, "bad mustache template: " + parsed.error_message(), path);
  }
  return Status::Ok();
}

Result<std::string> RenderOne(const std::string& path, const std::string& text,
                              const mustache::data& data, bool html) {
  mustache::mustache tmpl{text};
  if (!html) tmpl.set_custom_escape(Verbatim);
  std::string rendered = tmpl.render(data);
  if (!tmpl.is_valid()) {
    return MakeError(ErrorCode::kConfig, "rendering failed: " + tmpl.error_message(), path);
  }
  return rendered;
}

std::string Trim(const std::string& text) {
  constexpr const char* kSpace = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

}  // namespace

Result<std::unique_ptr<MailTemplates>> MailTemplates::Load(const std::string& templates_dir) {
  const fs::path email_dir = fs::path(templates_dir) / "email";
  std::unique_ptr<MailTemplates> templates(new MailTemplates(email_dir.string()));
  std::error_code error;
  fs::directory_iterator it(email_dir, error);
  if (error) {
    return MakeError(ErrorCode::kConfig, "cannot list the email templates: " + error.message(),
                     email_dir.string());
  }
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) break;
    const fs::path& path = it->path();
    const std::string file = path.filename().string();
    // <name>.<locale>.<part>; anything else (README.md, editor backups) is not a template.
    const std::size_t last_dot = file.rfind('.');
    const std::size_t first_dot = file.find('.');
    if (first_dot == 0 || last_dot == std::string::npos || first_dot == last_dot ||
        file.find('.', first_dot + 1) != last_dot) {
      continue;
    }
    const std::string part = file.substr(last_dot + 1);
    if (part != "subject" && part != "txt" && part != "html") continue;
    Result<std::string> text = ReadFile(path);
    if (!text) return text.error();
    // Template text may hold line breaks and tabs, so only those controls are allowed.
    std::string without_breaks = *text;
    for (char& c : without_breaks) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    if (!IsSafeHeaderValue(without_breaks)) {
      return MakeError(ErrorCode::kConfig,
                       "is not UTF-8 or holds control characters other than line breaks",
                       path.string());
    }
    if (Status status = CheckSyntax(path.string(), *text); !status) return status.error();
    TemplateSet& set = templates->sets_[file.substr(0, last_dot)];
    Source& source = part == "subject" ? set.subject : part == "txt" ? set.text : set.html;
    source = Source{path.string(), std::move(*text)};
  }
  if (error) {
    return MakeError(ErrorCode::kConfig, "cannot list the email templates: " + error.message(),
                     email_dir.string());
  }
  for (const auto& [key, set] : templates->sets_) {
    for (const auto& [source, part] : {std::pair{&set.subject, "subject"},
                                       std::pair{&set.text, "txt"}, std::pair{&set.html, "html"}}) {
      if (source->path.empty()) {
        return MakeError(ErrorCode::kConfig,
                         "missing: every email template needs .subject, .txt and .html",
                         (email_dir / (key + "." + part)).string());
      }
    }
  }
  return templates;
}

Result<RenderedMail> MailTemplates::Render(const std::string& name, const std::string& locale,
                                           const nlohmann::json& values) const {
  const auto found = sets_.find(name + "." + locale);
  if (found == sets_.end()) {
    return MakeError(ErrorCode::kConfig,
                     "no email template '" + name + "' for locale '" + locale + "'",
                     (fs::path(email_dir_) / (name + "." + locale + ".subject")).string());
  }
  if (!values.is_object()) {
    return MakeError(ErrorCode::kUsage, "template values must be a JSON object", name);
  }
  const TemplateSet& set = found->second;
  // kainjow mustache reports errors through is_valid(), but it allocates and may throw
  // std::bad_alloc or nlohmann's type errors; nothing may leave the module as an exception.
  try {
    const mustache::data data = ToMustache(values);
    Result<std::string> subject = RenderOne(set.subject.path, set.subject.text, data, false);
    if (!subject) return subject.error();
    Result<std::string> text = RenderOne(set.text.path, set.text.text, data, false);
    if (!text) return text.error();
    Result<std::string> html = RenderOne(set.html.path, set.html.text, data, true);
    if (!html) return html.error();

    RenderedMail mail{Trim(*subject), std::move(*text), std::move(*html)};
    if (mail.subject.find_first_of("\r\n") != std::string::npos) {
      return MakeError(ErrorCode::kData, "the rendered subject spans several lines",
                       set.subject.path);
    }
    if (!IsSafeHeaderValue(mail.subject)) {
      return MakeError(ErrorCode::kData,
                       "the rendered subject holds a control character or invalid UTF-8",
                       set.subject.path);
    }
    return mail;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("rendering failed: ") + e.what(),
                     set.subject.path);
  }
}

}  // namespace credd::mail
