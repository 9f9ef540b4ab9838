#include "daemon/http/http_server.h"

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "daemon/http/rate_limiter.h"

namespace credd::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

// A connection, as the server sees it for shutdown.
class Connection {
 public:
  virtual ~Connection() = default;
  // Closes the connection if it is waiting for a request (not while one is handled).
  virtual void CloseIfIdle() = 0;
  virtual void Close() = 0;
};

struct HttpServer::State {
  State(ServerOptions o, const Router& r, Logger& l, ServerMetrics m)
      : options(std::move(o)),
        router(r),
        log(l),
        metrics(m),
        limiter(options.requests_per_minute, *options.clock),
        handlers(static_cast<std::size_t>(std::max(1, options.handler_threads))),
        acceptor(io) {}

  ServerOptions options;
  const Router& router;
  Logger& log;
  ServerMetrics metrics;
  RateLimiter limiter;
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  net::thread_pool handlers;
  std::optional<net::ssl::context> tls;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};

  std::mutex mu;  // Guards the two maps; cv signals that a connection ended.
  std::condition_variable ended;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;
  std::unordered_map<std::string, std::size_t> per_peer;

  void Refused(const char* reason) {
    if (metrics.refused != nullptr) metrics.refused->With({reason}).Add();
  }
  // Counts a new connection from `peer`; false when a limit says no.
  bool Admit(const std::string& peer, bool trusted) {
    std::lock_guard lock(mu);
    if (connections.size() >= options.max_connections) {
      Refused("max_connections");
      return false;
    }
    if (!trusted && per_peer[peer] >= options.max_connections_per_client) {
      Refused("max_connections_per_client");
      return false;
    }
    ++per_peer[peer];
    return true;
  }
  void Register(Connection* c, std::weak_ptr<Connection> weak) {
    std::lock_guard lock(mu);
    connections.emplace(c, std::move(weak));
  }
  void Unregister(Connection* c, const std::string& peer) {
    std::lock_guard lock(mu);
    connections.erase(c);
    if (auto it = per_peer.find(peer); it != per_peer.end() && --it->second == 0) {
      per_peer.erase(it);
    }
    ended.notify_all();
  }
};

namespace {

const char* const kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// The headers every response carries. Pages use only same-origin styles and no scripts,
// so the policy can say so.
void AddSecurityHeaders(bhttp::response<bhttp::string_body>& res, bool secure) {
  res.set("Content-Security-Policy",
          "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
          "base-uri 'none'; frame-ancestors 'none'");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  if (secure) res.set(bhttp::field::strict_transport_security, "max-age=31536000");
}

template <typename Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <typename... Args>
  Session(std::shared_ptr<HttpServer::State> state, std::string peer, net::ip::address peer_ip,
          tcp::socket socket, Args&&... args)
      : state_(std::move(state)),
        peer_(std::move(peer)),
        peer_ip_(peer_ip),
        stream_(std::move(socket), std::forward<Args>(args)...) {}

  ~Session() override { state_->Unregister(this, peer_); }

  void Start() {
    state_->Register(this, this->shared_from_this());
    if constexpr (kTls) {
      Lowest().expires_after(state_->options.handshake_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->CloseNow();
                                self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

  void CloseIfIdle() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->CloseNow();
    });
  }

  void Close() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->CloseNow(); });
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // On the connection's strand only.
  void CloseNow() {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }
  const ServerOptions& Options() const { return state_->options; }

  void ReadHeader() {
    if (state_->stopping) return CloseNow();
    idle_ = true;
    unread_body_ = false;
    header_.emplace();
    header_->header_limit(static_cast<std::uint32_t>(Options().header_limit));
    // The route's limit is applied once the route is known (OnHeader); Beast's default
    // would refuse a large Content-Length before we could answer 413.
    header_->body_limit(std::numeric_limits<std::uint64_t>::max());
    Lowest().expires_after(first_ ? Options().header_timeout : Options().idle_timeout);
    first_ = false;
    bhttp::async_read_header(stream_, buffer_, *header_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               self->OnHeader(ec);
                             });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    if (ec == bhttp::error::header_limit) {
      return Refuse("header_limit", 431, "request header too large\n");
    }
    if (ec) {
      state_->log.Debug("http.read_ended", {{"peer", peer_}, {"reason", ec.message()}});
      return CloseNow();
    }
    started_ = Options().clock->Steady();
    const auto& head = header_->get();
    request_ = Request{};
    request_.method = std::string(head.method_string());
    const std::string target(head.target());
    const std::size_t question = target.find('?');
    if (!PercentDecode(target.substr(0, question), false, &request_.path) ||
        request_.path.empty() || request_.path.front() != '/') {
      return Early(400, "malformed request target\n");
    }
    if (question != std::string::npos) request_.query = target.substr(question + 1);
    for (const auto& field : head) {
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    const ClientView client =
        ResolveClient(peer_ip_, kTls, request_.Header("X-Forwarded-For"),
                      request_.Header("X-Forwarded-Proto"), Options().trusted_proxies);
    request_.client = client.address;
    request_.secure = client.secure;
    request_.via_trusted_proxy = Options().trusted_proxies.Contains(peer_ip_);
    keep_alive_ = head.keep_alive();

    match_ = state_->router.Find(request_.method, request_.path);
    route_label_ = match_.route != nullptr ? match_.route->pattern : "unmatched";
    if (match_.route == nullptr) {
      Response res = Response::Text(match_.status,
                                    match_.status == 405 ? "method not allowed\n" : "not found\n");
      if (!match_.allow.empty()) res.headers.emplace_back("Allow", match_.allow);
      return EarlyResponse(std::move(res));
    }
    request_.params = match_.params;
    if (match_.route->rate_limited) {
      if (int wait = state_->limiter.Take(request_.client); wait > 0) {
        state_->Refused("rate_limit");
        Response res = Response::Text(429, "too many requests; try again later\n");
        res.headers.emplace_back("Retry-After", std::to_string(wait));
        return EarlyResponse(std::move(res));
      }
    }
    const auto length = header_->content_length();
    if (length && *length > match_.route->body_limit) {
      return Refuse("body_limit", 413, "request body too large\n");
    }
    const auto expect = head[bhttp::field::expect];
    if (EqualsIgnoringCase(std::string_view(expect.data(), expect.size()), "100-continue")) {
      Lowest().expires_after(Options().write_timeout);
      return net::async_write(stream_, net::buffer(kContinue, std::strlen(kContinue)),
                              [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                                if (e) return self->CloseNow();
                                self->ReadBody();
                              });
    }
    ReadBody();
  }

  void ReadBody() {
    body_.emplace(std::move(*header_));
    body_->body_limit(match_.route->body_limit);
    Lowest().expires_after(Options().body_timeout);
    bhttp::async_read(
        stream_, buffer_, *body_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      return Refuse("body_limit", 413, "request body too large\n");
    }
    if (ec) {
      state_->log.Debug("http.body_failed", {{"peer", peer_}, {"reason", ec.message()}});
      return CloseNow();
    }
    request_.body = std::move(body_->get().body());
    body_.reset();
    Lowest().expires_never();  // The handler's time is not the client's to spend.
    net::post(state_->handlers, [self = this->shared_from_this()] {
      Response res = self->RunHandler();
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->Write(std::move(res), false); });
    });
  }

  Response RunHandler() {
    try {
      return match_.route->handler(request_);
    } catch (const std::exception& e) {
      state_->log.Error("http.handler_failed", {{"route", route_label_}, {"error", e.what()}});
      return Response::Text(500, "internal error\n");
    }
  }

  // An answer before (or instead of) reading the body: the connection closes afterwards
  // unless the request had no body, since the unread body would be taken for the next
  // request.
  void Early(int status, std::string text) {
    EarlyResponse(Response::Text(status, std::move(text)));
  }
  // A limit said no: counted under its name, and answered early.
  void Refuse(const char* limit, int status, std::string text) {
    state_->Refused(limit);
    Early(status, std::move(text));
  }
  void EarlyResponse(Response res) {
    bool body_pending = true;
    if (header_ && header_->is_header_done()) {
      const auto length = header_->content_length();
      body_pending = header_->chunked() || (length && *length > 0);
    }
    unread_body_ = body_pending;
    Write(std::move(res), body_pending);
  }

  // After answering without reading the body: stop sending, and read and drop what the
  // client is still sending for a moment, so that closing does not reset the connection
  // (and lose the answer) while the client is still uploading.
  void Drain() {
    if constexpr (kTls) {
      CloseNow();
    } else {
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      Lowest().expires_after(std::chrono::seconds(2));
      DrainSome();
    }
  }
  void DrainSome() {
    Lowest().async_read_some(net::buffer(drain_), [self = this->shared_from_this()](
                                                      beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > (1u << 20)) return self->CloseNow();
      self->DrainSome();
    });
  }

  void Write(Response res, bool close_after) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(res.status));
    response_.set(bhttp::field::server, "credd");
    response_.set(bhttp::field::content_type, res.content_type);
    response_.set(bhttp::field::cache_control, "no-store");
    for (auto& [name, value] : res.headers) response_.set(name, value);
    AddSecurityHeaders(response_, request_.secure || kTls);
    response_.body() = std::move(res.body);
    response_.keep_alive(keep_alive_ && !close_after && !state_->stopping);
    response_.prepare_payload();
    if (request_.method == "HEAD") response_.body().clear();
    Count(res.status);
    Lowest().expires_after(Options().write_timeout);
    bhttp::async_write(stream_, response_,
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         self->OnWrite(ec);
                       });
  }

  void Count(int status) {
    const ServerMetrics& m = state_->metrics;
    if (m.requests != nullptr) m.requests->With({route_label_, std::to_string(status)}).Add();
    if (m.latency != nullptr && started_) {
      const auto took = Options().clock->Steady() - *started_;
      m.latency->With({route_label_}).Observe(std::chrono::duration<double>(took).count());
    }
    started_.reset();
  }

  void OnWrite(beast::error_code ec) {
    if (ec) return CloseNow();
    if (unread_body_) return Drain();
    if (!response_.keep_alive()) return Finish();
    header_.reset();
    ReadHeader();
  }

  // Ends the connection politely: a TLS close_notify, or a TCP half-close.
  void Finish() {
    if constexpr (kTls) {
      Lowest().expires_after(Options().write_timeout);
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->CloseNow(); });
    } else {
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      Lowest().close();
    }
  }

  std::shared_ptr<HttpServer::State> state_;
  std::string peer_;
  net::ip::address peer_ip_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_;
  bhttp::response<bhttp::string_body> response_;
  Request request_;
  Match match_;
  std::string route_label_ = "unmatched";
  std::optional<std::chrono::steady_clock::time_point> started_;
  bool keep_alive_ = false;
  bool unread_body_ = false;
  std::array<char, 16384> drain_{};
  std::size_t drained_ = 0;
  bool first_ = true;
  bool idle_ = false;
};

void Accept(const std::shared_ptr<HttpServer::State>& state) {
  state->acceptor.async_accept(
      net::make_strand(state->io), [state](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || state->stopping) return;
        if (!ec) {
          beast::error_code peer_ec;
          const auto remote = socket.remote_endpoint(peer_ec);
          if (!peer_ec) {
            const net::ip::address ip = remote.address();
            const std::string peer = ip.to_string();
            const bool trusted = state->options.trusted_proxies.Contains(ip);
            if (state->Admit(peer, trusted)) {
              if (state->tls) {
                std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
                    state, peer, ip, std::move(socket), *state->tls)
                    ->Start();
              } else {
                std::make_shared<Session<beast::tcp_stream>>(state, peer, ip, std::move(socket))
                    ->Start();
              }
            } else {
              beast::error_code ignored;
              socket.close(ignored);
            }
          }
        } else {
          // EMFILE and friends: log, and keep accepting (after the next connection ends).
          state->log.Warn("http.accept_failed", {{"error", ec.message()}});
        }
        Accept(state);
      });
}

}  // namespace

bool ParseListen(const std::string& listen, std::string* host, unsigned short* port) {
  std::string h;
  std::string p;
  if (!listen.empty() && listen.front() == '[') {
    const std::size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return false;
    }
    h = listen.substr(1, close - 1);
    p = listen.substr(close + 2);
  } else {
    const std::size_t colon = listen.rfind(':');
    if (colon == std::string::npos || listen.find(':') != colon) return false;
    h = listen.substr(0, colon);
    p = listen.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.size() > 5 ||
      p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const long value = std::stol(p);
  if (value > 65535) return false;
  *host = h == "localhost" ? "127.0.0.1" : h;
  *port = static_cast<unsigned short>(value);
  return true;
}

HttpServer::HttpServer(ServerOptions options, const Router& router, Logger& log,
                       ServerMetrics metrics)
    : state_(std::make_shared<State>(std::move(options), router, log, metrics)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  State& s = *state_;
  std::string host;
  unsigned short port = 0;
  if (!ParseListen(s.options.listen, &host, &port)) {
    return MakeError(ErrorCode::kConfig,
                     "'" + s.options.listen + "' is not host:port (127.0.0.1:8480, [::1]:8480)",
                     "http.listen");
  }
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) {
    return MakeError(ErrorCode::kConfig, "'" + host + "' is not an IP address", "http.listen");
  }
  if (!s.options.tls_certificate.empty()) {
    s.tls.emplace(net::ssl::context::tls_server);
    s.tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1);
    s.tls->use_certificate_chain_file(s.options.tls_certificate, ec);
    if (ec) {
      return MakeError(ErrorCode::kConfig, "cannot load the certificate: " + ec.message(),
                       s.options.tls_certificate);
    }
    s.tls->use_private_key_file(s.options.tls_key, net::ssl::context::pem, ec);
    if (ec) {
      return MakeError(ErrorCode::kConfig, "cannot load the private key: " + ec.message(),
                       s.options.tls_key);
    }
  }
  const tcp::endpoint endpoint(address, port);
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable, "cannot listen: " + ec.message(),
                     "http.listen " + s.options.listen);
  }
  s.work.emplace(s.io.get_executor());
  Accept(state_);
  for (int i = 0; i < std::max(1, s.options.io_threads); ++i) {
    s.threads.emplace_back([state = state_] { state->io.run(); });
  }
  started_ = true;
  s.log.Info(
      "http.listening",
      {{"address", host}, {"port", std::to_string(this->port())}, {"tls", s.tls ? "on" : "off"}});
  return Status::Ok();
}

unsigned short HttpServer::port() const {
  beast::error_code ec;
  const auto endpoint = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void HttpServer::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  State& s = *state_;
  s.stopping = true;
  net::post(s.io, [state = state_] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(s.mu);
    for (auto& [raw, weak] : s.connections) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  for (auto& c : open) c->CloseIfIdle();
  open.clear();
  // Requests in flight finish (their connections close after the response) within the grace.
  {
    std::unique_lock lock(s.mu);
    s.ended.wait_for(lock, s.options.shutdown_grace, [&] { return s.connections.empty(); });
    for (auto& [raw, weak] : s.connections) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  std::size_t left = open.size();
  for (auto& c : open) c->Close();
  open.clear();
  // With the acceptor and every connection closed, each pending operation ends, and with
  // it the connection that owns it; io.run() then returns on its own.
  s.handlers.join();
  s.work.reset();
  for (auto& thread : s.threads) thread.join();
  s.threads.clear();
  s.log.Info("http.stopped", {{"closed_in_flight", std::to_string(left)}});
}

}  // namespace credd::http
