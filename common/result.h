// Errors as values: every module boundary returns Result<T> or Status, never throws.
// An Error names what failed (code), why (message) and which input (where: "x.csv:42",
// "institutions[1].id", a student id). Thread contract: plain values, no sharing.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace credd {

// Each code maps onto one sysexits(3) exit status, so the CLIs never have to guess.
enum class ErrorCode {
  kUsage = 64,        // The caller asked for something malformed.
  kData = 65,         // A record or file was rejected.
  kNoInput = 66,      // An input is missing or unreadable.
  kUnavailable = 69,  // A service (database, SMTP, TSA) cannot be reached.
  kInternal = 70,     // A bug or an invariant broken inside credd.
  kIo = 74,           // The operating system refused a read or write.
  kConfig = 78,       // The configuration (or the schema it points at) is wrong.
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string where;  // The input this is about; empty when nothing more precise applies.

  // "where: message", or just the message when where is empty.
  std::string ToString() const { return where.empty() ? message : where + ": " + message; }
  int ExitCode() const { return static_cast<int>(code); }
};

inline Error MakeError(ErrorCode code, std::string message, std::string where = {}) {
  return Error{code, std::move(message), std::move(where)};
}

// A value or an Error. Deliberately small: C++20 has no std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design.
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design.

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Success or an Error, for operations that produce nothing.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design.
  static Status Ok() { return Status(); }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace credd
