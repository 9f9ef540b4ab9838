// mail_bench: messages per second through the SMTP transport to a relay (bench/mail_bench_run
// starts tests/smtp_server.py for it). Sends N messages of about S bytes, either over one
// reused connection or with a new connection per message, and prints one key=value line.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "common/exit_codes.h"
#include "common/log.h"
#include "daemon/mail/transport.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 25;
  std::string tls = "none";
  int count = 2000;
  int size = 4096;
  std::string mode = "reuse";  // "reuse" or "per-message".
};

// A plain-text message of about `size` bytes in 76-character lines, like a rendered invitation.
std::string BenchMessage(int index, int size) {
  std::string message =
      "From: Registrar <registrar@uni.example>\r\nTo: zoe@student.example\r\n"
      "Subject: Your documents are ready\r\nMessage-ID: <bench." +
      std::to_string(index) +
      "@credd.uni.example>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n";
  const std::string line(76, 'x');
  while (static_cast<int>(message.size()) < size) message += line + "\r\n";
  return message;
}

int Run(const Options& options) {
  credd::SmtpConfig config;
  config.host = options.host;
  config.port = options.port;
  config.tls = options.tls;
  config.timeout_seconds = 10;
  credd::Logger log(std::cerr, credd::LogLevel::kError);
  credd::Result<std::unique_ptr<credd::mail::MailTransport>> transport =
      credd::mail::MakeSmtpTransport(config, "", log, "bench.credd.invalid");
  if (!transport) {
    std::fprintf(stderr, "mail_bench: %s\n", transport.error().ToString().c_str());
    return transport.error().ExitCode();
  }
  int sent = 0;
  int other = 0;
  std::size_t bytes = 0;
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < options.count; ++i) {
    const std::string message = BenchMessage(i, options.size);
    const credd::mail::SendOutcome outcome =
        (*transport)->Send("registrar@uni.example", "zoe@student.example", message);
    if (outcome.kind == credd::mail::SendOutcome::Kind::kSent) {
      ++sent;
      bytes += message.size();
    } else if (++other == 1) {
      std::fprintf(stderr, "mail_bench: first failure: %s %s\n",
                   credd::mail::SendOutcomeKindName(outcome.kind), outcome.reply.c_str());
    }
    if (options.mode == "per-message") (*transport)->Close();
  }
  (*transport)->Close();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "mode=%s messages=%d sent=%d not_sent=%d message_bytes=%zu seconds=%.3f "
      "messages_per_second=%.1f\n",
      options.mode.c_str(), options.count, sent, other, bytes / options.count, seconds,
      seconds > 0 ? sent / seconds : 0.0);
  return other == 0 ? credd::kExitOk : credd::kExitUnavailable;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mail_bench: SMTP messages per second over the credd mail transport"};
  Options options;
  app.add_option("--host", options.host, "relay host")->capture_default_str();
  app.add_option("--port", options.port, "relay port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--tls", options.tls, "starttls, implicit or none")
      ->check(CLI::IsMember({"starttls", "implicit", "none"}))
      ->capture_default_str();
  app.add_option("--count", options.count, "messages to send")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--size", options.size, "approximate message size in bytes")
      ->check(CLI::Range(256, 10000000))
      ->capture_default_str();
  app.add_option("--mode", options.mode, "reuse (one connection) or per-message")
      ->check(CLI::IsMember({"reuse", "per-message"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? credd::kExitOk : credd::kExitUsage;
  }
  return Run(options);
}
