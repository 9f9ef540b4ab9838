// The text rendering of file names: lossless, valid UTF-8, one line.
#include "common/file_name.h"

#include <gtest/gtest.h>

#include <set>

namespace credd {
namespace {

TEST(NameAsTextTest, EscapesWhatIsNotUtf8Text) {
  const std::pair<std::string, std::string> cases[] = {
      {"results.csv", "results.csv"},
      {"résultats.csv", "résultats.csv"},
      {"r\xe9sultats.csv", "r\\xe9sultats.csv"},     // Latin-1 é.
      {"\xc3", "\\xc3"},                             // A truncated sequence.
      {"\xc0\xaf.csv", "\\xc0\\xaf.csv"},            // Overlong '/'.
      {"\xed\xa0\x80.csv", "\\xed\\xa0\\x80.csv"},   // A UTF-16 surrogate.
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  // Past U+10FFFF.
      {"a\nb.csv", "a\\x0ab.csv"},
      {"a\x7f", "a\\x7f"},
      {"back\\slash", "back\\\\slash"},
      {"-leading.csv", "-leading.csv"},
      {"\xe2\x80\xae"
       "fdp.exe",
       "\xe2\x80\xae"
       "fdp.exe"},  // Valid (U+202E) and kept.
  };
  for (const auto& [name, text] : cases) EXPECT_EQ(NameAsText(name), text) << text;
  EXPECT_TRUE(IsPlainName("résultats.csv"));
  EXPECT_FALSE(IsPlainName("r\xe9sultats.csv"));
}

TEST(NameAsTextTest, DifferentNamesNeverRenderTheSame) {
  // The literal text "\xe9" and the byte 0xE9 must stay apart.
  const std::string names[] = {"r\xe9.csv", "r\\xe9.csv", "r\\\\xe9.csv", "r\\\xe9.csv"};
  std::set<std::string> rendered;
  for (const std::string& name : names) rendered.insert(NameAsText(name));
  EXPECT_EQ(rendered.size(), std::size(names));
}

}  // namespace
}  // namespace credd
