#pragma once

// actorvol's command line: flags, with ACTORVOL_* environment variables underneath.

#include <functional>
#include <string>
#include <variant>
#include <vector>

namespace actorvol {

struct config {
  std::string socket = "/run/docker/plugins/actorvol.sock";
  std::string root = "/var/lib/actorvol";
  std::string scope = "local";
  std::string log_level = "info";
  std::string docker_socket;       // empty: no reconcile with Docker
  long reconcile_interval = 60;    // seconds
  long reconcile_grace = 120;      // seconds
  long workers = 16;               // blocking worker threads kept warm
  long max_workers = 1024;         // blocking worker threads at most
  long mount_timeout = 120;        // seconds for Create and Mount (Docker's own)
  long op_timeout = 60;            // seconds for the other requests (Docker's own)
  std::string host_root;           // where the host's / is seen (managed plugin), or empty
  std::string secrets_dir;         // the secrets of sshfs volumes; empty: ROOT/secrets
  long max_connections = 4096;     // connections served at once; at the bound idle ones close
  long idle_timeout = 60;          // seconds before an idle connection is closed
  std::string listen_tcp;          // HOST:PORT from --listen tcp://..., or empty (the socket)
  std::string tls_cert;            // the server's certificate chain (PEM), or empty
  std::string tls_key;             // its private key (PEM)
  std::string tls_client_ca;       // clients must present a certificate this CA signed
  bool insecure_tcp_loopback = false;  // plain TCP, allowed on a loopback address only
  std::string metrics_address;     // HOST:PORT of the metrics endpoint, or empty
  std::string metrics_socket;      // or its Unix socket, or empty (no metrics)
};

/// What the command line asks for.
struct show_help {};
struct show_version {};
struct usage_error {
  std::string message;
};
using parse_result = std::variant<config, show_help, show_version, usage_error>;

/// Parses flags over environment variables (looked up through `getenv`); flags win.
parse_result parse_command_line(const std::vector<std::string>& args,
                                const std::function<const char*(const char*)>& getenv);

/// The text of --help.
std::string usage_text();

} // namespace actorvol
