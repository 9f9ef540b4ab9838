// A small pool of Store handles for threads that each need one for a moment (the HTTP
// handlers). Acquire lends an idle handle, or opens one while fewer than `size` are out, or
// waits for one to come back. A handle whose connection broke is closed instead of being
// returned, so an outage costs one failed request per handle, then fresh connections.
// Thread contract: thread-safe; a Lease is used by the thread that acquired it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "common/result.h"
#include "daemon/store/database.h"
#include "daemon/store/store.h"

namespace credd {

class StorePool {
 public:
  StorePool(const Database& database, int size,
            std::chrono::milliseconds wait = std::chrono::seconds(5));
  ~StorePool();
  StorePool(const StorePool&) = delete;
  StorePool& operator=(const StorePool&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), store_(std::move(other.store_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Store& operator*() { return *store_; }
    Store* operator->() { return store_.get(); }

   private:
    friend class StorePool;
    Lease(StorePool* pool, std::unique_ptr<Store> store) : pool_(pool), store_(std::move(store)) {}
    StorePool* pool_;
    std::unique_ptr<Store> store_;
  };

  // kUnavailable when the database cannot be reached, or when every handle stays out
  // for longer than `wait`.
  Result<Lease> Acquire();

 private:
  void Return(std::unique_ptr<Store> store);

  const Database& database_;
  const int size_;
  const std::chrono::milliseconds wait_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Store>> idle_;
  int out_ = 0;  // Handles lent, plus those being opened.
};

}  // namespace credd
