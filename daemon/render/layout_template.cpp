// Layout templates read with the strict YAML reader (common/yaml_reader.h), and the two
// text helpers templates need.
#include "daemon/render/layout_template.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <string_view>

#include "common/yaml_reader.h"

namespace credd::render {
namespace {

constexpr double kPointsPerMm = 72.0 / 25.4;
const std::vector<std::string> kLocales = {"en", "fr"};

constexpr std::array<std::string_view, 2> kPageSizes = {"letter", "a4"};
constexpr std::array<std::string_view, 2> kOrientations = {"portrait", "landscape"};

void ReadPage(YamlMap& page, LayoutTemplate& layout) {
  std::string size = "letter";
  page.Enum("size", &size, kPageSizes);
  layout.page_width = size == "a4" ? 595.28 : 612;
  layout.page_height = size == "a4" ? 841.89 : 792;
  std::string orientation = "portrait";
  page.Enum("orientation", &orientation, kOrientations);
  if (orientation == "landscape") std::swap(layout.page_width, layout.page_height);
  double margin_mm = 18;
  page.Double("margin_mm", &margin_mm, 5, 60);
  layout.margin = margin_mm * kPointsPerMm;
}

void ReadLocale(YamlMap& node, const std::vector<std::string>& label_keys, LocaleLabels& labels) {
  for (const auto& key : label_keys) node.String(key, &labels.text[key], YamlMap::Need::kRequired);
  if (node.StringList("months", &labels.months, nullptr, YamlMap::Need::kRequired) &&
      labels.months.size() != 12) {
    node.Problem("months", "must list 12 month names");
  }
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return MakeError(ErrorCode::kConfig, "cannot read the layout template", path);
  }
  return text;
}

}  // namespace

const std::string& LayoutTemplate::Label(std::string_view locale, std::string_view key) const {
  return locales.find(locale)->second.text.find(key)->second;
}

double LayoutTemplate::FontSize(std::string_view role) const {
  return font_sizes.find(role)->second;
}

std::string LayoutTemplate::FormatDate(std::string_view locale, std::string_view iso) const {
  auto digits = [&](std::size_t from, std::size_t count) {
    int value = 0;
    for (std::size_t i = from; i < from + count; ++i) {
      if (iso[i] < '0' || iso[i] > '9') return -1;
      value = value * 10 + (iso[i] - '0');
    }
    return value;
  };
  if (iso.size() < 10 || iso[4] != '-' || iso[7] != '-') return std::string(iso);
  int year = digits(0, 4);
  int month = digits(5, 2);
  int day = digits(8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31) return std::string(iso);
  const LocaleLabels& labels = locales.find(locale)->second;
  // French writes the first day as an ordinal ("1er novembre"); the template says how.
  std::string day_text = day == 1 ? labels.text.find("first_day")->second : std::to_string(day);
  std::string year_text = std::to_string(year);
  return Fill(labels.text.find("date_format")->second,
              {{"day", day_text},
               {"month", labels.months[static_cast<std::size_t>(month - 1)]},
               {"year", year_text}});
}

Result<LayoutTemplate> LoadLayoutTemplate(const std::string& path,
                                          const std::vector<std::string>& font_roles,
                                          const std::vector<std::string>& label_keys) {
  LayoutTemplate layout;
  layout.path = path;
  std::vector<std::string> keys = label_keys;
  keys.push_back("date_format");
  keys.push_back("first_day");
  auto text = ReadFile(path);
  if (!text) return text.error();
  std::vector<YamlProblem> problems;
  ReadYamlDocument(*text, &problems, [&](YamlMap& root) {
    root.Map(
        "page", [&](YamlMap& page) { ReadPage(page, layout); }, YamlMap::Need::kRequired);
    root.Map(
        "font_sizes",
        [&](YamlMap& fonts) {
          for (const auto& role : font_roles) {
            fonts.Double(role, &layout.font_sizes[role], 4, 72, YamlMap::Need::kRequired);
          }
        },
        YamlMap::Need::kRequired);
    root.Map(
        "labels",
        [&](YamlMap& labels) {
          for (const auto& locale : kLocales) {
            labels.Map(
                locale, [&](YamlMap& node) { ReadLocale(node, keys, layout.locales[locale]); },
                YamlMap::Need::kRequired);
          }
        },
        YamlMap::Need::kRequired);
  });
  if (problems.empty()) return layout;
  // A misspelt key explains the "missing" of the key it stands for: report it first.
  auto first = std::find_if(problems.begin(), problems.end(),
                            [](const YamlProblem& p) { return p.message == "unknown key"; });
  const YamlProblem& shown = first != problems.end() ? *first : problems.front();
  return MakeError(ErrorCode::kConfig,
                   shown.path.empty() ? shown.message : shown.path + ": " + shown.message, path);
}

std::string Fill(std::string_view pattern,
                 const std::vector<std::pair<std::string_view, std::string_view>>& values) {
  std::string out;
  std::size_t i = 0;
  while (i < pattern.size()) {
    std::size_t open = pattern.find('{', i);
    std::size_t close = open == std::string_view::npos ? open : pattern.find('}', open);
    if (close == std::string_view::npos) break;
    std::string_view name = pattern.substr(open + 1, close - open - 1);
    auto it = std::find_if(values.begin(), values.end(),
                           [&](const auto& value) { return value.first == name; });
    out.append(pattern.substr(i, open - i));
    if (it != values.end()) {
      out.append(it->second);
    } else {
      out.append(pattern.substr(open, close - open + 1));
    }
    i = close + 1;
  }
  out.append(pattern.substr(std::min(i, pattern.size())));
  return out;
}

}  // namespace credd::render
