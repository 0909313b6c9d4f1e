#pragma once

// The protocol's requests and replies as net/ hands them to the NET actor and gets them back:
// plain values, decoded from and rendered to JSON by net/protocol.

#include "actors/read_view.hpp"
#include "core/error.hpp"
#include "core/types.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace actorvol::net {

/// The nine endpoints of Docker's volume plugin protocol.
enum class endpoint : uint8_t {
  activate,      // /Plugin.Activate
  capabilities,  // /VolumeDriver.Capabilities
  create,        // /VolumeDriver.Create
  get,           // /VolumeDriver.Get
  list,          // /VolumeDriver.List
  mount,         // /VolumeDriver.Mount
  path,          // /VolumeDriver.Path
  unmount,       // /VolumeDriver.Unmount
  remove,        // /VolumeDriver.Remove
};

/// Whether `ep` may change a volume (the rest only read).
constexpr bool changes(endpoint ep) {
  return ep == endpoint::create || ep == endpoint::mount || ep == endpoint::unmount
         || ep == endpoint::remove;
}

/// A parsed request, as a session hands it to the NET actor.
struct api_request {
  endpoint ep = endpoint::activate;
  std::string name;
  std::string id;
  volume_opts opts;
};

/// The answer to one api_request: an error, or the fields its endpoint reports.
struct api_reply {
  caf::error error;
  std::string mountpoint;
  volume_info volume;
  view_listing volumes;  // List's, as published (rendered on the I/O thread)
  std::string scope;
};

/// Called once with the answer to one request; it hands the answer back to its session.
using api_responder = std::function<void(api_reply)>;

} // namespace actorvol::net

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorvol::net::api_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorvol::net::api_responder)
