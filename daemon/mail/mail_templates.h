// The email templates (templates/email/<name>.<locale>.{subject,txt,html}), read and parsed
// once, rendered with mustache per message. Thread contract: after Load, a MailTemplates is
// immutable and Render may be called from several threads at once.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "common/result.h"

namespace credd::mail {

struct RenderedMail {
  std::string subject;  // One line, trimmed, safe for a header (see IsSafeHeaderValue).
  std::string text;     // The text/plain body: values inserted verbatim.
  std::string html;     // The text/html body: every {{value}} HTML-escaped.
};

class MailTemplates {
 public:
  // Reads every <name>.<locale>.{subject,txt,html} under templates_dir/email/ (other files
  // are ignored). kConfig naming the file when one is unreadable, not UTF-8, fails to parse,
  // or a name/locale pair lacks one of its three files; kConfig when the folder is missing.
  static Result<std::unique_ptr<MailTemplates>> Load(const std::string& templates_dir);

  // values: a JSON object; strings, numbers, booleans, nested objects and arrays (for
  // {{#documents}}...{{/documents}}) as mustache expects. kConfig naming the expected path
  // when the template or locale does not exist; kData when the rendered subject is not one
  // safe header line; kUsage when values is not an object.
  Result<RenderedMail> Render(const std::string& name, const std::string& locale,
                              const nlohmann::json& values) const;

 private:
  struct Source {
    std::string path;
    std::string text;
  };
  struct TemplateSet {
    Source subject;
    Source text;
    Source html;
  };

  explicit MailTemplates(std::string email_dir) : email_dir_(std::move(email_dir)) {}

  std::string email_dir_;
  std::map<std::string, TemplateSet> sets_;  // Keyed by "<name>.<locale>".
};

}  // namespace credd::mail
