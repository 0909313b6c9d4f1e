#pragma once

// One HTTP connection of the server (Boost.Beast). Every handler of a session runs on the
// server's single I/O thread, and so does its destruction: answers from the actors are
// posted back to it, and the last reference held for an answer is released there too.

#include "net/server.hpp"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace actorvol::net {

struct answer;

/// What the listener needs of a connection, whatever carries it.
class connection_base {
public:
  using clock = std::chrono::steady_clock;

  virtual ~connection_base() = default;

  virtual void start() = 0;

  /// Shutdown: an idle connection closes now, a busy one after its answer.
  virtual void stop() = 0;

  /// Whether the connection may be closed to make room: it is waiting for (the rest of) a
  /// request and has none with the actors, or its client has not read its answer for a
  /// two seconds (a success it never reads is undone like any undelivered one).
  virtual bool evictable() const = 0;

  /// The eviction order (lowest first): idle connections (no byte of the next request yet)
  /// before partial requests and unread answers, and within each the one waiting longest.
  virtual std::pair<bool, clock::time_point> eviction_rank() const = 0;

  /// Closes the connection now to make room for a new one; its place is free at once.
  virtual void evict() = 0;

  /// Closes the connection if what it waits for is overdue at `now`: the next request (the
  /// idle timeout), the client reading an answer (30 s), a TLS handshake (10 s). A request
  /// with the actors has no deadline here (the NET actor answers it at its limit).
  virtual void expire(clock::time_point now) = 0;
};

/// The transports a session runs over: the plugin socket, plain TCP (loopback only), TLS.
using unix_stream = boost::beast::basic_stream<boost::asio::local::stream_protocol>;
using tcp_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <class Stream>
class session : public connection_base, public std::enable_shared_from_this<session<Stream>> {
public:
  session(Stream stream, std::shared_ptr<listener> owner);
  ~session() override;

  void start() override;
  void stop() override;
  bool evictable() const override;
  std::pair<bool, clock::time_point> eviction_rank() const override;
  void evict() override;
  void expire(clock::time_point now) override;

private:
  bool unread() const;  // an answer's client has read none of it for two seconds or more
  void write_rest(bool keep);
  void on_write_some(bool keep, boost::beast::error_code ec, size_t n);
  void do_read();
  void on_read(boost::beast::error_code ec, size_t);
  void fail(caf::error err);
  void handle(boost::beast::http::request<boost::beast::http::string_body> req);
  void respond(answer a, const caf::error& err);
  void on_write(bool eof, boost::beast::error_code ec);
  void close();

  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<listener> owner_;
  const server_options& opts_;
  clock::time_point deadline_ = clock::time_point::max();  // see expire()
  clock::time_point moved_ = clock::time_point::max();  // an answer's last bytes written
  size_t written_ = 0;                                    // of head_ and body_
  int outq_ = -1;  // the answer's bytes in the kernel's send queue when expire() last looked
  std::optional<api_request> in_flight_;  // the request with the actors
  std::optional<api_request> undo_;       // reported when its success cannot be written
  bool reading_ = false;                  // waiting for a request
  bool busy_ = false;                     // a request with the actors or its answer
  bool stopping_ = false;
  bool ended_ = false;                    // its place was given back (by evict)
  bool expired_ = false;                  // closed by expire(): a request read now is dropped
  bool keep_alive_ = true;
  unsigned version_ = 11;
  clock::time_point since_;    // when the current read started
  clock::time_point started_;  // when the current request arrived
  std::string target_;
  std::optional<endpoint> ep_;  // the current request's endpoint (none: not one)
  std::string head_;                      // the answer being written: its head,
  std::string body_;                      // and its body
  bool reads_only_ = false;              // a read (logged at debug when it succeeds)
  std::string volume_;
};

extern template class session<unix_stream>;
extern template class session<tcp_stream>;
extern template class session<tls_stream>;

} // namespace actorvol::net
