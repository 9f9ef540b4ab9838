// The server over real loopback sockets: routing, keep-alive, the security headers, each
// limit (header, body, requests per minute, connections per client), the deadlines that
// drop idle and slow clients, and a stop that lets a request in flight finish.
// Waits poll a condition with a bound; nothing sleeps to let time pass.
#include "daemon/http/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>

namespace credd::http {
namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

// A client socket from `from` (127.0.0.x) to the server.
struct Client {
  net::io_context io;
  tcp::socket socket{io};
  boost::beast::flat_buffer buffer;

  Client(unsigned short port, const std::string& from = "127.0.0.1") {
    socket.open(tcp::v4());
    socket.bind(tcp::endpoint(net::ip::make_address(from), 0));
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }
  void Send(const std::string& raw) { net::write(socket, net::buffer(raw)); }
  bhttp::response<bhttp::string_body> Read() {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1 << 20);
    bhttp::read(socket, buffer, parser);
    return parser.release();
  }
  bhttp::response<bhttp::string_body> Get(const std::string& target,
                                          const std::string& extra = "") {
    Send("GET " + target + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n");
    return Read();
  }
  // True once the server has closed the connection (reads EOF or a reset).
  bool Closed() {
    char byte;
    boost::system::error_code ec;
    socket.read_some(net::buffer(&byte, 1), ec);
    return static_cast<bool>(ec);
  }
};

class ServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    router_.Add({"GET", "/hello/{name}",
                 [](const Request& r) { return Response::Text(200, "hello " + r.Param("name")); }});
    router_.Add(
        {"POST", "/echo", [](const Request& r) { return Response::Text(200, r.body); }, 1024});
    router_.Add({"GET", "/client", [](const Request& r) {
                   return Response::Text(200, r.client + (r.secure ? " https" : " http"));
                 }});
    router_.Add({"GET", "/free", [](const Request&) { return Response::Text(200, "ok"); },
                 kSmallBody, false});
    router_.Add({"GET", "/slow", [this](const Request&) {
                   slow_started_ = true;
                   while (!release_slow_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
                   return Response::Text(200, "done");
                 }});
    router_.Add(
        {"GET", "/throw", [](const Request&) -> Response { throw std::runtime_error("boom"); }});
    server_ = std::make_unique<HttpServer>(options, router_, log_);
    ASSERT_TRUE(server_->Start());
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "server log:\n" << log_text_.str();
    release_slow_ = true;
    if (server_) server_->Stop();
  }

  std::ostringstream log_text_;
  Logger log_{log_text_, LogLevel::kDebug};
  Router router_;
  std::unique_ptr<HttpServer> server_;
  unsigned short port_ = 0;
  std::atomic<bool> slow_started_{false};
  std::atomic<bool> release_slow_{false};
};

TEST_F(ServerTest, ServesRoutesWithKeepAliveAndSecurityHeaders) {
  Start();
  Client c(port_);
  auto res = c.Get("/hello/world");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "hello world");
  EXPECT_TRUE(res.keep_alive());
  EXPECT_NE(std::string(res["Content-Security-Policy"]).find("frame-ancestors 'none'"),
            std::string::npos);
  EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(res["Referrer-Policy"], "no-referrer");
  EXPECT_EQ(res[bhttp::field::strict_transport_security], "");  // Plain HTTP: no HSTS.
  // The same connection answers the next request, and HEAD as GET without a body.
  res = c.Get("/hello/again");
  EXPECT_EQ(res.body(), "hello again");
  c.Send("HEAD /hello/x HTTP/1.1\r\nHost: x\r\n\r\n");
  bhttp::response_parser<bhttp::empty_body> head;
  head.skip(true);
  bhttp::read(c.socket, c.buffer, head);
  EXPECT_EQ(head.get().result_int(), 200);
  EXPECT_EQ(head.get()[bhttp::field::content_length], "7");
  EXPECT_EQ(c.Get("/nothing").result_int(), 404);
  c.Send("DELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  res = c.Read();
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[bhttp::field::allow], "POST");
  EXPECT_EQ(c.Get("/throw").result_int(), 500);
  EXPECT_NE(log_text_.str().find("http.handler_failed"), std::string::npos);
  EXPECT_EQ(c.Get("/bad%zz").result_int(), 400);
}

TEST_F(ServerTest, RefusesBodiesOverTheRoutesLimitBeforeReadingThem) {
  Start();
  Client c(port_);
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(c.Read().body(), "hello");
  // Declared too large: answered at once, without sending a byte of the body.
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
  auto res = c.Read();
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_FALSE(res.keep_alive());
  // Chunked past the limit: found while reading.
  Client d(port_);
  d.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
         std::string(0x800, 'a') + "\r\n0\r\n\r\n");
  EXPECT_EQ(d.Read().result_int(), 413);
  // Expect: 100-continue gets its interim answer, then the final one.
  Client e(port_);
  e.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  auto interim = e.Read();
  EXPECT_EQ(interim.result_int(), 100);
  e.Send("ok");
  EXPECT_EQ(e.Read().body(), "ok");
}

TEST_F(ServerTest, RefusesHugeHeaders) {
  Start();
  Client c(port_);
  c.Send("GET /hello/x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n");
  auto res = c.Read();
  EXPECT_EQ(res.result_int(), 431);
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(ServerTest, LimitsRequestsPerMinutePerClient) {
  ServerOptions options;
  options.requests_per_minute = 5;
  Start(options);
  Client a(port_, "127.0.0.2");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(a.Get("/hello/x").result_int(), 200) << i;
  auto res = a.Get("/hello/x");
  EXPECT_EQ(res.result_int(), 429);
  const int retry = std::stoi(std::string(res[bhttp::field::retry_after]));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 60);
  EXPECT_EQ(a.Get("/free").result_int(), 200);  // Routes outside the limit still answer.
  Client b(port_, "127.0.0.3");                 // Another address is not affected.
  EXPECT_EQ(b.Get("/hello/x").result_int(), 200);
}

TEST_F(ServerTest, LimitsConnectionsPerClientAddress) {
  ServerOptions options;
  options.max_connections_per_client = 3;
  Start(options);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(std::make_unique<Client>(port_, "127.0.0.4"));
  // Make sure the three are counted: each has been answered once.
  for (auto& c : idle) ASSERT_EQ(c->Get("/free").result_int(), 200);
  Client fourth(port_, "127.0.0.4");
  EXPECT_TRUE(fourth.Closed());
  Client other(port_, "127.0.0.5");
  EXPECT_EQ(other.Get("/free").result_int(), 200);
  // When one of the three goes, the address may connect again.
  idle.pop_back();
  bool admitted = false;
  for (int attempt = 0; attempt < 200 && !admitted; ++attempt) {
    Client again(port_, "127.0.0.4");
    boost::system::error_code ec;
    net::write(again.socket, net::buffer(std::string("GET /free HTTP/1.1\r\nHost: x\r\n\r\n")), ec);
    bhttp::response<bhttp::string_body> res;
    if (!ec) bhttp::read(again.socket, again.buffer, res, ec);
    admitted = !ec && res.result_int() == 200;
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(admitted);
}

TEST_F(ServerTest, DropsIdleAndSlowClients) {
  ServerOptions options;
  options.header_timeout = std::chrono::seconds(1);
  options.idle_timeout = std::chrono::seconds(1);
  Start(options);
  Client idle(port_);
  Client slow(port_);
  // A slowloris: a byte of header at a time, never the end.
  const auto started = std::chrono::steady_clock::now();
  bool dropped = false;
  for (int i = 0; i < 200 && !dropped; ++i) {
    boost::system::error_code ec;
    net::write(slow.socket, net::buffer(std::string("X")), ec);
    dropped = static_cast<bool>(ec);
    if (!dropped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(dropped || slow.Closed());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_TRUE(idle.Closed());
  // And the server still serves.
  Client fresh(port_);
  EXPECT_EQ(fresh.Get("/free").result_int(), 200);
}

TEST_F(ServerTest, BelievesForwardedHeadersFromTrustedProxiesOnly) {
  ServerOptions options;
  options.trusted_proxies = *TrustedProxies::Parse({"127.0.0.6"});
  Start(options);
  Client proxy(port_, "127.0.0.6");
  auto res = proxy.Get("/client", "X-Forwarded-For: 198.51.100.4\r\nX-Forwarded-Proto: https\r\n");
  EXPECT_EQ(res.body(), "198.51.100.4 https");
  EXPECT_EQ(res[bhttp::field::strict_transport_security], "max-age=31536000");
  Client stranger(port_, "127.0.0.7");
  res = stranger.Get("/client", "X-Forwarded-For: 198.51.100.4\r\nX-Forwarded-Proto: https\r\n");
  EXPECT_EQ(res.body(), "127.0.0.7 http");
}

TEST_F(ServerTest, StopFinishesTheRequestInFlight) {
  Start();
  Client busy(port_);
  Client idle(port_);
  ASSERT_EQ(idle.Get("/free").result_int(), 200);
  busy.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 1000 && !slow_started_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(slow_started_);
  auto stopped = std::async(std::launch::async, [&] { server_->Stop(); });
  // The idle connection is closed; the busy one still gets its answer.
  EXPECT_TRUE(idle.Closed());
  release_slow_ = true;
  auto res = busy.Read();
  EXPECT_EQ(res.body(), "done");
  EXPECT_FALSE(res.keep_alive());
  stopped.get();
  // Nothing listens any more.
  EXPECT_THROW(Client client(port_), boost::system::system_error);
}

TEST(HttpServer, ParsesListenAddresses) {
  std::string host;
  unsigned short port = 0;
  EXPECT_TRUE(ParseListen("127.0.0.1:8480", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8480);
  EXPECT_TRUE(ParseListen("[::1]:9", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_TRUE(ParseListen("localhost:1", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_FALSE(ParseListen("::1:80", &host, &port));
  EXPECT_FALSE(ParseListen("host", &host, &port));
  EXPECT_FALSE(ParseListen("h:99999", &host, &port));
}

TEST(HttpServer, SaysWhenItCannotListen) {
  std::ostringstream text;
  Logger log(text);
  Router router;
  ServerOptions first;
  first.listen = "127.0.0.1:0";
  HttpServer a(first, router, log);
  ASSERT_TRUE(a.Start());
  ServerOptions second;
  second.listen = "127.0.0.1:" + std::to_string(a.port());
  HttpServer b(second, router, log);
  Status s = b.Start();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  ServerOptions bad;
  bad.listen = "nowhere";
  HttpServer c(bad, router, log);
  EXPECT_EQ(c.Start().error().code, ErrorCode::kConfig);
}

}  // namespace
}  // namespace credd::http
