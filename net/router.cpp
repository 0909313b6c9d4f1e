#include "net/router.hpp"

#include <array>
#include <utility>

namespace actorvol::net {

namespace {

constexpr std::array<std::pair<std::string_view, endpoint>, 9> routes{{
  {"/Plugin.Activate", endpoint::activate},
  {"/VolumeDriver.Capabilities", endpoint::capabilities},
  {"/VolumeDriver.Create", endpoint::create},
  {"/VolumeDriver.Get", endpoint::get},
  {"/VolumeDriver.List", endpoint::list},
  {"/VolumeDriver.Mount", endpoint::mount},
  {"/VolumeDriver.Path", endpoint::path},
  {"/VolumeDriver.Unmount", endpoint::unmount},
  {"/VolumeDriver.Remove", endpoint::remove},
}};

} // namespace

std::optional<endpoint> route(std::string_view path) {
  // A query string plays no part in the protocol.
  if (auto q = path.find('?'); q != std::string_view::npos)
    path = path.substr(0, q);
  for (auto& [p, ep] : routes)
    if (p == path)
      return ep;
  return std::nullopt;
}

std::string_view path_of(endpoint ep) {
  for (auto& [p, e] : routes)
    if (e == ep)
      return p;
  return "/";
}

} // namespace actorvol::net
