#include "daemon/http/client_address.h"

#include <boost/system/error_code.hpp>

#include "daemon/http/message.h"

namespace credd::http {
namespace {

// IPv4-mapped IPv6 (::ffff:10.0.0.1, as a dual-stack socket reports) compares as IPv4.
boost::asio::ip::address Plain(const boost::asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

Result<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& entries) {
  TrustedProxies proxies;
  for (const std::string& raw : entries) {
    const std::string entry = std::string(TrimBlanks(raw));
    boost::system::error_code ec;
    if (entry.find('/') == std::string::npos) {
      const auto address = boost::asio::ip::make_address(entry, ec);
      if (!ec && address.is_v4()) {
        proxies.v4_.push_back(boost::asio::ip::network_v4(address.to_v4(), 32));
      } else if (!ec) {
        proxies.v6_.push_back(boost::asio::ip::network_v6(address.to_v6(), 128));
      }
    } else if (entry.find(':') == std::string::npos) {
      proxies.v4_.push_back(boost::asio::ip::make_network_v4(entry, ec));
    } else {
      proxies.v6_.push_back(boost::asio::ip::make_network_v6(entry, ec));
    }
    if (ec) {
      return MakeError(ErrorCode::kConfig,
                       "'" + entry + "' is not an address or a network (10.0.0.0/8, fd00::/8)",
                       "http.trusted_proxies");
    }
  }
  return proxies;
}

bool TrustedProxies::Contains(const boost::asio::ip::address& raw) const {
  const boost::asio::ip::address address = Plain(raw);
  if (address.is_v4()) {
    for (const auto& net : v4_) {
      if (boost::asio::ip::network_v4(address.to_v4(), net.prefix_length()).network() ==
          net.network()) {
        return true;
      }
    }
    return false;
  }
  for (const auto& net : v6_) {
    if (boost::asio::ip::network_v6(address.to_v6(), net.prefix_length()).network() ==
        net.network()) {
      return true;
    }
  }
  return false;
}

ClientView ResolveClient(const boost::asio::ip::address& peer, bool peer_tls,
                         const std::string& forwarded_for, const std::string& forwarded_proto,
                         const TrustedProxies& proxies) {
  ClientView view{Plain(peer).to_string(), peer_tls};
  if (!proxies.Contains(peer)) return view;
  const std::string proto =
      std::string(TrimBlanks(forwarded_proto.substr(0, forwarded_proto.find(','))));
  if (proto == "https") view.secure = true;
  if (proto == "http") view.secure = false;
  // Right to left: each hop appended the address it saw.
  std::size_t end = forwarded_for.size();
  while (end > 0) {
    const std::size_t comma = forwarded_for.rfind(',', end - 1);
    const std::size_t start = comma == std::string::npos ? 0 : comma + 1;
    const std::string hop = std::string(TrimBlanks(forwarded_for.substr(start, end - start)));
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(hop, ec);
    if (ec) break;
    view.address = Plain(address).to_string();
    if (!proxies.Contains(address)) break;
    if (comma == std::string::npos) break;
    end = comma;
  }
  return view;
}

}  // namespace credd::http
