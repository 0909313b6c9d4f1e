// actorvol: a Docker volume plugin on the actor model.
//
// main() wires the two halves: net/ (HTTP on a Unix socket, one I/O thread) and the actors
// (the NET actor, the REGISTRY, one VOLUME per volume, the blocking WORKER pool).

#include "core/log.hpp"
#include "core/threads.hpp"
#include "actors/system.hpp"
#include "adaptors/sys.hpp"
#include "core/failpoint.hpp"
#include "core/metrics.hpp"
#include "net/docker_client.hpp"
#include "net/metrics.hpp"
#include "net/net_actor.hpp"
#include "net/server.hpp"
#include "plugin/check.hpp"
#include "plugin/secret.hpp"
#include "plugin/config.hpp"
#include "plugin/service.hpp"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <caf/all.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#ifndef ACTORVOL_VERSION
#define ACTORVOL_VERSION "0.0.0"
#endif

using namespace actorvol;

namespace {

// Thousands of connections need thousands of descriptors: like Go's runtime, raise the soft
// RLIMIT_NOFILE to the hard limit (children spawned later get the raised limit too).
void raise_open_files_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max)
    return;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
    log::write(log::level::warn, {{"event", "rlimit"}, {"result", os_reason(errno)}});
}

// On a signal, requests in flight get a few seconds to finish; then the actors are told to
// stop, which answers whatever still waits (a hung backend call: "shutting down", its job
// abandoned), so that shutdown has a bound however long a deadline is.
class shutdown_grace {
public:
  ~shutdown_grace() {
    finish();
  }
  void start(std::function<void()> stop_actors) {
    thread_ = std::thread([this, stop_actors] {
      std::unique_lock<std::mutex> lock{mutex_};
      if (cv_.wait_for(lock, std::chrono::seconds(5), [this] { return done_; }))
        return;
      log::write(log::level::warn, {{"event", "stop"},
                                    {"result", "requests still in flight after 5 s: stopping"}});
      stop_actors();
    });
  }
  void finish() {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// The actors layer's options from the command line. The DOCKER PROBE (net/) is handed in:
// the actors never talk to the Docker Engine themselves.
system_options actor_options(const config& cfg, caf::actor_system& sys) {
  system_options opts;
  opts.root = cfg.root;
  opts.scope = cfg.scope;
  opts.workers = static_cast<size_t>(cfg.workers);
  opts.max_workers = static_cast<size_t>(cfg.max_workers);
  opts.reconcile = {std::chrono::seconds(cfg.reconcile_interval),
                    std::chrono::seconds(cfg.reconcile_grace)};
  if (!cfg.docker_socket.empty())
    opts.probe = sys.spawn<caf::detached>(net::docker_probe, cfg.docker_socket);
  opts.limits = {std::chrono::seconds(cfg.mount_timeout), std::chrono::seconds(cfg.op_timeout)};
  opts.host_root = cfg.host_root;
  // Absolute: ssh reads the key again on a reconnect, from the daemon sshfs leaves behind,
  // whose working directory is /.
  if (!cfg.secrets_dir.empty())
    opts.secrets = std::filesystem::absolute(cfg.secrets_dir).lexically_normal();
  return opts;
}

// Get and Path of a volume in the read view are answered on the I/O thread, without a
// message. A Get asks the REGISTRY, at most once a second per volume, to have the backend's
// status read again (the answer does not wait for that). Everything else goes to the NET
// actor.
net::read_handler reads(const plugin_system& actors) {
  return [view = actors.view(), &actors](const net::api_request& req)
           -> std::optional<net::api_reply> {
    net::api_reply reply;
    switch (req.ep) {
      case net::endpoint::get:
      case net::endpoint::path: {
        auto e = view->find(req.name);
        if (!e || !e->answers_reads())
          return std::nullopt;
        if (req.ep == net::endpoint::path) {
          reply.mountpoint = e->info.mountpoint;
        } else {
          reply.volume = e->info;
          if (read_view::claim_hint(*e))
            caf::anon_send(actors.registry(), atom::refresh::value, req.name);
        }
        return reply;
      }
      default:
        return std::nullopt;
    }
  };
}

net::server_options server_options(const config& cfg, const net::net_actor& door,
                                   int inherited_fd) {
  net::server_options opts;
  opts.socket_path = cfg.socket;
  opts.max_connections = static_cast<size_t>(cfg.max_connections);
  opts.idle_timeout = std::chrono::seconds(cfg.idle_timeout);
  opts.inherited_fd = inherited_fd;
  opts.tcp_address = cfg.listen_tcp;
  // A success the client never heard of (it went away): the NET actor undoes a Mount.
  opts.on_undelivered = [&door](net::api_request req, net::api_responder done) {
    caf::anon_send(door, atom::undo::value, std::move(req), std::move(done));
  };
  return opts;
}

// How the plugin's listener is secured, for the start line: "mutual", "server" or "".
std::string tls_mode(const config& cfg) {
  if (cfg.tls_cert.empty())
    return "";
  return cfg.tls_client_ca.empty() ? "server" : "mutual";
}

// One scrape of the metrics endpoint: the build, the requests (net/), the volumes and their
// uses (the read view), the actors' and the store's metrics (core/metrics).
std::string render_metrics(const plugin_system& actors) {
  std::string out;
  out.reserve(16 << 10);
  metrics::describe(out, "actorvol_build_info", "gauge", "The running build (always 1).");
  out += "actorvol_build_info{version=\"" ACTORVOL_VERSION "\"} 1\n";
  net::requests().render(out);
  auto totals = actors.view()->count();
  metrics::describe(out, "actorvol_volumes", "gauge", "Volumes that exist.");
  out += "actorvol_volumes " + std::to_string(totals.volumes) + "\n";
  metrics::describe(out, "actorvol_active_uses", "gauge",
                    "Mount uses recorded across all volumes (one per container mount).");
  out += "actorvol_active_uses " + std::to_string(totals.uses) + "\n";
  metrics::render_service(out);
  return out;
}

// Leaves after `bound` even if a backend call that hangs past its deadline still holds a
// worker thread (which would keep the actor system from closing).
void exit_after(std::chrono::seconds bound) {
  std::thread([bound] {
    std::this_thread::sleep_for(bound);
    log::write(log::level::warn, {{"event", "stopped"},
                                  {"result", "a backend call is still hung; exiting anyway"}});
    std::_Exit(0);
  }).detach();
}

int serve(const config& cfg, caf::actor_system& sys) {
  // Socket activation: systemd bound the socket and passes it; else we bind --socket.
  auto passed = service::take_listen_socket();
  if (passed.error.empty() && passed.fd >= 0 && !cfg.listen_tcp.empty())
    passed.error = "systemd passed a socket and --listen tcp://" + cfg.listen_tcp
                   + " was given: serve one or the other (unset ACTORVOL_LISTEN, or stop "
                     "actorvol.socket)";
  if (!passed.error.empty()) {
    log::write(log::level::error, {{"event", "start"}, {"result", passed.error}});
    return 1;
  }
  if (!cfg.listen_tcp.empty() && cfg.insecure_tcp_loopback)
    log::write(log::level::warn,
               {{"event", "start"},
                {"result", "plain TCP on " + cfg.listen_tcp
                             + ": every local user and every container on the host's network "
                               "can create, mount and remove volumes; prefer mutual TLS"}});
  plugin_system actors{sys, actor_options(cfg, sys)};
  net::net_actor door;  // spawned once the REGISTRY is; the server reads it only after run()
  boost::asio::io_context ioc{1};
  auto opts = server_options(cfg, door, passed.fd);
  if (!cfg.tls_cert.empty())
    if (auto err = net::make_tls_context(cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca, opts.tls);
        !err.empty()) {
      log::write(log::level::error, {{"event", "start"}, {"result", err}});
      return 1;
    }
  opts.reads = reads(actors);
  auto server = std::make_shared<net::listener>(
    ioc, std::move(opts), [&door](net::api_request req, net::api_responder respond) {
      caf::anon_send(door, atom::handle::value, std::move(req), std::move(respond));
    });
  // Catch the signals before the socket opens: a client may connect, and a supervisor send
  // SIGTERM, as soon as it exists, and that must still stop us cleanly (socket removed, exit
  // 0). A signal before ioc.run() waits there; the handler then stops the server at once.
  std::shared_ptr<net::metrics_server> metrics_endpoint;  // opened below, if asked for
  boost::asio::signal_set signals{ioc, SIGTERM, SIGINT};
  shutdown_grace grace;
  signals.async_wait([&](const boost::system::error_code& io_err, int sig) {
    if (io_err)
      return;
    log::write(log::level::info, {{"event", "stop"}, {"signal", std::to_string(sig)}});
    service::notify_stopping();
    server->stop();
    if (metrics_endpoint)
      metrics_endpoint->stop();
    grace.start([&actors] { actors.abort_requests(); });
  });
  if (auto err = server->open(); !err.empty()) {
    log::write(log::level::error, {{"event", "start"}, {"result", err}});
    return 1;
  }
  if (!cfg.metrics_address.empty() || !cfg.metrics_socket.empty()) {
    metrics_endpoint = std::make_shared<net::metrics_server>(
      ioc, net::metrics_options{cfg.metrics_address, cfg.metrics_socket,
                                [&actors] { return render_metrics(actors); }});
    if (auto err = metrics_endpoint->open(); !err.empty()) {
      log::write(log::level::error, {{"event", "start"}, {"result", err}});
      server->stop();
      return 1;
    }
  }
  auto recovered = actors.start();
  if (!recovered) {
    log::write(log::level::error, {{"event", "start"}, {"result", render(recovered.error())}});
    server->stop();
    return 1;
  }
  const auto& socket = server->where();
  log::write(log::level::info, {{"event", "start"},
                                {"socket", socket},
                                {"activated", passed.fd >= 0 ? "yes" : "no"},
                                {"tls", !tls_mode(cfg).empty() ? tls_mode(cfg) : "off"},
                                {"metrics", metrics_endpoint ? metrics_endpoint->where() : "off"},
                                {"root", actors.root().string()},
                                {"volumes", std::to_string(*recovered)},
                                {"version", ACTORVOL_VERSION}});
  // 30 s past the VOLUMEs' own deadlines: those answer first unless a state write hangs.
  door = sys.spawn(net::net_actor_behavior, actors.registry(), cfg.scope,
                   deadlines{std::chrono::seconds(cfg.mount_timeout + 30),
                             std::chrono::seconds(cfg.op_timeout + 30)});
  server->run();
  if (metrics_endpoint)
    metrics_endpoint->run();
  // Recovery is done and the socket accepts: Docker may now be started after us.
  service::notify_ready("serving " + std::to_string(*recovered) + " volumes on " + socket);
  ioc.run();  // returns when the socket is closed and the last answer is written
  grace.finish();
  caf::anon_send_exit(door, caf::exit_reason::user_shutdown);
  actors.stop();
  exit_after(std::chrono::seconds(10));
  log::write(log::level::info, {{"event", "stopped"}});
  return 0;
}

// Makes each thread CAF starts (scheduler, clock, WORKERs) a batch thread.
struct batch_threads : caf::thread_hook {
  void init(caf::actor_system&) override {
  }
  void thread_started() override {
    static std::atomic<bool> told{false};
    if (int e = threads::batch(); e != 0 && !told.exchange(true))
      log::write(log::level::warn, {{"event", "threads"},
                                    {"result", "cannot make CAF's threads SCHED_BATCH (they "
                                               "keep their class): "
                                                 + os_reason(e)}});
  }
  void thread_terminates() override {
  }
};

int run(const config& cfg) {
  log::set_level(*log::parse_level(cfg.log_level));
  if (auto err = failpoint::configure_from_env(); !err.empty()) {
    std::cerr << "actorvol: ACTORVOL_FAILPOINTS: " << err << "\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (::getpid() == 1)  // the managed plugin: orphaned sshfs daemons become our children
    std::thread{reap_orphans}.detach();
  raise_open_files_limit();
  caf::actor_system_config caf_cfg;
  caf_cfg.set("logger.console-verbosity", caf::atom("quiet"));
  // One shared job queue: idle scheduler threads sleep instead of polling each other's
  // queues (work stealing spins on a 2-core host and slows spawning 100k VOLUMEs). One
  // scheduler thread per CPU we may run on (CAF's default is at least 4): a message between
  // actors then rarely wakes a second thread on the same CPU. Blocking work runs on the
  // WORKERs' own threads, never on these.
  caf_cfg.set("scheduler.policy", caf::atom("sharing"));
  caf_cfg.set("scheduler.max-threads", threads::usable_cpus());
  // Every thread CAF starts yields to the I/O thread (core/threads.hpp).
  caf_cfg.add_thread_hook<batch_threads>();
  caf::actor_system sys{caf_cfg};
  return serve(cfg, sys);
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args.front() == "check")
    return run_check({args.begin() + 1, args.end()});
  if (!args.empty() && args.front() == "secret")
    return run_secret({args.begin() + 1, args.end()});
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
  return run(std::get<config>(parsed));
}
