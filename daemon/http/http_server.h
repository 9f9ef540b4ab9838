// credd's HTTP server: Boost.Beast, HTTP/1.1 with keep-alive, plain or TLS, on its own
// threads so that a slow client never stalls ingestion or mail. Network I/O runs on a small
// io_context; handlers (which block on the database) run on a separate pool, and their
// answers are written back by the connection's strand.
//
// What it defends: a limit on connections (in all, and per client address), on header size
// (431), on body size per route (413, checked on Content-Length before reading a byte),
// requests per minute per client (429 with Retry-After), and deadlines on the TLS
// handshake, the header, the body, the write and the keep-alive wait, so an idle or
// slowloris client is dropped. Every response carries the security headers.
// Stop() stops accepting, closes idle connections, lets requests in flight finish within
// shutdown_grace, then closes what is left.
// Thread contract: Start and Stop from one thread (the composition root's); the router and
// metrics must outlive the server.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/result.h"
#include "daemon/http/client_address.h"
#include "daemon/http/router.h"

namespace credd::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:8480";  // host:port ([::1]:8480); port 0 picks a free one.
  int io_threads = 1;                     // Network threads: I/O only, never blocking.
  int handler_threads = 4;                // Threads running handlers (database, verification).
  std::size_t max_connections = 512;      // Open connections in all; more are closed at once.
  std::size_t max_connections_per_client = 32;  // Per peer address (trusted proxies exempt).
  std::size_t header_limit = 16 * 1024;         // Request line and headers, bytes; 431 beyond.
  std::chrono::seconds handshake_timeout{10};   // TLS handshake.
  std::chrono::seconds header_timeout{10};      // The whole first header, from the accept.
  std::chrono::seconds idle_timeout{15};        // Keep-alive: the next whole header.
  std::chrono::seconds body_timeout{120};       // The whole body (64 MB at ~0.5 MB/s).
  std::chrono::seconds write_timeout{60};       // The whole response.
  std::chrono::seconds shutdown_grace{10};      // Requests in flight, on Stop().
  int requests_per_minute = 600;   // Per client address on rate-limited routes; 0 = no limit.
  TrustedProxies trusted_proxies;  // Whose X-Forwarded-For / -Proto are believed.
  std::string tls_certificate;     // PEM chain; with tls_key, the server speaks HTTPS only.
  std::string tls_key;
  const Clock* clock = &SystemClock();
};

// The server's own metrics, registered by the composition root (null: none).
struct ServerMetrics {
  CounterFamily* requests = nullptr;   // {route, code}
  HistogramFamily* latency = nullptr;  // {route}, seconds from the header to the last byte.
  CounterFamily* refused = nullptr;    // {reason}: connections closed at accept, limits hit.
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, const Router& router, Logger& log, ServerMetrics metrics = {});
  ~HttpServer();  // Stops, if still running.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the threads. kConfig for a malformed listen address or unreadable TLS
  // files; kUnavailable when the address cannot be bound (in use, not ours).
  Status Start();
  // The bound port (after Start; the chosen one when listen said port 0).
  unsigned short port() const;
  // Graceful stop; returns when every thread has ended. Idempotent.
  void Stop();

  struct State;  // Shared with the connections; see http_server.cpp.

 private:
  std::shared_ptr<State> state_;
  bool started_ = false;
  bool stopped_ = false;
};

// "127.0.0.1:8480", "[::1]:8480", "localhost:8480" -> address and port. False when malformed.
bool ParseListen(const std::string& listen, std::string* host, unsigned short* port);

}  // namespace credd::http
