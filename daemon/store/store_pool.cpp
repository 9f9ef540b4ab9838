#include "daemon/store/store_pool.h"

namespace credd {

StorePool::StorePool(const Database& database, int size, std::chrono::milliseconds wait)
    : database_(database), size_(size < 1 ? 1 : size), wait_(wait) {}

StorePool::~StorePool() = default;

StorePool::Lease::~Lease() {
  if (store_) pool_->Return(std::move(store_));
}

Result<StorePool::Lease> StorePool::Acquire() {
  std::unique_lock lock(mu_);
  const bool got = returned_.wait_for(lock, wait_, [&] { return !idle_.empty() || out_ < size_; });
  if (!got) {
    return MakeError(ErrorCode::kUnavailable, "every database connection of the pool (" +
                                                  std::to_string(size_) + ") stayed busy for " +
                                                  std::to_string(wait_.count()) + " ms");
  }
  ++out_;
  if (!idle_.empty()) {
    std::unique_ptr<Store> store = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(store));
  }
  lock.unlock();  // Connecting takes a round trip or more; others may go on meanwhile.
  auto store = database_.Connect();
  if (!store) {
    lock.lock();
    --out_;
    returned_.notify_one();
    return store.error();
  }
  return Lease(this, std::move(*store));
}

void StorePool::Return(std::unique_ptr<Store> store) {
  std::lock_guard lock(mu_);
  --out_;
  if (store->IsOpen()) idle_.push_back(std::move(store));
  returned_.notify_one();
}

}  // namespace credd
