// An enum and its one table of names: the words config, reports, the database and credctl
// use for it. Each enum is declared with its table beside it, so a name is spelled once.
// Thread contract: constant data and pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace credd {

template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};

template <typename E, std::size_t N>
class EnumTable {
 public:
  constexpr explicit EnumTable(const std::array<EnumName<E>, N>& entries) : entries_(entries) {}

  // The value's name; every value of E is in the table, so this never misses.
  constexpr std::string_view Name(E value) const {
    for (const EnumName<E>& entry : entries_) {
      if (entry.value == value) return entry.name;
    }
    return "unknown";
  }

  constexpr std::optional<E> Parse(std::string_view name) const {
    for (const EnumName<E>& entry : entries_) {
      if (entry.name == name) return entry.value;
    }
    return std::nullopt;
  }

  // "a, b, c": for messages that list what is accepted.
  std::string List() const {
    std::string out;
    for (const EnumName<E>& entry : entries_) {
      if (!out.empty()) out += ", ";
      out += entry.name;
    }
    return out;
  }

  constexpr auto begin() const { return entries_.begin(); }
  constexpr auto end() const { return entries_.end(); }
  constexpr std::size_t size() const { return N; }

 private:
  std::array<EnumName<E>, N> entries_;
};

}  // namespace credd
