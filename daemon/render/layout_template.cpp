// YAML loading (yaml-cpp), strict about keys, and the two text helpers templates need.
#include "daemon/render/layout_template.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

namespace credd::render {
namespace {

constexpr double kPointsPerMm = 72.0 / 25.4;
const std::vector<std::string> kLocales = {"en", "fr"};

Error ConfigError(const std::string& path, const std::string& message) {
  return MakeError(ErrorCode::kConfig, message, path);
}

// Every key of `node` must be in `allowed`; returns the first stranger.
std::string UnknownKey(const YAML::Node& node, const std::set<std::string>& allowed) {
  for (const auto& item : node) {
    std::string key = item.first.as<std::string>();
    if (allowed.count(key) == 0) return key;
  }
  return {};
}

Status ReadPage(const YAML::Node& page, LayoutTemplate& layout) {
  if (!page.IsMap()) return ConfigError(layout.path, "page: must be a map");
  if (auto key = UnknownKey(page, {"size", "orientation", "margin_mm"}); !key.empty()) {
    return ConfigError(layout.path, "page." + key + ": unknown key");
  }
  std::string size = page["size"] ? page["size"].as<std::string>() : "letter";
  if (size == "letter") {
    layout.page_width = 612;
    layout.page_height = 792;
  } else if (size == "a4") {
    layout.page_width = 595.28;
    layout.page_height = 841.89;
  } else {
    return ConfigError(layout.path, "page.size: '" + size + "' is not letter or a4");
  }
  std::string orientation =
      page["orientation"] ? page["orientation"].as<std::string>() : "portrait";
  if (orientation == "landscape") {
    std::swap(layout.page_width, layout.page_height);
  } else if (orientation != "portrait") {
    return ConfigError(layout.path,
                       "page.orientation: '" + orientation + "' is not portrait or landscape");
  }
  double margin_mm = page["margin_mm"] ? page["margin_mm"].as<double>() : 18;
  if (margin_mm < 5 || margin_mm > 60) {
    return ConfigError(layout.path, "page.margin_mm: must be between 5 and 60");
  }
  layout.margin = margin_mm * kPointsPerMm;
  return Status::Ok();
}

Status ReadLocale(const std::string& locale, const YAML::Node& node,
                  const std::vector<std::string>& label_keys, LayoutTemplate& layout) {
  std::string prefix = "labels." + locale;
  if (!node || !node.IsMap()) return ConfigError(layout.path, prefix + ": missing");
  std::set<std::string> allowed(label_keys.begin(), label_keys.end());
  allowed.insert("months");
  if (auto key = UnknownKey(node, allowed); !key.empty()) {
    return ConfigError(layout.path, prefix + "." + key + ": unknown key");
  }
  LocaleLabels labels;
  for (const auto& key : label_keys) {
    if (!node[key] || !node[key].IsScalar()) {
      return ConfigError(layout.path, prefix + "." + key + ": missing");
    }
    labels.text[key] = node[key].as<std::string>();
  }
  if (!node["months"] || !node["months"].IsSequence() || node["months"].size() != 12) {
    return ConfigError(layout.path, prefix + ".months: must list 12 month names");
  }
  for (const auto& month : node["months"]) labels.months.push_back(month.as<std::string>());
  layout.locales[locale] = std::move(labels);
  return Status::Ok();
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
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap()) return ConfigError(path, "must be a YAML map");
    if (auto key = UnknownKey(root, {"page", "font_sizes", "labels"}); !key.empty()) {
      return ConfigError(path, key + ": unknown key");
    }
    if (Status s = ReadPage(root["page"], layout); !s) return s.error();
    YAML::Node fonts = root["font_sizes"];
    if (!fonts || !fonts.IsMap()) return ConfigError(path, "font_sizes: missing");
    if (auto key = UnknownKey(fonts, {font_roles.begin(), font_roles.end()}); !key.empty()) {
      return ConfigError(path, "font_sizes." + key + ": unknown key");
    }
    for (const auto& role : font_roles) {
      if (!fonts[role]) return ConfigError(path, "font_sizes." + role + ": missing");
      double size = fonts[role].as<double>();
      if (size < 4 || size > 72) {
        return ConfigError(path, "font_sizes." + role + ": must be between 4 and 72 points");
      }
      layout.font_sizes[role] = size;
    }
    YAML::Node labels = root["labels"];
    if (!labels || !labels.IsMap()) return ConfigError(path, "labels: missing");
    if (auto key = UnknownKey(labels, {kLocales.begin(), kLocales.end()}); !key.empty()) {
      return ConfigError(path, "labels." + key + ": unknown locale (en, fr)");
    }
    for (const auto& locale : kLocales) {
      if (Status s = ReadLocale(locale, labels[locale], keys, layout); !s) return s.error();
    }
  } catch (const YAML::BadFile&) {
    return MakeError(ErrorCode::kConfig, "cannot read the layout template", path);
  } catch (const YAML::Exception& e) {
    return ConfigError(path + ":" + std::to_string(e.mark.line + 1), e.msg);
  }
  return layout;
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
