#pragma once

// A small blocking HTTP/1.1 client on a Unix socket (Boost.Beast), and the one question
// actorvol asks the Docker Engine API: which volumes do live containers reference?

#include "actors/interfaces.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <set>
#include <string>

namespace actorvol::net {

/// A GET of `target` over the Unix socket `socket_path`; the whole exchange is bounded by
/// `timeout`. Returns the body of a 2xx answer.
caf::expected<std::string> http_get(const std::string& socket_path, const std::string& target,
                                    std::chrono::milliseconds timeout);

/// The names of the volumes referenced by containers that are neither exited nor dead,
/// parsed from the body of GET /containers/json?all=1.
caf::expected<std::set<std::string>> referenced_volumes(const std::string& containers_json);

/// Asks the Docker Engine on `socket_path` (GET /containers/json?all=1).
caf::expected<std::set<std::string>> docker_referenced_volumes(
  const std::string& socket_path, std::chrono::milliseconds timeout);

/// The DOCKER PROBE the RECONCILER asks: each atom::get asks the Docker Engine on
/// `socket_path` (blocking, up to 10 s), so spawn it detached.
docker_probe_actor::behavior_type docker_probe(docker_probe_actor::pointer self,
                                               std::string socket_path);

} // namespace actorvol::net
