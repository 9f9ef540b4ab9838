// Maildir transport: each message, byte for byte as given, becomes one file in maildir/new/,
// written to tmp/ first, fsynced and renamed, so a reader never sees half a message.
#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "daemon/mail/transport.h"

namespace credd::mail {
namespace {

// errno as text, with the operation and path, for the one place I/O errors become replies.
std::string PosixErrorText(const std::string& operation, const std::string& path, int error) {
  return "local: maildir: " + operation + " " + path + ": " + std::strerror(error);
}

// The host part of a maildir file name, with '/' and ':' escaped as the maildir spec asks.
std::string MaildirHostName() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') return "localhost";
  std::string escaped;
  for (const char* c = host.data(); *c != '\0'; ++c) {
    if (*c == '/') {
      escaped += "\\057";
    } else if (*c == ':') {
      escaped += "\\072";
    } else {
      escaped += *c;
    }
  }
  return escaped;
}

// Creates `path` and its parents unless it is already a folder.
bool EnsureDirectory(const std::string& path, std::string* error) {
  std::error_code code;
  std::filesystem::create_directories(path, code);
  if (!code && std::filesystem::is_directory(path, code)) return true;
  *error = "cannot create folder " + path + (code ? ": " + code.message() : "");
  return false;
}

class MaildirTransport final : public MailTransport {
 public:
  explicit MaildirTransport(std::string maildir)
      : maildir_(std::move(maildir)), host_(MaildirHostName()) {}

  SendOutcome Send(const std::string& envelope_from, const std::string& recipient,
                   const std::string& mime_bytes) override {
    // Refused exactly as the SMTP transport would, so a test setup behaves like production.
    if (!IsValidEnvelopeAddress(envelope_from) || !IsValidEnvelopeAddress(recipient)) {
      return SendOutcome{SendOutcome::Kind::kFailed, 0, "local: invalid address"};
    }
    const std::string name = UniqueName();
    const std::string tmp_path = maildir_ + "/tmp/" + name;
    const std::string new_path = maildir_ + "/new/" + name;
    std::string error = WriteSynced(tmp_path, mime_bytes);
    if (error.empty() && ::rename(tmp_path.c_str(), new_path.c_str()) != 0) {
      error = PosixErrorText("rename to", new_path, errno);
    }
    if (!error.empty()) {
      ::unlink(tmp_path.c_str());
      return SendOutcome{SendOutcome::Kind::kDeferred, 0, error};
    }
    // The rename is durable only once the folder holding the new name is synced.
    const int dir = ::open((maildir_ + "/new").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
    return SendOutcome{SendOutcome::Kind::kSent, 0, "maildir: " + new_path};
  }

  void Close() override {}

  Status Probe() override {
    const std::string probe = maildir_ + "/tmp/" + UniqueName() + ".probe";
    std::string error = WriteSynced(probe, "");
    ::unlink(probe.c_str());
    if (error.empty()) return Status::Ok();
    return MakeError(ErrorCode::kUnavailable, error, "mail.maildir");
  }

 private:
  // "<seconds>.M<microseconds>P<pid>Q<counter>.<host>", the usual maildir form. The counter
  // is shared by all instances in the process so two transports never pick the same name.
  std::string UniqueName() const {
    static std::atomic<unsigned long> counter{0};
    timeval now{};
    ::gettimeofday(&now, nullptr);
    return std::to_string(now.tv_sec) + ".M" + std::to_string(now.tv_usec) + "P" +
           std::to_string(::getpid()) + "Q" + std::to_string(++counter) + "." + host_;
  }

  // Writes `bytes` to a new file at `path` and fsyncs it; returns the error text or "".
  static std::string WriteSynced(const std::string& path, const std::string& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return PosixErrorText("create", path, errno);
    std::size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int saved = errno;
        ::close(fd);
        return PosixErrorText("write", path, saved);
      }
      written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
      const int saved = errno;
      ::close(fd);
      return PosixErrorText("fsync", path, saved);
    }
    if (::close(fd) != 0) return PosixErrorText("close", path, errno);
    return {};
  }

  const std::string maildir_;
  const std::string host_;
};

}  // namespace

Result<std::unique_ptr<MailTransport>> MakeMaildirTransport(const std::string& maildir) {
  if (maildir.empty()) return MakeError(ErrorCode::kConfig, "is empty", "mail.maildir");
  std::string error;
  for (const std::string& path : {maildir, maildir + "/tmp", maildir + "/new", maildir + "/cur"}) {
    if (!EnsureDirectory(path, &error)) return MakeError(ErrorCode::kIo, error, "mail.maildir");
  }
  return std::unique_ptr<MailTransport>(std::make_unique<MaildirTransport>(maildir));
}

}  // namespace credd::mail
