// Private fontconfig set-up and the per-field text check (NFC + coverage).
#include "daemon/render/document_fonts.h"

#include <pango/pangofc-fontmap.h>
#include <utf8proc.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace credd::render {
namespace {

constexpr const char* kFontFiles[] = {"NotoSans-Regular.ttf", "NotoSans-Bold.ttf",
                                      "NotoSansCanadianAboriginal-Regular.ttf",
                                      "NotoSansCanadianAboriginal-Bold.ttf"};

std::string CodePointName(utf8proc_int32_t cp) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(cp));
  return buffer;
}

std::string Utf8(utf8proc_int32_t cp) {
  utf8proc_uint8_t buffer[4];
  utf8proc_ssize_t n = utf8proc_encode_char(cp, buffer);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(n));
}

struct FreeDeleter {
  void operator()(utf8proc_uint8_t* p) const { std::free(p); }
};

}  // namespace

Result<std::unique_ptr<DocumentFonts>> DocumentFonts::Load(const std::string& font_dir) {
  std::unique_ptr<DocumentFonts> fonts(new DocumentFonts());
  // An empty configuration: no system font directories, no aliases, only our files.
  fonts->config_.reset(FcConfigCreate());
  if (!fonts->config_) return MakeError(ErrorCode::kInternal, "FcConfigCreate failed");
  for (const char* name : kFontFiles) {
    std::string path = (std::filesystem::path(font_dir) / name).string();
    if (!std::filesystem::is_regular_file(path) ||
        !FcConfigAppFontAddFile(fonts->config_.get(),
                                reinterpret_cast<const FcChar8*>(path.c_str()))) {
      return MakeError(ErrorCode::kConfig,
                       "font " + path + " is missing or unreadable (install fonts-noto-core)");
    }
    fonts->files_.push_back(path);
  }
  fonts->coverage_.reset(FcCharSetCreate());
  FcFontSet* set = FcConfigGetFonts(fonts->config_.get(), FcSetApplication);
  for (int i = 0; set != nullptr && i < set->nfont; ++i) {
    FcCharSet* charset = nullptr;
    if (FcPatternGetCharSet(set->fonts[i], FC_CHARSET, 0, &charset) == FcResultMatch) {
      FcCharSetMerge(fonts->coverage_.get(), charset, nullptr);
    }
  }
  // The FreeType font type is the one pango_fc_font_map_set_config applies to.
  fonts->font_map_.reset(pango_cairo_font_map_new_for_font_type(CAIRO_FONT_TYPE_FT));
  if (!fonts->font_map_ || !PANGO_IS_FC_FONT_MAP(fonts->font_map_.get())) {
    return MakeError(ErrorCode::kInternal, "Pango has no fontconfig font map");
  }
  pango_fc_font_map_set_config(PANGO_FC_FONT_MAP(fonts->font_map_.get()), fonts->config_.get());
  return fonts;
}

Result<std::string> DocumentFonts::PrepareText(std::string_view field, std::string_view text,
                                               bool keep_line_breaks) const {
  std::string where(field);
  if (text.empty()) return std::string();
  utf8proc_uint8_t* raw = nullptr;
  utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &raw,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  std::unique_ptr<utf8proc_uint8_t, FreeDeleter> nfc(raw);
  if (n < 0) return MakeError(ErrorCode::kData, where + ": is not valid UTF-8");
  std::string out;
  out.reserve(static_cast<std::size_t>(n));
  for (utf8proc_ssize_t i = 0; i < n;) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t len = utf8proc_iterate(nfc.get() + i, n - i, &cp);
    if (len <= 0) return MakeError(ErrorCode::kData, where + ": is not valid UTF-8");
    i += len;
    if (cp == '\n' && keep_line_breaks) {
      out += '\n';
      continue;
    }
    if (cp == '\t' || cp == '\n' || cp == '\r') {
      out += ' ';
      continue;
    }
    const utf8proc_property_t* property = utf8proc_get_property(cp);
    if (property->category == UTF8PROC_CATEGORY_CC) {
      return MakeError(ErrorCode::kData,
                       where + ": control character " + CodePointName(cp) + " cannot be printed");
    }
    // Default-ignorable characters (ZWJ, soft hyphen, ...) have no glyph by design.
    if (!property->ignorable && !FcCharSetHasChar(coverage_.get(), static_cast<FcChar32>(cp))) {
      return MakeError(ErrorCode::kData, where + ": '" + Utf8(cp) + "' (" + CodePointName(cp) +
                                             ") is not covered by the document fonts");
    }
    out += Utf8(cp);
  }
  return out;
}

}  // namespace credd::render
