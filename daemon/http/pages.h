// The HTML pages: templates/web/<page>.<lang>.html rendered into layout.<lang>.html with
// kainjow mustache (the email templates' library), read and checked once at start-up.
// Every {{value}} is HTML-escaped; {{{body}}} in the layout is the rendered page.
// Thread contract: immutable after Load; Render from any thread.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "daemon/http/message.h"

namespace credd::http {

class Pages {
 public:
  // Reads every *.html and the stylesheet (credd.css) under templates_dir/web/. kConfig
  // naming the file when one is unreadable or does not parse, or when a page lacks one of
  // its languages.
  static Result<std::unique_ptr<Pages>> Load(const std::string& templates_dir);

  // The page in `lang` ("en" or "fr") inside the layout. `values` is a JSON object; the
  // layout also gets lang, the other language's name and the URL that switches to it
  // (`path` with ?lang=), and `title`.
  Response Render(int status, const std::string& page, const std::string& lang,
                  const std::string& path, nlohmann::json values) const;

  const std::string& stylesheet() const { return stylesheet_; }

 private:
  std::map<std::string, std::string> sources_;  // "<page>.<lang>" -> template text.
  std::string stylesheet_;
};

}  // namespace credd::http
