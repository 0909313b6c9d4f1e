#pragma once

// What Get, Path and List answer, published where the I/O thread can read it without a
// message to any actor. Each VOLUME publishes its volume's description right before it
// answers a request: a client that heard an answer finds the view knowing of it, so a Get
// answered here is as current as one answered by the VOLUME. The REGISTRY publishes the
// volumes that sleep from start-up on, answers List from the view too (so List and Get see
// each change at the same instant), and takes out the names it forgets. A volume that is not
// here, or whose VOLUME answers for itself for now (re-attaching its uses at start), is asked
// through the actors.
//
// List stays with the REGISTRY, which reads every slot while the view is held still: a
// publish waits for that (VOLUMEs run on several threads, and a List that read slot after
// slot while they published could show a later volume without an earlier one that a Get
// had already seen). A Get reads one slot and never waits.
//
// Sharded by name, each shard behind its own mutex held only to look up one slot; a slot's
// entry is swapped atomically: a reader never waits for a VOLUME, and VOLUMEs never meet.

#include "core/types.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace actorvol {

class read_view {
public:
  /// One published description.
  struct entry {
    volume_info info;
    bool exists = false;  // false: removed (until the REGISTRY forgets the name)
    bool reads = false;   // Get and Path may be answered from `info`
    /// When a Get may next ask the VOLUME to read its backend's status again (steady-clock
    /// nanoseconds): at most once a second per volume, not once per Get.
    mutable std::atomic<int64_t> next_hint{0};

    /// Whether Get and Path may be answered from this entry (else: ask the actors).
    bool answers_reads() const {
      return exists && reads;
    }
  };
  using entry_ptr = std::shared_ptr<const entry>;

  /// Where one volume's entry is published. The REGISTRY opens it when it takes the name on
  /// and keeps it (List reads it without a lookup); the volume's VOLUME publishes into it. A
  /// withdrawn slot is no longer found by name, so a late publish into it is never seen.
  class slot {
  public:
    /// The latest entry, or nullptr (nothing published yet: ask the actors).
    entry_ptr load() const {
      return std::atomic_load_explicit(&current_, std::memory_order_acquire);
    }

  private:
    friend class read_view;
    entry_ptr current_;
  };
  using slot_ptr = std::shared_ptr<slot>;

  /// The slot of `name`, made (empty) if there is none.
  slot_ptr open(const std::string& name);

  /// Publishes a volume's state into its slot; `status_fresh`: the backend's status was just
  /// read (no refresh for a second). Waits while a List holds the view still.
  void publish(slot& into, const volume_info& info, bool exists, bool reads,
               bool status_fresh);

  /// Counts every publish and withdrawal: the same number, the same view.
  uint64_t version() const {
    return version_.load(std::memory_order_acquire);
  }

  /// Holds every publish off while the caller reads slots (List: one instant for all).
  std::unique_lock<std::shared_mutex> hold_still() const {
    return std::unique_lock<std::shared_mutex>(gate_);
  }

  /// How many volumes exist and how many mount uses they hold, summed shard by shard (not
  /// at one instant: for metrics). Walked again only when the view changed since the last
  /// call, so a flood of scrapes costs nothing while nothing changes.
  struct totals {
    uint64_t volumes = 0;
    uint64_t uses = 0;
  };
  totals count() const;

  /// The description of `name`, or nullptr (ask the actors).
  entry_ptr find(const std::string& name) const;

  /// Takes `name` out (the REGISTRY forgot it).
  void withdraw(const std::string& name);

  /// Whether a Get of this entry should ask for a refresh of the status now; claims the
  /// next second's turn when it does.
  static bool claim_hint(const entry& e);

private:
  struct shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, slot_ptr> vols;
  };
  shard& shard_of(const std::string& name) const;

  mutable std::array<shard, 64> shards_;
  mutable std::shared_mutex gate_;  // publishes share it; a List holds it alone
  mutable std::mutex counted_mu_;
  mutable uint64_t counted_version_ = ~uint64_t{0};  // guarded by counted_mu_
  mutable totals counted_;                           // guarded by counted_mu_
  std::atomic<uint64_t> version_{0};
};

using ViewPtr = std::shared_ptr<read_view>;

/// What List answers: the published entries of the volumes that exist, in name order, at one
/// instant (the entries themselves, not copies). Shared: while the view does not change, the
/// next List gets the same one, and its text is rendered once (by whoever renders it first,
/// the I/O thread) and kept with it.
struct listing {
  std::vector<read_view::entry_ptr> entries;
  mutable std::once_flag rendered_once;
  mutable std::string rendered;
};
using view_listing = std::shared_ptr<const listing>;

} // namespace actorvol

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorvol::view_listing)
