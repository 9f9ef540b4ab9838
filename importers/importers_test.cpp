#include <gtest/gtest.h>

#include <set>

#include "importers/importer.h"

namespace credd {
namespace {

TEST(ImporterTableTest, EveryFormatHasExactlyOneImporter) {
  std::set<Format> seen;
  for (const ImporterEntry& entry : ImporterTable()) {
    EXPECT_TRUE(seen.insert(entry.format).second) << kFormats.Name(entry.format);
    EXPECT_FALSE(entry.description.empty());
    EXPECT_NE(entry.make(ImportOptions{}), nullptr);
  }
  EXPECT_EQ(seen.size(), kFormats.size());
  for (const auto& format : kFormats) EXPECT_EQ(FindImporter(format.value).format, format.value);
}

TEST(ImporterTableTest, FormatsByNameAndByFileName) {
  for (const auto& format : kFormats) {
    auto parsed = ParseFormat(format.name);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, format.value);
  }
  auto unknown = ParseFormat("xlsx");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kUsage);
  EXPECT_EQ(unknown.error().message, "unknown format 'xlsx' (known: csv, pesc, pdf-manifest)");

  EXPECT_EQ(*FormatForFileName("grads.CSV"), Format::kCsv);
  EXPECT_EQ(*FormatForFileName("grads.txt"), Format::kCsv);
  EXPECT_EQ(*FormatForFileName("t.xml"), Format::kPesc);
  EXPECT_EQ(*FormatForFileName("pdfs.zip"), Format::kPdfManifest);
  auto none = FormatForFileName("grades.xlsx");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kData);
  EXPECT_EQ(none.error().where, "grades.xlsx");
}

}  // namespace
}  // namespace credd
