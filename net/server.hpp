#pragma once

// The HTTP/1.1 server on a Unix socket (Boost.Beast). It parses requests, hands each one as
// an api_request to a handler, and writes the answer when the handler calls back. It knows
// nothing of actors: the handler is a plain function.
//
// All listener and session state changes on one thread, the I/O thread (the one that calls
// run() and then runs the io_context).

#include "net/api.hpp"

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace actorvol::net {

/// Takes a request and a responder; must call the responder exactly once, from any thread.
using request_handler = std::function<void(api_request, api_responder)>;

/// Takes a request whose successful answer could not be written (the client went away), and
/// a callback to call (from any thread, at most once) when its undoing is settled: until then
/// the I/O loop keeps running (a shutdown waits for it).
using undelivered_handler = std::function<void(api_request, api_responder done)>;

/// Answers a request at once on the I/O thread when it can (a read of state published for
/// it): the answer, or none to hand the request to the request_handler.
using read_handler = std::function<std::optional<api_reply>(const api_request&)>;

/// Parses HOST:PORT (an IP address, IPv6 in brackets) into `out`; "" or what is wrong.
std::string parse_tcp_address(const std::string& text, boost::asio::ip::tcp::endpoint& out);

/// A TLS server context (TLS 1.2 or later) with this certificate chain and key; with a client
/// CA, a client must present a certificate it signed (mutual TLS). "" or what is wrong.
std::string make_tls_context(const std::string& cert, const std::string& key,
                             const std::string& client_ca,
                             std::shared_ptr<boost::asio::ssl::context>& out);

struct server_options {
  std::string socket_path;
  // Serve TCP on this HOST:PORT instead of the Unix socket (--listen tcp://...), with TLS
  // when `tls` is set.
  std::string tcp_address;
  std::shared_ptr<boost::asio::ssl::context> tls;
  // A listening Unix stream socket handed over by a service manager (systemd's socket
  // activation), or -1: bind socket_path. The manager owns its file: stop() leaves it.
  int inherited_fd = -1;
  // Connections served at once. At the bound, an idle (or the slowest partial) connection
  // is closed to make room; a connection whose request is with the actors never is.
  size_t max_connections = 4096;
  std::chrono::seconds idle_timeout{60};
  size_t body_limit = 1 << 20;   // 413 past this
  size_t header_limit = 8 << 10; // 431 past this
  undelivered_handler on_undelivered;  // called on the I/O thread; may be empty
  read_handler reads;                  // tried first, on the I/O thread; may be empty
};

class connection_base;

class listener : public std::enable_shared_from_this<listener> {
public:
  listener(boost::asio::io_context& ioc, server_options opts, request_handler handler);

  /// Binds the socket (replacing a stale one, refusing a live one) with mode 0660, or takes
  /// the inherited one, or listens on TCP. Returns an error text, or "" on success.
  std::string open();

  /// Where it serves: the socket's path, or HOST:PORT (the port bound, when 0 was asked).
  const std::string& where() const {
    return where_;
  }

  /// Starts accepting. Must be called on the thread that then runs the io_context.
  void run();

  /// Stops accepting, lets in-flight requests finish, closes idle connections, and removes
  /// the socket file. ioc.run() returns once the last answer is written.
  void stop();

  const server_options& options() const {
    return opts_;
  }
  const request_handler& handler() const {
    return handler_;
  }

  /// Called by a session when its place is free (it ended, or was evicted).
  void on_session_end();

  /// Called by a session when it starts waiting for a request (it may now be evicted).
  void on_session_idle();

  /// Called by a session with a request whose successful answer could not be written.
  void report_undelivered(api_request req);

  /// True on the I/O thread; elsewhere counts and logs an error (event "off-io-thread").
  bool check_io_thread(const char* what);

  /// How many times session or listener state was released off the I/O thread.
  size_t off_thread_releases() const {
    return off_thread_.load();
  }

private:
  std::string adopt_inherited();
  std::string open_tcp();
  void do_accept();
  void on_acceptable(boost::system::error_code ec);
  bool accept_one();
  std::shared_ptr<connection_base> eviction_candidate();
  template <class F>
  void each_session(F f);  // f(shared_ptr&) for each open connection; forgets ended ones
  void schedule_expiry();
  void expire_overdue();

  boost::asio::io_context& ioc_;
  server_options opts_;
  request_handler handler_;
  boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol> acceptor_;
  boost::asio::steady_timer retry_;
  boost::asio::steady_timer expiry_;  // once a second: closes overdue connections
  bool expiring_ = false;             // expiry_ is armed
  std::list<std::weak_ptr<connection_base>> sessions_;
  std::string where_;
  int family_ = AF_UNIX;  // of the listening socket: the sessions' transport follows it
  size_t active_ = 0;
  bool accepting_ = false;  // a wait for the next connection (or a retry) is armed
  bool stopped_ = false;
  std::thread::id io_thread_;
  std::atomic<size_t> off_thread_{0};
};

} // namespace actorvol::net
