// actorvol: a Docker volume plugin on the actor model.
//
// main() wires the two halves: net/ (HTTP on a Unix socket, one I/O thread) and the actors
// (the NET actor, the REGISTRY, one VOLUME per volume, the blocking WORKER pool).

#include "actors/log.hpp"
#include "actors/system.hpp"
#include "adaptors/failpoint.hpp"
#include "net/server.hpp"
#include "plugin/config.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <caf/all.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#ifndef ACTORVOL_VERSION
#define ACTORVOL_VERSION "0.0.0"
#endif

using namespace actorvol;

namespace {

int serve(const config& cfg) {
  log::set_level(*log::parse_level(cfg.log_level));
  if (auto err = failpoint::configure_from_env(); !err.empty()) {
    std::cerr << "actorvol: ACTORVOL_FAILPOINTS: " << err << "\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);

  caf::actor_system_config caf_cfg;
  caf_cfg.set("logger.console-verbosity", caf::atom("quiet"));
  // One shared job queue: idle scheduler threads sleep instead of polling each other's
  // queues (work stealing spins on a 2-core host and slows spawning 100k VOLUMEs).
  caf_cfg.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system sys{caf_cfg};
  reconciler_options reconcile{cfg.docker_socket, std::chrono::seconds(cfg.reconcile_interval),
                               std::chrono::seconds(cfg.reconcile_grace)};
  plugin_system actors{sys, {cfg.root, cfg.scope, static_cast<size_t>(cfg.workers), reconcile, {}}};

  boost::asio::io_context ioc{1};
  auto server = std::make_shared<net::listener>(
    ioc,
    net::server_options{cfg.socket, static_cast<size_t>(cfg.max_connections),
                        std::chrono::seconds(cfg.idle_timeout)},
    [&actors](api_request req, api_responder respond) {
      caf::anon_send(actors.gateway(), atom::handle::value, std::move(req),
                     std::move(respond));
    });
  // Catch the signals before the socket opens: a client may connect, and a supervisor send
  // SIGTERM, as soon as it exists, and that must still stop us cleanly (socket removed, exit
  // 0). A signal before ioc.run() waits there; the handler then stops the server at once.
  boost::asio::signal_set signals{ioc, SIGTERM, SIGINT};
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec)
      return;
    log::write(log::level::info, {{"event", "stop"}, {"signal", std::to_string(sig)}});
    server->stop();
  });
  if (auto err = server->open(); !err.empty()) {
    log::write(log::level::error, {{"event", "start"}, {"result", err}});
    return 1;
  }
  auto recovered = actors.start();
  if (!recovered) {
    log::write(log::level::error, {{"event", "start"}, {"result", render(recovered.error())}});
    server->stop();
    return 1;
  }
  log::write(log::level::info, {{"event", "start"},
                                {"socket", cfg.socket},
                                {"root", cfg.root},
                                {"volumes", std::to_string(*recovered)},
                                {"version", ACTORVOL_VERSION}});

  server->run();
  ioc.run();  // returns when the socket is closed and the last answer is written

  actors.stop();
  log::write(log::level::info, {{"event", "stopped"}});
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parse_command_line(args, [](const char* name) { return std::getenv(name); });
  if (std::holds_alternative<show_help>(parsed)) {
    std::cout << usage_text();
    return 0;
  }
  if (std::holds_alternative<show_version>(parsed)) {
    std::cout << "actorvol " << ACTORVOL_VERSION << "\n";
    return 0;
  }
  if (auto bad = std::get_if<usage_error>(&parsed)) {
    std::cerr << "actorvol: " << bad->message << "\n\n" << usage_text();
    return 2;
  }
  return serve(std::get<config>(parsed));
}
