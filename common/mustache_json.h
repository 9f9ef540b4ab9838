// JSON values as kainjow mustache data, for every template credd renders (emails, pages),
// so that callers build their values with nlohmann::json alone.
// Thread contract: a pure function.
#pragma once

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

namespace credd {

// Objects and arrays nest ({{#documents}}...{{/documents}}); numbers render as JSON writes
// them; null and the empty string render as nothing and skip their sections.
kainjow::mustache::data ToMustache(const nlohmann::json& value);

}  // namespace credd
