#pragma once

// The harness's stand-ins (internal; scenarios include harness.hpp): the mock adaptor with
// injectable failures, the mock WORKER that hands every job to its own one-shot runner, and
// the scripted clients. They report what they do to the world (world.hpp).

#include "actors/harness.hpp"
#include "actors/interfaces.hpp"

#include <caf/all.hpp>

#include <map>
#include <string>
#include <vector>

namespace actorvol::harness::detail {

class world;

/// Where the mock adaptor "mounts" volume `name`.
std::string mock_mountpoint(const std::string& name);

/// Whether `faults` fail the `nth` call of `op` on `volume` (the adaptor's and the store's).
bool faulted(const std::vector<fault>& faults, const std::string& volume, const std::string& op,
             int nth);

// -- the mock adaptor --------------------------------------------------------------------

class mock_adaptor : public adaptor {
public:
  struct vol {
    bool created = false;
    bool attached = false;
    std::map<std::string, int> calls;
  };

  std::map<std::string, vol> vols;
  std::vector<fault> faults;
  std::vector<std::string> violations;
  bool quick_mode = false;  // scenario::quick: nothing is attached, as for a directory

  bool accepts(const volume_opts&) const override;
  caf::error validate(const volume_spec& v) const override;
  caf::error create(const volume_spec& v) override;
  caf::error remove(const volume_spec& v) override;
  caf::expected<std::string> mount(const volume_spec& v) override;
  caf::error unmount(const volume_spec& v) override;
  status_map status(const volume_spec&) override;
  bool quick() const override {
    return quick_mode;
  }
  bool detaches() const override {
    return !quick_mode;
  }

private:
  caf::error injected(const std::string& name, const std::string& op);
};

// -- the mock WORKER, its one-shot runners, and the clients ------------------------------

struct runner_state {
  world* w = nullptr;
  std::string volume;
  static inline const char* name = "runner";
};
using runner_impl = worker_actor::stateful_base<runner_state>;

struct mock_worker_state {
  world* w = nullptr;
  static inline const char* name = "mock-worker";
};
using mock_worker_impl = worker_actor::stateful_base<mock_worker_state>;

struct client_state {
  world* w = nullptr;
  int index = 0;
  std::vector<request> script;
  size_t next = 0;
  static inline const char* name = "client";
};
using client_impl = caf::stateful_actor<client_state>;

/// Runs one job, tells the world, and quits.
worker_actor::behavior_type runner(worker_actor::stateful_pointer<runner_state> self,
                                   world* w, std::string volume);

/// Spawns a runner for every job it gets and delegates the job to it.
worker_actor::behavior_type mock_worker(worker_actor::stateful_pointer<mock_worker_state> self,
                                        world* w);

/// Sends the requests of `script` to the REGISTRY one after another, recording each call
/// and reply in the world's history.
caf::behavior client(client_impl* self, world* w, int index, std::vector<request> script);

} // namespace actorvol::harness::detail
