#include "common/mustache_json.h"

namespace credd {

namespace mustache = kainjow::mustache;

mustache::data ToMustache(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object: {
      mustache::data object{mustache::data::type::object};
      for (auto item = value.begin(); item != value.end(); ++item) {
        object.set(item.key(), ToMustache(item.value()));
      }
      return object;
    }
    case nlohmann::json::value_t::array: {
      mustache::data list{mustache::data::type::list};
      for (const auto& item : value) list.push_back(ToMustache(item));
      return list;
    }
    case nlohmann::json::value_t::string:
      // kainjow opens a {{#section}} for any string, even an empty one; an empty value
      // means "none" in every template here (no note, no problem, no contact).
      if (value.get_ref<const std::string&>().empty()) return mustache::data{false};
      return mustache::data{value.get<std::string>()};
    case nlohmann::json::value_t::boolean:
      return mustache::data{value.get<bool>()};
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return mustache::data{value.dump()};
    default:
      // null (and discarded values): renders as nothing and skips {{#sections}}.
      return mustache::data{false};
  }
}

}  // namespace credd
