// A strict reader of YAML mappings (yaml-cpp underneath), shared by credd.yaml and the
// layout templates: typed getters that record problems instead of throwing, each naming the
// key's path and line, and Finish(), which reports every key nobody asked for. Unknown keys
// are errors because a misspelt key silently falling back to its default is the worst kind
// of config bug; a repeated key is one too (yaml-cpp would keep the first silently).
// Thread contract: one YamlMap per thread; its problems vector is the caller's.
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/enum_table.h"
#include "common/yaml_problem.h"

namespace credd {

// The 1-based line a node starts on; 0 when yaml-cpp does not know.
int NodeLine(const YAML::Node& node);
// How a value shows up in "expected X, got Y" messages: 'text', a list, a mapping, nothing.
std::string Describe(const YAML::Node& node);
bool Contains(std::span<const std::string_view> allowed, std::string_view value);
// "a, b, c" for messages that list the accepted values.
std::string JoinList(std::span<const std::string_view> items);
// 4 or 4.5, as a person would write the number.
std::string FormatNumber(double value);

// Parses `text` and reads its root mapping with read(YamlMap&), then reports unknown keys.
// A syntax error, or a document that is not a mapping, is one problem (listing every
// required key as missing on top of it would bury the real one).
template <typename ReadFn>
void ReadYamlDocument(const std::string& text, std::vector<YamlProblem>* problems, ReadFn&& read);

class YamlMap {
 public:
  enum class Need { kOptional, kRequired };

  YamlMap(const YAML::Node& node, std::string path, std::vector<YamlProblem>* problems)
      : path_(std::move(path)), problems_(problems), line_(NodeLine(node)) {
    if (node.IsNull()) return;  // "key:" with nothing after it reads as an empty mapping.
    if (!node.IsMap()) {
      problems_->push_back({path_, "expected a mapping, got " + Describe(node), line_});
      return;
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) {
        problems_->push_back(
            {path_, "expected a string key, got " + Describe(it->first), NodeLine(it->first)});
        continue;
      }
      const std::string key = it->first.Scalar();
      // yaml-cpp keeps both copies of a repeated key and returns the first, so the second
      // would be silently ignored.
      if (Find(key) != nullptr) {
        problems_->push_back({PathOf(key), "duplicate key", NodeLine(it->first)});
        continue;
      }
      entries_.push_back(Entry{key, it->first, it->second});
    }
  }

  std::string PathOf(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  // The line of key's value; for an absent key, the line of this mapping (0 at the root,
  // where "line 1" would only mislead).
  int LineOf(const std::string& key) const {
    const Entry* entry = Find(key);
    if (entry != nullptr) return NodeLine(entry->value);
    return path_.empty() ? 0 : line_;
  }

  void Problem(const std::string& key, int line, std::string message) {
    problems_->push_back({PathOf(key), std::move(message), line});
  }
  void Problem(const std::string& key, std::string message) {
    Problem(key, LineOf(key), std::move(message));
  }

  // Each getter leaves *out untouched (its default) when the key is absent or null, and
  // returns true only when it stored a value.
  bool String(const std::string& key, std::string* out, Need need = Need::kOptional) {
    const YAML::Node* node = Take(key, need);
    if (node == nullptr) return false;
    if (!node->IsScalar()) {
      Problem(key, "expected a string, got " + Describe(*node));
      return false;
    }
    if (need == Need::kRequired && node->Scalar().empty()) {
      Problem(key, "must not be empty");
      return false;
    }
    *out = node->Scalar();
    return true;
  }

  bool Int(const std::string& key, int* out, int min, int max, Need need = Need::kOptional) {
    const YAML::Node* node = Take(key, need);
    if (node == nullptr) return false;
    const std::string text = node->IsScalar() ? node->Scalar() : std::string();
    long long value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    const bool consumed_all = end == text.data() + text.size();
    if (!node->IsScalar() || text.empty() || !consumed_all ||
        (error != std::errc() && error != std::errc::result_out_of_range)) {
      Problem(key, "expected an integer, got " + Describe(*node));
      return false;
    }
    if (error == std::errc::result_out_of_range || value < min || value > max) {
      Problem(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                       ", got " + text);
      return false;
    }
    *out = static_cast<int>(value);
    return true;
  }

  // A number (integer or decimal) within [min, max].
  bool Double(const std::string& key, double* out, double min, double max,
              Need need = Need::kOptional) {
    const YAML::Node* node = Take(key, need);
    if (node == nullptr) return false;
    const std::string text = node->IsScalar() ? node->Scalar() : std::string();
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!node->IsScalar() || text.empty() || end != text.data() + text.size() ||
        error != std::errc()) {
      Problem(key, "expected a number, got " + Describe(*node));
      return false;
    }
    if (value < min || value > max) {
      Problem(key, "must be between " + FormatNumber(min) + " and " + FormatNumber(max) + ", got " +
                       text);
      return false;
    }
    *out = value;
    return true;
  }

  // A value of an enum with one table (common/enum_table.h).
  template <typename E, std::size_t N>
  bool Enum(const std::string& key, E* out, const EnumTable<E, N>& table) {
    std::string value;
    if (!String(key, &value)) return false;
    const std::optional<E> parsed = table.Parse(value);
    if (!parsed) {
      Problem(key, "must be one of " + table.List() + "; got '" + value + "'");
      return false;
    }
    *out = *parsed;
    return true;
  }

  bool Enum(const std::string& key, std::string* out, std::span<const std::string_view> allowed) {
    std::string value;
    if (!String(key, &value)) return false;
    if (!Contains(allowed, value)) {
      Problem(key, "must be one of " + JoinList(allowed) + "; got '" + value + "'");
      return false;
    }
    *out = std::move(value);
    return true;
  }

  // A list of strings; lines (optional) receives each element's line for later checks.
  bool StringList(const std::string& key, std::vector<std::string>* out,
                  std::vector<int>* lines = nullptr, Need need = Need::kOptional) {
    const YAML::Node* node = Take(key, need);
    if (node == nullptr) return false;
    if (!node->IsSequence()) {
      Problem(key, "expected a list, got " + Describe(*node));
      return false;
    }
    std::vector<std::string> values;
    bool ok = true;
    for (std::size_t i = 0; i < node->size(); ++i) {
      const YAML::Node item = (*node)[i];
      const std::string item_key = key + "[" + std::to_string(i) + "]";
      if (!item.IsScalar()) {
        Problem(item_key, NodeLine(item), "expected a string, got " + Describe(item));
        ok = false;
        continue;
      }
      values.push_back(item.Scalar());
      if (lines != nullptr) lines->push_back(NodeLine(item));
    }
    if (ok) *out = std::move(values);
    return ok;
  }

  // Runs read(YamlMap&) on a nested mapping and then reports its unknown keys. Returns
  // false only when the value is there but is not a mapping (or is required and absent).
  template <typename ReadFn>
  bool Map(const std::string& key, ReadFn&& read, Need need = Need::kOptional) {
    const YAML::Node* node = Take(key, need);
    if (node == nullptr) return need == Need::kOptional;
    if (!node->IsMap()) {
      Problem(key, "expected a mapping, got " + Describe(*node));
      return false;
    }
    YamlMap child(*node, PathOf(key), problems_);
    read(child);
    child.Finish();
    return true;
  }

  // Runs read(YamlMap&, index) on each mapping of a list; returns the list's length, or
  // nothing when the list is absent or is not a list.
  template <typename ReadFn>
  std::optional<std::size_t> List(const std::string& key, Need need, ReadFn&& read) {
    const YAML::Node* node = Take(key, need);
    if (node == nullptr) return std::nullopt;
    if (!node->IsSequence()) {
      Problem(key, "expected a list, got " + Describe(*node));
      return std::nullopt;
    }
    for (std::size_t i = 0; i < node->size(); ++i) {
      const YAML::Node item = (*node)[i];
      const std::string item_path = PathOf(key) + "[" + std::to_string(i) + "]";
      if (!item.IsMap()) {
        problems_->push_back(
            {item_path, "expected a mapping, got " + Describe(item), NodeLine(item)});
        continue;
      }
      YamlMap child(item, item_path, problems_);
      read(child, i);
      child.Finish();
    }
    return node->size();
  }

  // For mappings whose keys are data (csv.columns): calls visit(key) for every key.
  template <typename VisitFn>
  void ForEachKey(VisitFn&& visit) {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      entries_[i].consumed = true;
      visit(std::string(entries_[i].key));
    }
  }

  void Finish() {
    for (const Entry& entry : entries_) {
      if (!entry.consumed) {
        problems_->push_back({PathOf(entry.key), "unknown key", NodeLine(entry.key_node)});
      }
    }
  }

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
    bool consumed = false;
  };

  const Entry* Find(const std::string& key) const {
    for (const Entry& entry : entries_) {
      if (entry.key == key) return &entry;
    }
    return nullptr;
  }

  // Marks key as known and returns its value, or nullptr when absent or null (reporting
  // a missing required key).
  const YAML::Node* Take(const std::string& key, Need need) {
    for (Entry& entry : entries_) {
      if (entry.key != key) continue;
      entry.consumed = true;
      if (!entry.value.IsNull()) return &entry.value;
      break;
    }
    if (need == Need::kRequired) Problem(key, "required key is missing");
    return nullptr;
  }

  std::string path_;
  std::vector<YamlProblem>* problems_;
  int line_;
  std::vector<Entry> entries_;
};

template <typename ReadFn>
void ReadYamlDocument(const std::string& text, std::vector<YamlProblem>* problems, ReadFn&& read) {
  try {
    const YAML::Node root_node = YAML::Load(text);
    YamlMap root(root_node, "", problems);
    if (root_node.IsNull() || root_node.IsMap()) {
      read(root);
      root.Finish();
    }
  } catch (const YAML::Exception& e) {
    problems->push_back(
        {"", "YAML syntax error: " + e.msg, e.mark.is_null() ? 0 : e.mark.line + 1});
  } catch (const std::exception& e) {
    problems->push_back({"", std::string("cannot parse: ") + e.what(), 0});
  }
}

}  // namespace credd
