// Owning handles for the C objects rendering uses (cairo, Pango/GObject, fontconfig), so
// every early return releases what was made. Thread contract: plain values, no sharing.
#pragma once

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <glib-object.h>
#include <pango/pango.h>

#include <memory>

namespace credd::render {

// Calls F on a non-null pointer; a unique_ptr deleter with no state.
template <typename T, void (*F)(T*)>
struct CDeleter {
  void operator()(T* p) const {
    if (p != nullptr) F(p);
  }
};

// GObjects (PangoLayout, PangoContext, PangoFontMap) are reference counted.
struct GObjectDeleter {
  void operator()(void* p) const {
    if (p != nullptr) g_object_unref(p);
  }
};

template <typename T>
using GObjectPtr = std::unique_ptr<T, GObjectDeleter>;
using CairoSurfacePtr =
    std::unique_ptr<cairo_surface_t, CDeleter<cairo_surface_t, cairo_surface_destroy>>;
using CairoPtr = std::unique_ptr<cairo_t, CDeleter<cairo_t, cairo_destroy>>;
using FontOptionsPtr = std::unique_ptr<cairo_font_options_t,
                                       CDeleter<cairo_font_options_t, cairo_font_options_destroy>>;
using FontDescriptionPtr =
    std::unique_ptr<PangoFontDescription,
                    CDeleter<PangoFontDescription, pango_font_description_free>>;
using AttrListPtr = std::unique_ptr<PangoAttrList, CDeleter<PangoAttrList, pango_attr_list_unref>>;
using FcConfigPtr = std::unique_ptr<FcConfig, CDeleter<FcConfig, FcConfigDestroy>>;
using FcCharSetPtr = std::unique_ptr<FcCharSet, CDeleter<FcCharSet, FcCharSetDestroy>>;

}  // namespace credd::render
