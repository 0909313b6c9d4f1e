#include "plugin/service.hpp"

#include <systemd/sd-daemon.h>

#include <cstring>

namespace actorvol::service {

passed_socket take_listen_socket() {
  passed_socket result;
  int n = sd_listen_fds(1);
  if (n < 0) {
    result.error = std::string{"cannot read the sockets systemd passed: "} + std::strerror(-n);
  } else if (n > 1) {
    result.error = "systemd passed " + std::to_string(n)
                   + " sockets; actorvol serves one (a single ListenStream= in actorvol.socket)";
  } else if (n == 1) {
    result.fd = SD_LISTEN_FDS_START;
  }
  return result;
}

void notify_ready(const std::string& status) {
  auto text = "READY=1\nSTATUS=" + status;
  // NOTIFY_SOCKET stays set for STOPPING=1; systemd takes notices from the main PID only
  // (NotifyAccess=main), so a child that inherits it cannot speak for us.
  sd_notify(0, text.c_str());
}

void notify_stopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

} // namespace actorvol::service
