#pragma once

// The HTTP/1.1 server on a Unix socket (Boost.Beast). It parses requests, hands each one as
// an api_request to a handler, and writes the answer when the handler calls back. It knows
// nothing of actors: the handler is a plain function.

#include "actors/interfaces.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>

namespace actorvol::net {

/// Takes a request and a responder; must call the responder exactly once, from any thread.
using request_handler = std::function<void(api_request, api_responder)>;

struct server_options {
  std::string socket_path;
  size_t max_connections = 256;
  std::chrono::seconds idle_timeout{60};
  size_t body_limit = 1 << 20;   // 413 past this
  size_t header_limit = 8 << 10; // 431 past this
};

class session;

class listener : public std::enable_shared_from_this<listener> {
public:
  listener(boost::asio::io_context& ioc, server_options opts, request_handler handler);

  /// Binds the socket (replacing a stale one, refusing a live one) with mode 0660.
  /// Returns an error text, or "" on success.
  std::string open();

  /// Starts accepting.
  void run();

  /// Stops accepting, lets in-flight requests finish, closes idle connections, and removes
  /// the socket file. ioc.run() returns once the last answer is written.
  void stop();

  /// Called by a session when it ends.
  void on_session_end();

private:
  void do_accept();

  boost::asio::io_context& ioc_;
  server_options opts_;
  request_handler handler_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::list<std::weak_ptr<session>> sessions_;
  size_t active_ = 0;
  bool accepting_ = false;
  bool stopped_ = false;
};

} // namespace actorvol::net
