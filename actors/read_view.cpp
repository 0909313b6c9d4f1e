#include "actors/read_view.hpp"

namespace actorvol {

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

constexpr int64_t one_second_ns = 1000 * 1000 * 1000;

} // namespace

read_view::shard& read_view::shard_of(const std::string& name) const {
  return shards_[std::hash<std::string>{}(name) % shards_.size()];
}

read_view::slot_ptr read_view::open(const std::string& name) {
  auto& s = shard_of(name);
  std::lock_guard<std::mutex> lock(s.mu);
  auto& slot = s.vols[name];
  if (!slot)
    slot = std::make_shared<read_view::slot>();
  return slot;
}

read_view::totals read_view::count() const {
  std::lock_guard<std::mutex> hold(counted_mu_);
  auto version = version_.load(std::memory_order_acquire);
  if (version == counted_version_)
    return counted_;
  totals t;
  for (auto& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto& [name, slot] : s.vols)
      if (auto e = slot->load(); e && e->exists) {
        ++t.volumes;
        t.uses += e->info.mounts;
      }
  }
  counted_version_ = version;  // a change during the walk moved the version: walked again
  counted_ = t;
  return t;
}

read_view::entry_ptr read_view::find(const std::string& name) const {
  auto& s = shard_of(name);
  std::lock_guard<std::mutex> lock(s.mu);
  auto i = s.vols.find(name);
  return i == s.vols.end() ? nullptr : i->second->load();
}

void read_view::publish(slot& into, const volume_info& info, bool exists, bool reads,
                        bool status_fresh) {
  auto e = std::make_shared<entry>();
  e->info = info;
  e->exists = exists;
  e->reads = reads;
  if (status_fresh)
    e->next_hint.store(now_ns() + one_second_ns, std::memory_order_relaxed);
  entry_ptr old;  // released outside the lock (by whoever holds it last)
  std::shared_lock<std::shared_mutex> lock(gate_);
  old = std::atomic_exchange_explicit(&into.current_, entry_ptr{std::move(e)},
                                      std::memory_order_acq_rel);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

void read_view::withdraw(const std::string& name) {
  auto& s = shard_of(name);
  slot_ptr old;  // released outside the lock
  std::lock_guard<std::mutex> lock(s.mu);
  auto i = s.vols.find(name);
  if (i != s.vols.end()) {
    old = std::move(i->second);
    s.vols.erase(i);
    version_.fetch_add(1, std::memory_order_acq_rel);
  }
}

bool read_view::claim_hint(const entry& e) {
  auto now = now_ns();
  auto next = e.next_hint.load(std::memory_order_relaxed);
  return now >= next
         && e.next_hint.compare_exchange_strong(next, now + one_second_ns,
                                                std::memory_order_relaxed);
}

} // namespace actorvol
