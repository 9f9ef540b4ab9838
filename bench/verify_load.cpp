// verify_load: POSTs PDFs to a running credd's /api/v1/verify from N concurrent clients
// (one keep-alive connection each, Boost.Beast), for a number of seconds, cycling through
// every file given so that no cache can answer. Prints one line of figures; asserts
// nothing, but exits 1 if an answer was not 200 or not "genuine" when --expect-genuine.
//
//   verify_load --port 8480 --clients 16 --seconds 10 --expect-genuine a.pdf b.pdf ...
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

int main(int argc, char** argv) {
  CLI::App app{"verify_load: verifications per second over HTTP"};
  unsigned short port = 8480;
  int clients = 16;
  double seconds = 10;
  bool expect_genuine = false;
  std::vector<std::string> files;
  app.add_option("--port", port, "credd's HTTP port on 127.0.0.1");
  app.add_option("--clients", clients, "concurrent clients, one connection each");
  app.add_option("--seconds", seconds, "how long to run");
  app.add_flag("--expect-genuine", expect_genuine,
               "count an answer that is not genuine as an error");
  app.add_option("files", files, "PDFs to send, in turn")->required();
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> pdfs;
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    pdfs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::atomic<std::size_t> next{0};
  std::atomic<long> errors{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      std::vector<double> mine;
      try {
        net::io_context io;
        tcp::socket socket(io);
        socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
        beast::flat_buffer buffer;
        while (std::chrono::steady_clock::now() < until) {
          const std::string& pdf = pdfs[next++ % pdfs.size()];
          bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/api/v1/verify", 11};
          req.set(bhttp::field::host, "127.0.0.1");
          req.set(bhttp::field::content_type, "application/pdf");
          req.body() = pdf;
          req.prepare_payload();
          const auto sent = std::chrono::steady_clock::now();
          bhttp::write(socket, req);
          bhttp::response<bhttp::string_body> res;
          bhttp::read(socket, buffer, res);
          mine.push_back(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent)
                  .count());
          if (res.result_int() != 200 ||
              (expect_genuine && res.body().find("\"genuine\":true") == std::string::npos)) {
            ++errors;
          }
        }
      } catch (const std::exception& e) {
        std::cerr << "verify_load: " << e.what() << "\n";
        ++errors;
      }
      std::lock_guard lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms.empty()
               ? 0.0
               : latencies_ms[std::min(latencies_ms.size() - 1,
                                       static_cast<std::size_t>(p * latencies_ms.size()))];
  };
  std::printf("verifications=%zu seconds=%.1f per_s=%.0f p50_ms=%.1f p99_ms=%.1f errors=%ld\n",
              latencies_ms.size(), took, latencies_ms.size() / took, pct(0.5), pct(0.99),
              errors.load());
  return errors.load() == 0 ? 0 : 1;
}
