#pragma once

// Drives the real build/actorvol: starts it on a temp socket and root, speaks raw HTTP/1.1
// to it over the Unix socket, and stops it with a signal.

#include "support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <string>
#include <vector>

namespace actorvol::test {

/// One HTTP response as read off the socket.
struct response {
  int status = 0;
  std::string headers;  // the raw header block
  std::string body;
  nlohmann::json json() const;
  std::string header(const std::string& name) const;  // case-insensitive, "" if absent
};

/// A blocking client connection to a Unix socket.
class connection {
public:
  explicit connection(const std::string& socket_path);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  bool ok() const {
    return fd_ >= 0;
  }

  /// Writes raw bytes.
  void send_raw(const std::string& bytes);

  /// Reads one response (by Content-Length). status 0 when the peer closed first.
  response read_response();

  /// POSTs `body` to `path` on this connection (keep-alive) and reads the answer.
  response post(const std::string& path, const std::string& body);

  /// True once the peer has closed the connection (reads EOF within `ms`).
  bool closed_by_peer(int ms = 2000);

  /// True when bytes (or EOF) arrive within `ms`.
  bool readable(int ms);

  /// Closes our end.
  void close();

private:
  int fd_ = -1;
  std::string buffer_;
};

/// Builds a POST request text.
std::string http_post(const std::string& path, const std::string& body,
                      bool keep_alive = true);

/// The running plugin binary.
class plugin {
public:
  /// Starts ACTORVOL_BINARY (or $ACTORVOL_TEST_BINARY when set: to run the tests against
  /// another build, e.g. an older release) with `--socket DIR/p.sock --root DIR/root` plus `extra`, and
  /// waits for its socket. `env` entries are added to its environment.
  explicit plugin(std::vector<std::string> extra = {}, std::vector<std::string> env = {});
  /// Starts on an existing root (for restarts).
  plugin(const std::string& root, std::vector<std::string> extra,
         std::vector<std::string> env);
  /// Starts with `--root` exactly as given (relative, through a symlink, with `//`...), from
  /// the working directory `cwd` ("" keeps the test's own).
  plugin(const std::string& root, std::vector<std::string> extra,
         std::vector<std::string> env, const std::string& cwd);
  ~plugin();

  const std::string& socket() const {
    return socket_;
  }
  const std::string& root() const {
    return root_;
  }
  pid_t pid() const {
    return pid_;
  }

  /// One request on a fresh connection.
  response call(const std::string& endpoint, const nlohmann::json& body = nlohmann::json::object());

  /// Sends `sig` and waits for the exit; returns the exit status (or 128+signal).
  int stop(int sig = 15);

  /// Everything the plugin wrote to stderr so far.
  std::string log() const;

private:
  void launch(std::vector<std::string> extra, std::vector<std::string> env);

  std::unique_ptr<temp_dir> dir_;
  std::string socket_;
  std::string root_;
  std::string log_path_;
  std::string cwd_;
  pid_t pid_ = -1;
};

/// Starts `argv` (argv[0] a path) with `env` added to its environment, stdout and stderr
/// appended to `log_path` (never the test runner's pipes), in `cwd` unless empty; returns
/// its pid.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::string& log_path, const std::string& cwd = "");

/// The binary under test: $ACTORVOL_TEST_BINARY when set, else the one this build made.
std::string binary_under_test();

/// Runs the binary to completion with these arguments and `input` on its stdin; returns exit
/// code and output.
struct run_result {
  int code;
  std::string out;
  std::string err;
};
run_result run_binary(const std::vector<std::string>& args, const std::string& input = "");

} // namespace actorvol::test
