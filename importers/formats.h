// The input formats credd reads: the one list, which config, credctl, the pipeline and the
// importer table (importer.h) all use. Header-only, so config can read it without linking
// the importers.
#pragma once

#include "common/enum_table.h"

namespace credd {

enum class Format { kCsv, kPesc, kPdfManifest };

inline constexpr EnumTable<Format, 3> kFormats{{{
    {Format::kCsv, "csv"},
    {Format::kPesc, "pesc"},
    {Format::kPdfManifest, "pdf-manifest"},
}}};

}  // namespace credd
