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

namespace actorvol::net {

using net_actor = caf::typed_actor<
  // Handles one request; the responder is called exactly once.
  caf::reacts_to<atom::handle, api_request, api_responder>,
  // A request whose successful answer could not be delivered (the client went away):
  // a Mount is undone, since Docker sends no Unmount for a Mount it never heard succeed.
  caf::reacts_to<atom::undo, api_request>>;

/// The NET actor's behaviour. `limit` bounds every request to the REGISTRY: the VOLUMEs answer
/// within their own deadlines, so this is only a safety net (a state write that hangs while
/// committing). `scope` is what Capabilities reports.
net_actor::behavior_type net_actor_behavior(net_actor::pointer self, registry_actor registry,
                                            std::string scope, std::chrono::milliseconds limit);

} // namespace actorvol::net
