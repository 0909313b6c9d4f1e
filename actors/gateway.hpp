#pragma once

// The NET actor: the one door from net/ into the actors. It turns a parsed api_request into
// a typed message for the REGISTRY and calls the responder with the answer. It never waits:
// each request is a non-blocking request/then.

#include "actors/interfaces.hpp"

#include <chrono>

namespace actorvol {

/// `limit` bounds every request to the REGISTRY: the VOLUMEs answer within their own
/// deadlines, so this is only a safety net (a state write that hangs while committing).
net_actor::behavior_type gateway(net_actor::pointer self, registry_actor registry,
                                 std::string scope, std::chrono::milliseconds limit);

} // namespace actorvol
