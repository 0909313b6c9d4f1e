#pragma once

// Maps a request path to one of the protocol's nine endpoints (pure).

#include "net/api.hpp"

#include <optional>
#include <string_view>

namespace actorvol::net {

/// The endpoint for `path` (e.g. "/VolumeDriver.Mount"), or nothing for an unknown path.
std::optional<endpoint> route(std::string_view path);

/// The path of an endpoint, e.g. "/VolumeDriver.Mount".
std::string_view path_of(endpoint ep);

} // namespace actorvol::net
