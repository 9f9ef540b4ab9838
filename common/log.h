// Structured logging: one line per event on a stream (stderr in production), as
// `ts=... level=info event=name key=value ...`. Values are quoted when they need it and
// never carry a raw newline, so one event is always one line.
// Thread contract: Write() may be called from any thread; lines never interleave.
#pragma once

#include <initializer_list>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace credd {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Parses "debug", "info", "warn", "error"; returns false on anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);
std::string_view LogLevelName(LogLevel level);

// A key=value pair for one log line.
using LogField = std::pair<std::string_view, std::string>;

class Logger {
 public:
  explicit Logger(std::ostream& out, LogLevel min_level = LogLevel::kInfo)
      : out_(out), min_level_(min_level) {}

  void SetLevel(LogLevel level);
  bool Enabled(LogLevel level) const;

  void Write(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});
  void Debug(std::string_view event, std::initializer_list<LogField> fields = {}) {
    Write(LogLevel::kDebug, event, fields);
  }
  void Info(std::string_view event, std::initializer_list<LogField> fields = {}) {
    Write(LogLevel::kInfo, event, fields);
  }
  void Warn(std::string_view event, std::initializer_list<LogField> fields = {}) {
    Write(LogLevel::kWarn, event, fields);
  }
  void Error(std::string_view event, std::initializer_list<LogField> fields = {}) {
    Write(LogLevel::kError, event, fields);
  }

 private:
  std::ostream& out_;
  mutable std::mutex mu_;
  LogLevel min_level_;
};

// Renders a value for a key=value line: bare when safe, otherwise double-quoted with
// backslash escapes for quotes, backslashes and control characters.
std::string QuoteLogValue(std::string_view value);

}  // namespace credd
