// The only fonts a document may use (Noto Sans Regular/Bold and Noto Sans Canadian
// Aboriginal from fonts-noto-core), loaded into a private fontconfig configuration so the
// output never depends on what else is installed; and the text check that goes with them.
// Thread contract: immutable after Load(); PrepareText may be called from any thread, the
// Pango font map is not thread-safe (the Renderer serialises its use).
#pragma once

#include <pango/pangocairo.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "daemon/render/gfx_handles.h"

namespace credd::render {

class DocumentFonts {
 public:
  // Where fonts-noto-core puts its files.
  static constexpr const char* kNotoDir = "/usr/share/fonts/truetype/noto";
  // The family list every layout asks for: Latin first, Syllabics as fallback.
  static constexpr const char* kFamilies = "Noto Sans, Noto Sans Canadian Aboriginal";

  // Loads the font files from `font_dir`. kConfig when one is missing or unreadable.
  static Result<std::unique_ptr<DocumentFonts>> Load(const std::string& font_dir = kNotoDir);

  // The text as it will be drawn: NFC-normalised, tabs and line breaks turned into spaces.
  // kData (message "<field>: ...") when it is not UTF-8, holds another control character,
  // or holds a character no document font covers; the message names that character.
  // Line breaks become spaces unless `keep_line_breaks` (a credential title written on
  // several lines keeps them: the layout draws each line).
  Result<std::string> PrepareText(std::string_view field, std::string_view text,
                                  bool keep_line_breaks = false) const;

  PangoFontMap* font_map() const { return font_map_.get(); }
  // The font files loaded, for messages and tests.
  const std::vector<std::string>& files() const { return files_; }

 private:
  DocumentFonts() = default;

  FcConfigPtr config_;
  FcCharSetPtr coverage_;  // Union of the loaded fonts' character sets.
  GObjectPtr<PangoFontMap> font_map_;
  std::vector<std::string> files_;
};

}  // namespace credd::render
