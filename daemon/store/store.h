// A handle on credd's database: one open connection. Every operation of daemon/store/ takes
// a Store&, and nothing outside daemon/store/ sees libpqxx or SQL. The HTTP handlers borrow
// theirs from a StorePool (store_pool.h).
// Thread contract: a Store is used by one thread at a time.
#pragma once

#include <memory>

namespace credd {

class Store {
 public:
  // The connection itself; defined in daemon/store/internal/pq.h, which only the store's
  // own files include.
  struct Connection;

  explicit Store(std::unique_ptr<Connection> connection);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The server's version as libpq reports it (150004 for 15.4), for the log.
  int ServerVersion();
  // False once the connection is known to be broken (a pool then drops it).
  bool IsOpen();

  Connection& connection() { return *connection_; }

 private:
  std::unique_ptr<Connection> connection_;
};

}  // namespace credd
