// Who the client is: the peer's address, unless the peer is one of http.trusted_proxies,
// whose X-Forwarded-For and X-Forwarded-Proto are then believed (and nobody else's, since
// any client can send those headers).
// Thread contract: immutable after construction; shared freely.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace credd::http {

class TrustedProxies {
 public:
  TrustedProxies() = default;
  // Each entry an address or a network: "127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8".
  // kConfig naming the entry that does not parse.
  static Result<TrustedProxies> Parse(const std::vector<std::string>& entries);

  bool Contains(const boost::asio::ip::address& address) const;
  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

struct ClientView {
  std::string address;  // As text, e.g. "203.0.113.7".
  bool secure = false;  // HTTPS from the client's side.
};

// The client behind `peer`. For a trusted peer, X-Forwarded-For is read from the right,
// skipping trusted proxies: the first address that is not one is the client (a client may
// put anything at the left). A malformed entry stops the walk at the last good address.
ClientView ResolveClient(const boost::asio::ip::address& peer, bool peer_tls,
                         const std::string& forwarded_for, const std::string& forwarded_proto,
                         const TrustedProxies& proxies);

}  // namespace credd::http
