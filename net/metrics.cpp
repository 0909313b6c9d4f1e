#include "net/metrics.hpp"

#include "core/metrics.hpp"
#include "net/router.hpp"
#include "net/server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>

namespace actorvol::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using generic = asio::generic::stream_protocol;

namespace {

constexpr size_t endpoints = 10;  // the nine of the protocol, and "other"
constexpr size_t max_connections = 16;  // metrics connections at once
constexpr size_t results = 3;

struct request_table {
  std::array<std::array<metrics::counter, results>, endpoints> counts;
  std::array<metrics::histogram, endpoints> latency;
};

request_table& table() {
  static request_table t;
  return t;
}

std::string label_of(size_t i) {
  return i + 1 < endpoints ? std::string(path_of(static_cast<endpoint>(i))) : "other";
}

constexpr std::array<const char*, results> result_names{"ok", "error", "rejected"};

} // namespace

// One connection: requests in turn (keep-alive), each answered from the server's render.
class metrics_session : public std::enable_shared_from_this<metrics_session> {
public:
  metrics_session(generic::socket sock, std::shared_ptr<metrics_server> owner)
    : stream_(std::move(sock)), owner_(std::move(owner)) {
  }
  void close() {
    beast::error_code ignore;
    stream_.socket().shutdown(generic::socket::shutdown_both, ignore);
    stream_.close();
  }
  void start() {
    parser_.emplace();
    parser_->body_limit(4096);  // a scrape has no body
    parser_->header_limit(8192);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec)
                         return self->answer(self->parser_->release());
                       if (ec == http::error::end_of_stream || ec == beast::error::timeout
                           || ec == asio::error::operation_aborted
                           || ec.category() != http::make_error_code(http::error::bad_target)
                                                 .category())
                         return self->close();  // gone, idle, stopped: nothing to answer
                       self->refuse(ec);
                     });
  }

private:
  // A request that is no HTTP, or too large: 400 (431 for the headers), then the connection
  // closes.
  void refuse(beast::error_code ec) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->keep_alive(false);
    res->result(ec == http::error::header_limit ? http::status::request_header_fields_too_large
                                                : http::status::bad_request);
    res->set(http::field::content_type, "text/plain; charset=utf-8");
    res->body() = "bad request: " + ec.message() + "\n";
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
      self->close();
    });
  }

  void answer(http::request<http::string_body> req) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(req.version());
    res->keep_alive(req.keep_alive());
    auto target = std::string(req.target());
    if (auto q = target.find('?'); q != std::string::npos)
      target.resize(q);
    if (target != "/metrics") {
      res->result(http::status::not_found);
      res->body() = "only /metrics is served here\n";
    } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res->result(http::status::method_not_allowed);
      res->set(http::field::allow, "GET, HEAD");
      res->body() = "GET /metrics\n";
    } else {
      res->result(http::status::ok);
      res->body() = owner_->options().render();
    }
    res->set(http::field::content_type, res->result() == http::status::ok
                                          ? "text/plain; version=0.0.4; charset=utf-8"
                                          : "text/plain; charset=utf-8");
    res->prepare_payload();
    if (req.method() == http::verb::head)
      res->body().clear();  // Content-Length stays the GET's
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (!ec && res->keep_alive())
                          return self->start();
                        self->close();
                      });
  }

  beast::basic_stream<generic> stream_;
  std::shared_ptr<metrics_server> owner_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

void request_metrics::record(std::optional<endpoint> ep, result r,
                             std::chrono::nanoseconds took) {
  auto i = ep ? static_cast<size_t>(*ep) : endpoints - 1;
  auto& t = table();
  t.counts[i][static_cast<size_t>(r)].add();
  t.latency[i].observe(static_cast<uint64_t>(std::max<int64_t>(took.count(), 0)));
}

void request_metrics::render(std::string& out) const {
  auto& t = table();
  metrics::describe(out, "actorvol_requests_total", "counter",
                    "Requests answered, by endpoint and result (ok, error: answered with an "
                    "Err, rejected: a bad request).");
  for (size_t i = 0; i < endpoints; ++i)
    for (size_t r = 0; r < results; ++r)
      out += "actorvol_requests_total{endpoint=\"" + label_of(i) + "\",result=\""
             + result_names[r] + "\"} " + std::to_string(t.counts[i][r].value()) + "\n";
  metrics::describe(out, "actorvol_request_duration_seconds", "histogram",
                    "Time from a request's arrival to its answer, by endpoint.");
  for (size_t i = 0; i < endpoints; ++i)
    t.latency[i].render(out, "actorvol_request_duration_seconds",
                        "endpoint=\"" + label_of(i) + "\"", 1e9);
}

request_metrics& requests() {
  static request_metrics r;
  return r;
}

metrics_server::metrics_server(asio::io_context& ioc, metrics_options opts)
  : opts_(std::move(opts)), acceptor_(ioc), retry_(ioc) {
}

std::string metrics_server::open() {
  beast::error_code ec;
  if (!opts_.address.empty()) {
    asio::ip::tcp::endpoint tcp_ep;
    if (auto err = parse_tcp_address(opts_.address, tcp_ep); !err.empty())
      return "--metrics-address " + err;
    auto ip = tcp_ep.address();
    generic::endpoint ep(tcp_ep);
    acceptor_.open(ep.protocol(), ec);
    if (!ec)
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
      acceptor_.bind(ep, ec);
    if (!ec)
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return "cannot listen on " + opts_.address + " (metrics): " + ec.message();
    auto bound = acceptor_.local_endpoint(ec);
    asio::ip::tcp::endpoint local;
    std::memcpy(local.data(), bound.data(), std::min<size_t>(bound.size(), local.capacity()));
    ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
    where_ = (ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string()) + ":"
             + std::to_string(local.port());
    return "";
  }
  auto& path = opts_.socket_path;
  std::error_code fe;
  if (auto parent = std::filesystem::path(path).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent, fe);
  if (fe)
    return "--metrics-socket " + path + ": cannot create its directory: " + fe.message();
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return "--metrics-socket " + path + " exists and is not a socket";
    asio::local::stream_protocol::socket probe(acceptor_.get_executor());
    probe.connect(asio::local::stream_protocol::endpoint(path), ec);
    if (!ec)
      return "--metrics-socket " + path + ": another process is listening on it";
    ec.clear();
    ::unlink(path.c_str());  // stale: nobody answers on it
  }
  generic::endpoint ep{asio::local::stream_protocol::endpoint{path}};
  acceptor_.open(ep.protocol(), ec);
  if (!ec)
    acceptor_.bind(ep, ec);
  if (!ec)
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return "cannot listen on " + path + " (metrics): " + ec.message();
  ::chmod(path.c_str(), 0660);
  ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
  where_ = path;
  return "";
}

std::string metrics_server::where() const {
  return where_;
}

void metrics_server::run() {
  do_accept();
}

void metrics_server::do_accept() {
  acceptor_.async_accept([self = shared_from_this()](beast::error_code ec, generic::socket s) {
    if (self->stopped_)
      return;
    if (ec) {  // out of descriptors, say: try again soon, without spinning
      self->retry_.expires_after(std::chrono::milliseconds(100));
      return self->retry_.async_wait([self](beast::error_code e) {
        if (!e)
          self->do_accept();
      });
    }
    ::fcntl(s.native_handle(), F_SETFD, FD_CLOEXEC);  // children inherit no socket
    self->sessions_.remove_if([](auto& w) { return w.expired(); });
    // A scraper needs one connection: at the bound the oldest makes room, so that idle or
    // stalled clients never use up the process's descriptors (the plugin socket needs them).
    while (self->sessions_.size() >= max_connections) {
      if (auto oldest = self->sessions_.front().lock())
        oldest->close();
      self->sessions_.pop_front();
    }
    auto session = std::make_shared<metrics_session>(std::move(s), self);
    self->sessions_.push_back(session);
    session->start();
    self->do_accept();
  });
}

void metrics_server::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  beast::error_code ignore;
  acceptor_.close(ignore);
  retry_.cancel();
  for (auto& w : sessions_)
    if (auto s = w.lock())
      s->close();
  sessions_.clear();
  if (!opts_.socket_path.empty() && opts_.address.empty())
    ::unlink(opts_.socket_path.c_str());
}

} // namespace actorvol::net
