#include "daemon/http/pages.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/mustache_json.h"

namespace credd::http {
namespace {

namespace fs = std::filesystem;
namespace mustache = kainjow::mustache;

Result<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kConfig, "cannot read the page template", path.string());
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string RenderText(const std::string& text, const mustache::data& data) {
  mustache::mustache tmpl{text};
  std::string out = tmpl.render(data);
  return tmpl.is_valid() ? out : std::string();
}

}  // namespace

Result<std::unique_ptr<Pages>> Pages::Load(const std::string& templates_dir) {
  const fs::path dir = fs::path(templates_dir) / "web";
  auto pages = std::make_unique<Pages>();
  std::error_code error;
  std::set<std::string> names;
  for (fs::directory_iterator it(dir, error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    const fs::path path = it->path();
    if (path.extension() != ".html") continue;
    auto text = ReadText(path);
    if (!text) return text.error();
    mustache::mustache parsed{*text};
    if (!parsed.is_valid()) {
      return MakeError(ErrorCode::kConfig, "bad mustache template: " + parsed.error_message(),
                       path.string());
    }
    const std::string stem = path.stem().string();  // "verify.en"
    pages->sources_[stem] = std::move(*text);
    names.insert(stem.substr(0, stem.rfind('.')));
  }
  if (error) {
    return MakeError(ErrorCode::kConfig, "cannot list the page templates: " + error.message(),
                     dir.string());
  }
  for (const std::string& name : names) {
    for (const char* lang : {"en", "fr"}) {
      if (!pages->sources_.count(name + "." + lang)) {
        return MakeError(ErrorCode::kConfig, "page '" + name + "' has no " + lang + " version",
                         (dir / (name + "." + lang + ".html")).string());
      }
    }
  }
  if (!names.count("layout")) {
    return MakeError(ErrorCode::kConfig, "no layout page", (dir / "layout.en.html").string());
  }
  auto css = ReadText(dir / "credd.css");
  if (!css) return css.error();
  pages->stylesheet_ = std::move(*css);
  return pages;
}

Response Pages::Render(int status, const std::string& page, const std::string& lang,
                       const std::string& path, nlohmann::json values) const {
  const std::string other = lang == "fr" ? "en" : "fr";
  values["lang"] = lang;
  values["other_lang"] = other;
  values["other_lang_name"] = other == "fr" ? "Français" : "English";
  // `path` may carry a query of its own ("/activate?token=x&"): the switch keeps it.
  const char* join = path.find('?') == std::string::npos          ? "?"
                     : path.ends_with('?') || path.ends_with('&') ? ""
                                                                  : "&";
  values["switch_url"] = path + join + "lang=" + other;
  auto body = sources_.find(page + "." + lang);
  auto layout = sources_.find("layout." + lang);
  if (body == sources_.end() || layout == sources_.end()) {
    return Response::Text(500, "internal error: no page " + page + "\n");
  }
  mustache::data data = ToMustache(values);
  data.set("body", RenderText(body->second, data));
  Response response = Response::Html(status, RenderText(layout->second, data));
  response.headers.emplace_back("Content-Language", lang);
  response.headers.emplace_back("Vary", "Accept-Language");
  return response;
}

}  // namespace credd::http
