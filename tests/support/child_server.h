// Test support: a test server run as a child process (tests/smtp_server.py,
// tests/tsa_server.py) that prints the port it listens on as its first line of output.
// Stopped with SIGTERM when the object goes. Thread contract: one thread per object.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace credd::test_support {

class ChildServer {
 public:
  // program: the interpreter and the script, e.g. {"/usr/bin/python3", "tests/x.py"}.
  explicit ChildServer(std::vector<std::string> program) : program_(std::move(program)) {}
  ChildServer(const ChildServer&) = delete;
  ChildServer& operator=(const ChildServer&) = delete;
  ~ChildServer() { Stop(); }

  // Empty on success, else why the server did not come up within ten seconds.
  std::string Start(const std::vector<std::string>& arguments) {
    std::array<int, 2> fds{};
    if (::pipe(fds.data()) != 0) return "pipe failed";
    std::vector<std::string> command = program_;
    command.insert(command.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& argument : command) argv.push_back(argument.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    if (pid_ < 0) {
      ::close(fds[0]);
      return "fork failed";
    }
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd wait{fds[0], POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (::poll(&wait, 1, static_cast<int>(std::max<long>(left.count(), 0))) <= 0) continue;
      std::array<char, 64> buffer{};
      const ssize_t got = ::read(fds[0], buffer.data(), buffer.size());
      if (got <= 0) break;
      line.append(buffer.data(), static_cast<size_t>(got));
    }
    ::close(fds[0]);
    port_ = std::atoi(line.c_str());
    return port_ > 0 ? std::string() : program_.back() + " printed no port: \"" + line + "\"";
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int port() const { return port_; }

 private:
  std::vector<std::string> program_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace credd::test_support
