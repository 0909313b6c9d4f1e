#pragma once

// The NET actor: the one door from net/ into the actors. It turns each parsed api_request
// into a typed message for the REGISTRY and calls the responder with the answer. It never
// waits: each request is a non-blocking request/then.

#include "actors/interfaces.hpp"
#include "net/api.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <string>
#include <unordered_map>

namespace actorvol::net {

using net_actor = caf::typed_actor<
  // Handles one request; the responder is called exactly once.
  caf::reacts_to<atom::handle, api_request, api_responder>,
  // A request whose successful answer could not be delivered (the client went away):
  // a Mount is undone, since Docker sends no Unmount for a Mount it never heard succeed.
  // `done` is called once that is settled (undone, failed, or nothing to undo): the server
  // keeps its I/O loop, and so the process, running until then.
  caf::reacts_to<atom::undo, api_request, api_responder>,
  // (From itself, once a second while requests wait) answers those older than the limit.
  caf::reacts_to<atom::timeout>>;

/// The requests the NET actor has forwarded and not yet answered. Their limit is checked by
/// one sweep a second, not by a timeout per request: each CAF timeout wakes CAF's clock
/// thread, a thread switch per request.
struct net_state {
  struct waiting {
    std::string name;  // the volume, for the timeout's text
    api_responder respond;
    std::chrono::steady_clock::time_point due;
    std::chrono::milliseconds limit;  // the one it was given, for the timeout's text
  };
  uint64_t next = 0;
  std::unordered_map<uint64_t, waiting> waiting_for;
  bool sweeping = false;  // a sweep is scheduled
  static inline const char* name = "net";
};

/// The NET actor's behaviour. `limits` bound each request to the REGISTRY (Create and Mount
/// by the long one, the rest by the short one): the VOLUMEs answer within their own
/// deadlines, so this is only a safety net (a state write that hangs while committing); a
/// Mount that succeeds after its client heard the timeout is undone. `scope` is what
/// Capabilities reports.
net_actor::behavior_type net_actor_behavior(net_actor::stateful_pointer<net_state> self,
                                            registry_actor registry, std::string scope,
                                            deadlines limits);

} // namespace actorvol::net
