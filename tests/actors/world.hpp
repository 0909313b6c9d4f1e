#pragma once

// One actor system running one scenario under one schedule (internal; scenarios include
// harness.hpp): the real REGISTRY and VOLUMEs with the mocks of mocks.hpp on CAF's test
// scheduler. The explorer asks it what can run (enabled), runs one step (execute) and checks
// the invariants (check_step after every step, check_final at the end; invariants.cpp).

#include "actors/harness.hpp"
#include "actors/mocks.hpp"
#include "actors/registry.hpp"
#include "actors/journal_store.hpp"
#include "actors/volume.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace actorvol::harness::detail {

using volume_impl = volume_actor::stateful_base<volume_state>;
using registry_impl = registry_actor::stateful_base<registry_state>;

// A choice the explorer can make: let one ready actor handle a message, or a harness event.
struct choice {
  uint64_t key;       // the actor id (stable across replays), or an event key
  int group;          // the volume it works on, or -1 (for the random mode's slow bias)
  std::string label;
  friend bool operator==(const choice& x, const choice& y) {
    return x.key == y.key;
  }
};

constexpr uint64_t shutdown_key = ~uint64_t{0};

// What one step touched: the actor that ran, the mailboxes it put messages into, whether it
// spawned actors (ids are handed out in order, so spawning steps never commute), whether
// it was a client's (clients share the history's clock), and the backing store it used.
struct footprint {
  uint64_t self = 0;
  std::set<uint64_t> targets;
  bool spawned = false;
  bool client = false;
  std::string resource;
};

// A directory for the state store: /dev/shm when there is one (fsync is free there).
class scratch_dir {
public:
  scratch_dir();
  ~scratch_dir();
  const std::filesystem::path& path() const {
    return path_;
  }

private:
  std::filesystem::path path_;
};

class world {
public:
  world(const scenario& sc);
  ~world();

  world(const world&) = delete;
  world& operator=(const world&) = delete;

  // -- what the explorer sees (world.cpp) --------------------------------------------------

  std::vector<choice> enabled();
  footprint execute(const choice& c);

  // -- invariants (invariants.cpp) ---------------------------------------------------------

  // Checked after every step.
  std::vector<std::string> check_step();
  // Checked when no actor is ready any more.
  std::vector<std::string> check_final();

  // -- for the clients, runners and the worker (world.cpp) ---------------------------------

  size_t begin_op(int client, const request& rq);
  lin::operation& end_op(size_t i);
  void end_err(size_t i, const caf::error& err);

  void runner_spawned(caf::actor_id id, const std::string& volume) {
    runner_volume_[id] = volume;
  }
  void job_started(const std::string& volume) {
    ++in_flight_[volume];
  }
  void job_ran(const std::string& volume) {
    --in_flight_[volume];
    jobs_.emplace_back(2 * now_, volume);
  }

  const registry_actor& registry_handle() const {
    return registry_;
  }

  // The name of the VOLUME behind `sender` (empty when it is not a VOLUME).
  std::string volume_of(const caf::strong_actor_ptr& sender);

  const lin::history& history() const {
    return history_;
  }
  const std::vector<std::pair<int64_t, std::string>>& jobs() const {
    return jobs_;
  }
  std::vector<std::string> take_extra_replies() {
    return std::move(extra_replies_);
  }

private:
  // The state of a mailbox before a step: whether it was blocked, else how many it held.
  struct seen {
    bool blocked;
    size_t size;
  };

  void run_setup();
  void spawn_client(int index, std::vector<request> script);
  void track(caf::strong_actor_ptr p);
  void discover();
  registry_impl* registry();
  std::vector<volume_impl*> volumes();
  bool queued(volume_impl* vol) const;
  // A job of this VOLUME is in flight (its later changes wait in its own queue).
  static bool awaiting(volume_impl* vol) {
    return vol->state.busy() || !vol->state.queue.empty();
  }
  std::string name_of(volume_impl* vol);
  int group_of(const std::string& volume) const;
  bool clients_busy() const;
  choice classify(caf::scheduled_actor* a);

  // execute()'s halves: the mailboxes before a step, and what changed after it.
  std::map<caf::actor_id, seen> mailboxes_except(caf::actor_id running);
  void note_mail(const choice& c, const std::map<caf::actor_id, seen>& before, footprint& fp);
  void run_step(const choice& c, footprint& fp);

  // check_final()'s parts (invariants.cpp).
  void check_replies(std::vector<std::string>& v);
  void check_registry(std::vector<std::string>& v);
  void check_disk(std::vector<std::string>& v, const std::map<std::string, volume_impl*>& live);
  void check_lists(std::vector<std::string>& v);

  const scenario& sc_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  scratch_dir dir_;
  std::shared_ptr<mock_adaptor> adaptor_;
  StorePtr store_;
  ViewPtr view_ = std::make_shared<read_view>();  // List, Get and Path read it, as in the plugin
  worker_actor worker_;
  registry_actor registry_;
  std::set<caf::actor_id> mapped_;  // the VOLUMEs the REGISTRY maps (last seen, once it is gone)
  std::map<std::string, int> groups_;
  std::map<caf::actor_id, caf::actor> known_;
  std::set<caf::actor_id> alive_;
  std::map<caf::actor_id, int> clients_;
  std::map<std::string, int> in_flight_;
  std::map<caf::actor_id, std::string> runner_volume_;
  lin::history history_;
  std::vector<std::pair<int64_t, std::string>> jobs_;
  std::vector<std::string> extra_replies_;
  lin::model model_;
  int64_t now_ = 0;
  caf::actor_id max_id_ = 0;
  bool shutdown_sent_ = false;
};

} // namespace actorvol::harness::detail
