// The table of routes: method, a path pattern with {name} segments, the body each may
// carry, whether the per-client request limit applies, and the handler. The server asks
// it twice per request: once on the header (to choose the body limit and the rate limit
// before reading a byte of body), and once to run the handler.
// Thread contract: Add before the server starts; Match from any thread afterwards.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "daemon/http/message.h"

namespace credd::http {

using Handler = std::function<Response(const Request&)>;

inline constexpr std::size_t kSmallBody = 64 * 1024;  // Forms and JSON.

struct Route {
  std::string method;   // "GET" also answers HEAD.
  std::string pattern;  // "/verify/{document_id}"; also the route's label in metrics.
  Handler handler;
  std::size_t body_limit = kSmallBody;  // Bytes; 413 beyond.
  bool rate_limited = true;             // Counted against the client's requests per minute.
};

struct Match {
  const Route* route = nullptr;  // Null when nothing matched.
  std::map<std::string, std::string> params;
  // When nothing matched: 404, or 405 when the path exists for other methods (with them).
  int status = 404;
  std::string allow;
};

class Router {
 public:
  void Add(Route route);
  Match Find(const std::string& method, const std::string& path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// "/a/b/" -> {"a", "b"}; empty segments are dropped.
std::vector<std::string> PathSegments(const std::string& path);

}  // namespace credd::http
