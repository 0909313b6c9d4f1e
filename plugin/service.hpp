#pragma once

// What a service manager (systemd) hands actorvol and is told by it, through libsystemd:
// the listening socket of socket activation, and readiness and shutdown notices. Started
// without systemd (no LISTEN_FDS, no NOTIFY_SOCKET), each call is a no-op.

#include <string>

namespace actorvol::service {

/// The listening socket passed by socket activation.
struct passed_socket {
  int fd = -1;        // -1: none was passed (bind --socket as usual)
  std::string error;  // sockets were passed, but not exactly one
};

/// Takes the sockets systemd passed (clearing LISTEN_FDS and LISTEN_PID, so that children
/// never see them).
passed_socket take_listen_socket();

/// Tells the manager that start-up (recovery) is done and requests are served.
void notify_ready(const std::string& status);

/// Tells the manager that actorvol is stopping (in-flight requests still finish).
void notify_stopping();

} // namespace actorvol::service
