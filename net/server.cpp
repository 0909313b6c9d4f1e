#include "net/server.hpp"

#include "actors/log.hpp"
#include "net/protocol.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>

namespace actorvol::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using stream_protocol = asio::local::stream_protocol;

// One connection. All of its handlers run on the server's single I/O thread; answers from
// the actors are posted back to it. Requests on one connection are answered in order
// (pipelined requests wait in the buffer until the previous answer is written).
class session : public std::enable_shared_from_this<session> {
public:
  session(stream_protocol::socket sock, std::shared_ptr<listener> owner,
          const server_options& opts, const request_handler& handler)
    : stream_(std::move(sock)), owner_(std::move(owner)), opts_(opts), handler_(handler) {
  }

  ~session() {
    owner_->on_session_end();
  }

  void start() {
    do_read();
  }

  /// Shutdown: an idle connection closes now, a busy one after its answer.
  void stop() {
    stopping_ = true;
    if (!busy_)
      close();
  }

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(opts_.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(opts_.header_limit));
    stream_.expires_after(opts_.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    // end_of_stream first: the peer closed between requests, which is no error.
    if (ec == http::error::end_of_stream)
      return close();
    if (ec == http::error::body_limit)
      return fail(make_error(ec::body_too_large, {}, std::to_string(opts_.body_limit)));
    if (ec == http::error::header_limit)
      return fail(make_error(ec::headers_too_large, {}, std::to_string(opts_.header_limit)));
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category())
      return fail(make_error(ec::bad_request, {}, "malformed HTTP: " + ec.message()));
    if (ec)
      return close();  // timeout, reset, shutdown
    handle(parser_->release());
  }

  // Answers a request that cannot be parsed, then closes: the stream cannot be resynced.
  void fail(caf::error err) {
    keep_alive_ = false;
    version_ = 11;
    started_ = std::chrono::steady_clock::now();
    target_ = "-";
    respond(render_error(err), err);
  }

  void handle(http::request<http::string_body> req) {
    busy_ = true;
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    started_ = std::chrono::steady_clock::now();
    target_ = std::string(req.target());
    stream_.expires_never();
    auto parsed = decode_request(req.method_string(), target_, req.body());
    if (!parsed)
      return respond(render_error(parsed.error()), parsed.error());
    volume_ = parsed->name;
    // The actors answer on their own threads; the answer is posted back to this connection.
    // The work guard keeps the I/O loop (and a graceful shutdown) waiting for it.
    auto guard = std::make_shared<asio::executor_work_guard<asio::any_io_executor>>(
      stream_.get_executor());
    auto self = shared_from_this();
    auto e = parsed->ep;
    handler_(std::move(*parsed), [self, guard, e](api_reply reply) {
      asio::post(self->stream_.get_executor(), [self, guard, e, reply = std::move(reply)] {
        self->respond(render_reply(e, reply), reply.error);
      });
    });
  }

  void respond(answer a, const caf::error& err) {
    busy_ = true;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - started_)
                .count();
    auto lvl = a.status >= 500 ? log::level::warn
                               : a.status >= 400 ? log::level::info : log::level::info;
    if (log::enabled(lvl))
      log::write(lvl, {{"endpoint", target_},
                       {"volume", volume_},
                       {"status", std::to_string(a.status)},
                       {"result", err ? render(err) : "ok"},
                       {"us", std::to_string(us)}});
    auto res = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(a.status), version_);
    res->set(http::field::content_type, "application/vnd.docker.plugins.v1+json");
    res->keep_alive(keep_alive_ && !stopping_);
    res->body() = std::move(a.body);
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        self->on_write(res->need_eof(), ec);
                      });
  }

  void on_write(bool eof, beast::error_code ec) {
    busy_ = false;
    volume_.clear();
    if (ec || eof || stopping_)
      return close();
    do_read();
  }

  void close() {
    beast::error_code ignore;
    stream_.socket().shutdown(stream_protocol::socket::shutdown_both, ignore);
    stream_.close();
  }

  beast::basic_stream<stream_protocol> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<listener> owner_;
  const server_options& opts_;
  const request_handler& handler_;
  bool busy_ = false;
  bool stopping_ = false;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::chrono::steady_clock::time_point started_;
  std::string target_;
  std::string volume_;
};

listener::listener(asio::io_context& ioc, server_options opts, request_handler handler)
  : ioc_(ioc), opts_(std::move(opts)), handler_(std::move(handler)), acceptor_(ioc) {
}

std::string listener::open() {
  namespace fs = std::filesystem;
  auto& path = opts_.socket_path;
  std::error_code fe;
  auto parent = fs::path(path).parent_path();
  if (!parent.empty())
    fs::create_directories(parent, fe);
  if (fe)
    return "cannot create " + parent.string() + ": " + os_reason(fe.value());
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return path + " exists and is not a socket";
    stream_protocol::socket probe(ioc_);
    beast::error_code ec;
    probe.connect(stream_protocol::endpoint(path), ec);
    if (!ec)
      return "another instance is already listening on " + path;
    ::unlink(path.c_str());  // stale: nobody answers on it
  }
  beast::error_code ec;
  acceptor_.open(stream_protocol(), ec);
  if (!ec)
    acceptor_.bind(stream_protocol::endpoint(path), ec);
  if (ec)
    return "cannot bind " + path + ": " + ec.message();
  ::chmod(path.c_str(), 0660);
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return "cannot listen on " + path + ": " + ec.message();
  return "";
}

void listener::run() {
  do_accept();
}

void listener::do_accept() {
  if (stopped_ || active_ >= opts_.max_connections) {
    accepting_ = false;  // resumed by on_session_end
    return;
  }
  accepting_ = true;
  acceptor_.async_accept([self = shared_from_this()](beast::error_code ec,
                                                      stream_protocol::socket sock) {
    self->accepting_ = false;
    if (ec) {
      if (ec == asio::error::operation_aborted || self->stopped_)
        return;
      log::write(log::level::warn, {{"event", "accept"}, {"result", ec.message()}});
      return self->do_accept();
    }
    ++self->active_;
    auto s = std::make_shared<session>(std::move(sock), self, self->opts_, self->handler_);
    self->sessions_.remove_if([](auto& w) { return w.expired(); });
    self->sessions_.push_back(s);
    s->start();
    self->do_accept();
  });
}

void listener::on_session_end() {
  --active_;
  if (!accepting_ && !stopped_)
    do_accept();
}

void listener::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  beast::error_code ignore;
  acceptor_.close(ignore);
  ::unlink(opts_.socket_path.c_str());
  for (auto& w : sessions_)
    if (auto s = w.lock())
      s->stop();
  sessions_.clear();
}

} // namespace actorvol::net
