#include "common/log.h"

#include <gtest/gtest.h>

#include <sstream>

namespace credd {
namespace {

TEST(QuoteLogValueTest, QuotesOnlyWhatNeedsIt) {
  struct Case {
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"plain", "plain"},
      {"", "\"\""},
      {"two words", "\"two words\""},
      {"a=b", "\"a=b\""},
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"line\nbreak", "\"line\\nbreak\""},
      {"cr\rlf", "\"cr\\rlf\""},
      {std::string("nul\0x", 5), "\"nul\\x00x\""},
      {"Zoë", "Zoë"},
  };
  for (const auto& c : cases) EXPECT_EQ(QuoteLogValue(c.in), c.out) << c.in;
}

TEST(LoggerTest, OneLinePerEventAndLevelFilter) {
  std::ostringstream out;
  Logger log(out, LogLevel::kInfo);
  log.Debug("hidden");
  log.Info("daemon.ready", {{"institutions", "2"}, {"note", "a\nb"}});
  std::string text = out.str();
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  EXPECT_NE(text.find(" level=info event=daemon.ready institutions=2 note=\"a\\nb\"\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

}  // namespace
}  // namespace credd
