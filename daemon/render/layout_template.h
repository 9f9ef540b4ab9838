// One document layout read from templates/<kind>/layout.yaml: page geometry, font sizes and
// the labels for each locale. Data only; the drawing code decides where things go.
// Thread contract: immutable after loading; share freely.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace credd::render {

// Labels of one locale. Patterns hold {placeholders} (see Fill).
struct LocaleLabels {
  std::map<std::string, std::string, std::less<>> text;
  std::vector<std::string> months;  // 12 month names, January first.
};

struct LayoutTemplate {
  std::string path;                                       // The YAML file, for messages.
  double page_width = 0;                                  // Points (1/72 inch), after orientation.
  double page_height = 0;                                 // Points.
  double margin = 0;                                      // Points, on all four sides.
  std::map<std::string, double, std::less<>> font_sizes;  // Points, by role.
  std::map<std::string, LocaleLabels, std::less<>> locales;  // "en", "fr".

  // Both assume the key was required at load time (LoadLayoutTemplate checks that).
  const std::string& Label(std::string_view locale, std::string_view key) const;
  double FontSize(std::string_view role) const;
  // "November 28, 2026" / "28 novembre 2026" from an ISO date ("2026-11-28" or a longer
  // ISO 8601 timestamp); the text as given when it is not such a date.
  std::string FormatDate(std::string_view locale, std::string_view iso) const;
};

// Reads `path`. Every key in `font_roles` and `label_keys` must be present for both "en" and
// "fr", and no other key may appear (a typo must not silently fall back). kConfig, naming
// the file and the key path, otherwise.
Result<LayoutTemplate> LoadLayoutTemplate(const std::string& path,
                                          const std::vector<std::string>& font_roles,
                                          const std::vector<std::string>& label_keys);

// Replaces each "{name}" in `pattern` by its value; unknown names stay as written.
std::string Fill(std::string_view pattern,
                 const std::vector<std::pair<std::string_view, std::string_view>>& values);

}  // namespace credd::render
