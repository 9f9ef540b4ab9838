// The store's private side: the libpqxx connection behind a Store, and the one helper that
// turns a libpqxx exception into an Error. Included only by daemon/store/'s own files; the
// store_boundary test fails if anything else includes it (or libpqxx).
#pragma once

#include <exception>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/enum_table.h"
#include "common/result.h"
#include "daemon/store/store.h"

namespace credd {

struct Store::Connection {
  explicit Connection(const std::string& conninfo) : pq(conninfo) {}
  pqxx::connection pq;
};

inline pqxx::connection& Pq(Store& store) { return store.connection().pq; }

// Connection failures and states after which the same work succeeds later become
// kUnavailable; everything else kInternal. `context` says what we did.
Error PqError(const std::string& context, const std::exception& e);

// A PostgreSQL array literal ("{1,2,3}") of integers, passed as one parameter cast to
// bigint[], so that a set-based statement takes a whole chunk in one round trip.
std::string BigintArray(const std::vector<int64_t>& values);
// The same for text (cast to text[]): each element double-quoted, with its quotes and
// backslashes escaped.
std::string TextArray(const std::vector<std::string>& values);

// A state read from a column whose CHECK allows only the table's names (states_pgtest holds
// them equal). A word the table lacks throws, and so becomes the caller's PqError, rather
// than turning silently into some default.
template <typename E, std::size_t N>
E ParseStored(const EnumTable<E, N>& table, const pqxx::field& field) {
  const std::string word = field.as<std::string>();
  if (std::optional<E> value = table.Parse(word)) return *value;
  throw std::runtime_error("unknown state '" + word + "' in column " + field.name());
}

}  // namespace credd
