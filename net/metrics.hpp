#pragma once

// The metrics endpoint: Prometheus' text exposition format on a listener of its own (TCP,
// or a Unix socket), separate from the plugin socket so that scrapes never queue behind
// Docker's requests and the plugin socket's permissions stay Docker's. Also the request
// metrics, which the sessions record as they answer.

#include "net/api.hpp"

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>

#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>

namespace actorvol::net {

/// Requests by endpoint and result, and their latency by endpoint.
class request_metrics {
public:
  /// How a request ended: answered (Err empty), answered with an Err, or refused as a bad
  /// request (4xx: no such path, malformed JSON...).
  enum class result : uint8_t { ok, error, rejected };

  /// Counts one answered request (`ep`: none for a path that is no endpoint).
  void record(std::optional<endpoint> ep, result r, std::chrono::nanoseconds took);

  /// Appends actorvol_requests_total and actorvol_request_duration_seconds.
  void render(std::string& out) const;
};

/// The process's request metrics (the sessions record, the metrics endpoint renders).
request_metrics& requests();

struct metrics_options {
  std::string address;      // HOST:PORT (TCP), or empty
  std::string socket_path;  // a Unix socket, or empty
  std::function<std::string()> render;  // the exposition text of one scrape (I/O thread)
};

class metrics_session;

/// Answers GET /metrics (404 for any other path, 405 for another method) on its listener.
class metrics_server : public std::enable_shared_from_this<metrics_server> {
public:
  metrics_server(boost::asio::io_context& ioc, metrics_options opts);

  /// Binds the listener; returns an error text, or "" on success.
  std::string open();

  /// Where it listens: HOST:PORT (with the port bound, when 0 was asked) or the socket path.
  std::string where() const;

  /// Starts accepting (on the I/O thread).
  void run();

  /// Stops accepting and closes open connections (a Unix socket's file is removed).
  void stop();

  const metrics_options& options() const {
    return opts_;
  }

private:
  void do_accept();

  metrics_options opts_;
  boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol> acceptor_;
  boost::asio::steady_timer retry_;
  std::list<std::weak_ptr<metrics_session>> sessions_;
  std::string where_;
  bool stopped_ = false;
};

} // namespace actorvol::net
