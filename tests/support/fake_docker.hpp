#pragma once

// A stand-in for the Docker Engine API on a Unix socket, for reconcile tests without a
// daemon: answers every GET with the JSON it is given, or hangs, as told.

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace actorvol::test {

class fake_docker {
public:
  explicit fake_docker(std::string socket_path);
  ~fake_docker();

  /// The body of GET /containers/json from now on.
  void set_containers(std::string json);

  /// When true, connections are accepted and never answered.
  void set_hang(bool hang) {
    hang_ = hang;
  }

  /// How many requests were answered.
  int requests() const {
    return requests_;
  }

  const std::string& socket() const {
    return path_;
  }

private:
  void serve();

  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> hang_{false};
  std::atomic<int> requests_{0};
  std::mutex mtx_;
  std::string body_ = "[]";
  std::thread thread_;
};

/// A /containers/json entry: one container in `state` that mounts volume `volume`.
std::string container_json(const std::string& state, const std::string& volume);

} // namespace actorvol::test
