#pragma once

// A real OpenSSH server for the sshfs tests: Debian's sshd, started on 127.0.0.1 on a free
// port with a host key, a client key and an authorized_keys file made in a temp dir, and
// stopped with the test. The remote directory is DIR/export.

#include "support/temp_dir.hpp"

#include <sys/types.h>

#include <string>
#include <vector>

namespace actorvol::test {

/// Why the sshfs tests cannot run here ("" when they can): root, sshd, sshfs, ssh-keygen
/// and /dev/fuse are needed.
std::string sshfs_missing();

/// Runs `cmd` with `sh -c`, `input` on its stdin; returns the exit code and fills `out`.
int shell(const std::string& cmd, const std::string& input, std::string& out);

class sshd {
public:
  /// Starts sshd. `password_user`: a local user that may log in with a password (made if
  /// missing) and owns the export directory; empty: only root, with the key.
  explicit sshd(const std::string& password_user = "");
  ~sshd();
  sshd(const sshd&) = delete;
  sshd& operator=(const sshd&) = delete;

  bool ok() const {
    return pid_ > 0;
  }
  int port() const {
    return port_;
  }
  /// The remote directory (on this host).
  std::string export_dir() const {
    return (dir_ / "export").string();
  }
  /// The client's private key, authorized for every user (PEM text).
  const std::string& client_key() const {
    return client_key_;
  }
  /// Another private key, authorized for no one.
  const std::string& other_key() const {
    return other_key_;
  }
  /// The host's public key as "TYPE BASE64" (what known_host= takes).
  const std::string& host_key() const {
    return host_key_;
  }
  /// The password of `password_user` (random per run).
  const std::string& password() const {
    return password_;
  }

  /// Stops the server (kill -9: a dead remote); start() brings it back on the same port.
  void kill();
  void start();

private:
  temp_dir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string client_key_, other_key_, host_key_, password_;
};

/// A TCP listener on 127.0.0.1 that accepts connections and never says a word (a remote
/// that hangs before the SSH banner).
class silent_server {
public:
  silent_server();
  ~silent_server();
  int port() const {
    return port_;
  }

private:
  int fd_ = -1;
  int port_ = 0;
};

/// A port on 127.0.0.1 that nothing listens on (connections are refused).
int closed_port();

/// The pids of processes whose arguments include `needle` (an exact argument, or a part of
/// one when `part`), whose program is `program` (basename, e.g. "sshfs" or "ssh").
std::vector<pid_t> processes(const std::string& program, const std::string& needle,
                             bool part = false);

} // namespace actorvol::test
