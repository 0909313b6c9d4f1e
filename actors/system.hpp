#pragma once

// Wiring of the actors layer: the WORKER pool, the adaptors, the state store, the REGISTRY
// (with every volume recovered from disk) and the RECONCILER. Nothing here runs on its own;
// plugin/main.cpp drives it and puts the NET actor (net/) in front of the REGISTRY.

#include "actors/interfaces.hpp"
#include "actors/reconciler.hpp"
#include "actors/store.hpp"
#include "actors/volume.hpp"
#include "actors/worker.hpp"
#include "adaptors/catalog.hpp"

#include <caf/actor_system.hpp>

#include <filesystem>
#include <string>

namespace actorvol {

struct system_options {
  std::filesystem::path root;  // ROOT/state (records), ROOT/volumes (data); made real at start
  std::string scope = "local";
  size_t workers = 16;           // blocking workers kept warm
  reconciler_options reconcile;  // used when `probe` is set
  docker_probe_actor probe;      // asks the Docker Engine (net/docker_client); none: no reconcile
  CatalogPtr adaptors;           // the backends; default_catalog(root) when empty
  size_t max_workers = 1024;     // blocking workers at most (one per slow job in flight)
  deadlines limits;              // per request, queueing included
  std::filesystem::path host_root;  // where the host's / is seen (managed plugin), or empty
  std::filesystem::path secrets;    // the secrets of sshfs volumes; empty: ROOT/secrets
};

class plugin_system {
public:
  plugin_system(caf::actor_system& sys, system_options opts);

  /// Prepares ROOT (resolved to its real path), reads every record, detaches mounts under
  /// ROOT/volumes that no recorded use explains, and spawns the actors. Returns the number
  /// of volumes recovered, or an error.
  caf::expected<size_t> start();

  const registry_actor& registry() const {
    return registry_;
  }

  /// Where Get and Path can be read without a message (see read_view.hpp).
  const ViewPtr& view() const {
    return view_;
  }

  /// Stops every actor of this layer (after the last request has been answered).
  void stop();

  /// Stops the REGISTRY and its VOLUMEs only: every request still waiting is answered
  /// "shutting down", and running jobs are abandoned (shutdown bound).
  void abort_requests();

  /// ROOT as resolved at start.
  const std::filesystem::path& root() const {
    return opts_.root;
  }

private:
  caf::actor_system& sys_;
  system_options opts_;
  worker_pool_actor pool_;
  registry_actor registry_;
  ViewPtr view_ = std::make_shared<read_view>();
  reconciler_actor reconciler_;
};

} // namespace actorvol
