#include "net/session.hpp"

#include "core/log.hpp"
#include "net/metrics.hpp"
#include "net/protocol.hpp"
#include "net/router.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <array>
#include <type_traits>

namespace actorvol::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Holds a session and the I/O loop's work while the actors have its request. The actors
// drop their copies of the responder on their own threads; this holder's destructor posts
// the release back to the I/O thread, so a session never ends on an actor's thread.
template <class Session>
class io_hold {
public:
  io_hold(std::shared_ptr<Session> s, asio::any_io_executor ex)
    : session_(std::move(s)), guard_(std::move(ex)) {
  }
  ~io_hold() {
    auto ex = guard_.get_executor();
    asio::post(ex, [s = std::move(session_), g = std::move(guard_)] {});
  }
  io_hold(const io_hold&) = delete;
  io_hold& operator=(const io_hold&) = delete;

  Session& get() const {
    return *session_;
  }
  asio::any_io_executor executor() const {
    return guard_.get_executor();
  }

private:
  std::shared_ptr<Session> session_;
  asio::executor_work_guard<asio::any_io_executor> guard_;
};

// Writes into `out` (its capacity kept from one answer to the next) the head of an HTTP
// answer: status line and the headers an answer needs; the body follows in the same write.
// The connection header follows the request's version: 1.1 says when it closes, 1.0 when
// it stays open.
void frame(std::string& out, unsigned status, unsigned version, bool keep_alive,
           size_t body_size) {
  auto reason = http::obsolete_reason(static_cast<http::status>(status));
  out.clear();
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out.append(reason.data(), reason.size());
  out += "\r\nContent-Type: application/vnd.docker.plugins.v1+json\r\nContent-Length: ";
  out += std::to_string(body_size);
  if (version == 10 && keep_alive)
    out += "\r\nConnection: keep-alive";
  else if (version != 10 && !keep_alive)
    out += "\r\nConnection: close";
  out += "\r\n\r\n";
}

// How long a client may take to read an answer once actorvol is stopping (else 30 s). With
// the once-a-second check that is at most 4 s: within the shutdown's 5 s grace, so a Mount
// whose answer is then not delivered is still undone before the actors stop.
constexpr std::chrono::seconds shutdown_write_limit{3};

} // namespace

template <class Stream>
session<Stream>::session(Stream stream, std::shared_ptr<listener> owner)
  : stream_(std::move(stream)), owner_(std::move(owner)), opts_(owner_->options()) {
}

template <class Stream>
session<Stream>::~session() {
  owner_->check_io_thread("session");
  if (!ended_)
    owner_->on_session_end();
}

template <class Stream>
void session<Stream>::start() {
  if constexpr (std::is_same_v<Stream, tls_stream>) {
    // The handshake first (a client certificate is checked here, when one is required); it
    // counts as waiting for a request, so a client that stalls in it can be evicted.
    reading_ = true;
    since_ = clock::now();
    deadline_ = since_ + std::chrono::seconds(10);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = this->shared_from_this()](beast::error_code io_err) {
                              self->reading_ = false;
                              if (!io_err && !self->ended_)
                                return self->do_read();
                              if (io_err)
                                log::write(log::level::warn,
                                           {{"event", "tls-handshake"},
                                            {"result", io_err.message()}});
                              self->close();
                            });
  } else {
    do_read();
  }
}

template <class Stream>
void session<Stream>::stop() {
  stopping_ = true;
  if (!busy_)
    return close();
  // An answer being written gets what is left of the shutdown's time, not 30 s.
  if (moved_ != clock::time_point::max())
    deadline_ = std::min(deadline_, clock::now() + shutdown_write_limit);
}

template <class Stream>
bool session<Stream>::unread() const {
  return moved_ != clock::time_point::max() && clock::now() - moved_ >= std::chrono::seconds(2);
}

template <class Stream>
bool session<Stream>::evictable() const {
  return ((reading_ && !busy_) || unread()) && !ended_ && !stopping_;
}

template <class Stream>
std::pair<bool, connection_base::clock::time_point> session<Stream>::eviction_rank() const {
  if (unread())
    return {true, moved_};
  bool partial = buffer_.size() > 0 || (parser_ && parser_->got_some());
  return {partial, since_};
}

template <class Stream>
void session<Stream>::evict() {
  ended_ = true;
  close();
  owner_->on_session_end();
}

template <class Stream>
void session<Stream>::expire(clock::time_point now) {
  // An answer being written moves when its client reads: the kernel's send queue shrinks
  // (the writes themselves only resume once most of it is free).
  if (moved_ != clock::time_point::max()) {
    int queued = 0;
    auto fd = beast::get_lowest_layer(stream_).socket().native_handle();
    if (::ioctl(fd, SIOCOUTQ, &queued) == 0 && queued != outq_) {
      moved_ = now;
      outq_ = queued;
    }
  }
  if (ended_ || deadline_ > now)
    return;
  deadline_ = clock::time_point::max();
  expired_ = true;
  close();  // the pending read, write or handshake ends with an error, and so does this
}

template <class Stream>
void session<Stream>::do_read() {
  parser_.emplace();
  parser_->body_limit(opts_.body_limit);
  parser_->header_limit(static_cast<std::uint32_t>(opts_.header_limit));
  reading_ = true;
  since_ = clock::now();
  deadline_ = since_ + opts_.idle_timeout;
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&session<Stream>::on_read, this->shared_from_this()));
  owner_->on_session_idle();
}

template <class Stream>
void session<Stream>::on_read(beast::error_code io_err, size_t) {
  reading_ = false;
  // end_of_stream first: the peer closed between requests, which is no error.
  if (io_err == http::error::end_of_stream)
    return close();
  if (io_err == http::error::body_limit)
    return fail(make_error(ec::body_too_large, {}, std::to_string(opts_.body_limit)));
  if (io_err == http::error::header_limit)
    return fail(make_error(ec::headers_too_large, {}, std::to_string(opts_.header_limit)));
  if (io_err && io_err.category() == http::make_error_code(http::error::bad_target).category())
    return fail(make_error(ec::bad_request, {}, "malformed HTTP: " + io_err.message()));
  // A request that arrived as its deadline closed the connection is not run: its answer could
  // not be written.
  if (io_err || ended_ || expired_)
    return close();  // timeout, reset, shutdown, evicted
  handle(parser_->release());
}

// Answers a request that cannot be parsed, then closes: the stream cannot be resynced.
template <class Stream>
void session<Stream>::fail(caf::error err) {
  keep_alive_ = false;
  version_ = 11;
  started_ = clock::now();
  target_ = "-";
  ep_.reset();
  reads_only_ = false;
  respond(render_error(err), err);
}

template <class Stream>
void session<Stream>::handle(http::request<http::string_body> req) {
  busy_ = true;
  // A HEAD gets the usual error with its body, then the connection closes: a client that
  // reads no body after a HEAD's answer must not take it for the next answer.
  keep_alive_ = req.keep_alive() && req.method() != http::verb::head;
  version_ = req.version();
  started_ = clock::now();
  target_ = std::string(req.target());
  reads_only_ = false;
  deadline_ = clock::time_point::max();
  auto parsed = decode_request(req.method_string(), target_, req.body());
  if (!parsed) {
    ep_ = route(target_);  // for the metrics: a known path with a bad body, or none
    volume_ = volume_of(parsed.error());  // for the log line: a bad request about a volume
    return respond(render_error(parsed.error()), parsed.error());
  }
  ep_ = parsed->ep;
  volume_ = parsed->name;
  reads_only_ = !changes(parsed->ep);
  in_flight_ = *parsed;
  if (opts_.reads)
    if (auto reply = opts_.reads(*parsed))
      return respond(render_reply(parsed->ep, *reply), reply->error);
  // The actors answer on their own threads; the answer is posted back to this connection.
  auto hold = std::make_shared<io_hold<session<Stream>>>(this->shared_from_this(),
                                                         stream_.get_executor());
  auto e = parsed->ep;
  owner_->handler()(std::move(*parsed), [hold, e](api_reply reply) {
    asio::post(hold->executor(), [hold, e, reply = std::move(reply)] {
      hold->get().respond(render_reply(e, reply), reply.error);
    });
  });
}

template <class Stream>
void session<Stream>::respond(answer a, const caf::error& err) {
  busy_ = true;
  undo_.reset();
  if (!err)
    undo_ = std::move(in_flight_);
  in_flight_.reset();
  auto now = clock::now();
  auto took = now - started_;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(took);
  requests().record(ep_,
                    a.status >= 400 && a.status < 500 ? request_metrics::result::rejected
                    : err                             ? request_metrics::result::error
                                                      : request_metrics::result::ok,
                    took);
  // One line per request: changes at info, reads (Docker polls Get and List) at debug,
  // failures (a request that could not be parsed, too) at warn.
  auto lvl = a.status >= 400 ? log::level::warn
             : reads_only_   ? log::level::debug
                             : log::level::info;
  if (log::enabled(lvl))
    log::write(lvl, {{"endpoint", target_},
                     {"volume", volume_},
                     {"status", std::to_string(a.status)},
                     {"result", err ? render(err) : "ok"},
                     {"us", std::to_string(us.count())}});
  bool keep = keep_alive_ && !stopping_;
  frame(head_, a.status, version_, keep, a.body.size());
  body_ = std::move(a.body);
  moved_ = now;
  written_ = 0;
  outq_ = -1;
  deadline_ = now + (stopping_ ? shutdown_write_limit : std::chrono::seconds(30));
  write_rest(keep);
}

// Writes what is left of the answer, a part at a time: each part written counts as progress
// (and so does the send queue shrinking, see expire()), so only a client that reads nothing
// for two seconds is one that stopped reading (a large List read slowly is not).
template <class Stream>
void session<Stream>::write_rest(bool keep) {
  auto head = asio::buffer(head_) + std::min(written_, head_.size());
  auto body = asio::buffer(body_) + (written_ - std::min(written_, head_.size()));
  std::array<asio::const_buffer, 2> rest{head, body};
  stream_.async_write_some(rest, [self = this->shared_from_this(), keep](
                                   beast::error_code io_err, size_t n) {
    self->on_write_some(keep, io_err, n);
  });
}

template <class Stream>
void session<Stream>::on_write_some(bool keep, beast::error_code io_err, size_t n) {
  written_ += n;
  if (!io_err && written_ < head_.size() + body_.size()) {
    if (n > 0)
      moved_ = clock::now();
    return write_rest(keep);
  }
  on_write(!keep, io_err);
}

template <class Stream>
void session<Stream>::on_write(bool eof, beast::error_code io_err) {
  busy_ = false;
  moved_ = clock::time_point::max();
  std::string().swap(body_);  // a List can be megabytes: not kept while the connection idles
  if (io_err && undo_) {
    // The client went away before it heard of a success: the actors decide what to undo.
    log::write(log::level::warn, {{"event", "undelivered"},
                                  {"endpoint", target_},
                                  {"volume", volume_},
                                  {"result", io_err.message()}});
    owner_->report_undelivered(std::move(*undo_));
  }
  undo_.reset();
  volume_.clear();
  if (io_err || eof || stopping_ || ended_)
    return close();
  do_read();
}

template <class Stream>
void session<Stream>::close() {
  beast::error_code ignore;
  beast::get_lowest_layer(stream_).socket().shutdown(asio::socket_base::shutdown_both, ignore);
  beast::get_lowest_layer(stream_).close();
}

template class session<unix_stream>;
template class session<tcp_stream>;
template class session<tls_stream>;

} // namespace actorvol::net
