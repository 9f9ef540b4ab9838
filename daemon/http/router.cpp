#include "daemon/http/router.h"

namespace credd::http {
namespace {

bool MatchPattern(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                  std::map<std::string, std::string>* params) {
  if (pattern.size() != path.size()) return false;
  std::map<std::string, std::string> found;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      found[p.substr(1, p.size() - 2)] = path[i];
    } else if (p != path[i]) {
      return false;
    }
  }
  *params = std::move(found);
  return true;
}

}  // namespace

std::vector<std::string> PathSegments(const std::string& path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

void Router::Add(Route route) { routes_.push_back(std::move(route)); }

Match Router::Find(const std::string& method, const std::string& path) const {
  Match match;
  const std::vector<std::string> segments = PathSegments(path);
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    if (!MatchPattern(PathSegments(route.pattern), segments, &params)) continue;
    if (route.method == method || (method == "HEAD" && route.method == "GET")) {
      match.route = &route;
      match.params = std::move(params);
      return match;
    }
    match.status = 405;
    if (match.allow.find(route.method) == std::string::npos) {
      match.allow += (match.allow.empty() ? "" : ", ") + route.method;
    }
  }
  return match;
}

}  // namespace credd::http
