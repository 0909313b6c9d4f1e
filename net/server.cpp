#include "net/server.hpp"

#include "core/log.hpp"
#include "net/session.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>

namespace actorvol::net {

namespace asio = boost::asio;
using stream_protocol = asio::local::stream_protocol;
using generic = asio::generic::stream_protocol;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// A Unix stream socket that child processes (mount helpers, mkfs) do not inherit.
int cloexec_socket() {
  return ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

const generic unix_protocol{AF_UNIX, 0};

// Runs `then(*self)` on the I/O thread after `delay` unless `timer` is cancelled first;
// `armed` says meanwhile that it is on its way (it is a member of *self, which the wait
// keeps alive).
template <class Self, class Then>
void after(asio::steady_timer& timer, bool& armed, std::chrono::steady_clock::duration delay,
           std::shared_ptr<Self> self, Then then) {
  armed = true;
  timer.expires_after(delay);
  timer.async_wait([self = std::move(self), &armed, then](error_code e) {
    armed = false;
    if (!e)
      then(*self);
  });
}

} // namespace

std::string parse_tcp_address(const std::string& text, tcp::endpoint& out) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return text + ": expected HOST:PORT";
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos)
    return text + ": an IPv6 address goes in brackets, e.g. [::1]:9443";
  error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec)
    return text + ": " + host + " is not an IP address";
  auto port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5
      || port_text.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(port_text) > 65535)
    return text + ": the port must be 0..65535";
  out = tcp::endpoint(ip, static_cast<unsigned short>(std::stoul(port_text)));
  return "";
}

std::string make_tls_context(const std::string& cert, const std::string& key,
                             const std::string& client_ca,
                             std::shared_ptr<asio::ssl::context>& out) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  error_code ec;
  // TLS 1.2 at least: SSLv2/3, TLS 1.0 and 1.1 are refused at the handshake.
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2
                     | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1
                     | asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                   ec);
  if (!ec)
    ctx->use_certificate_chain_file(cert, ec);
  if (ec)
    return "--tls-cert " + cert + ": " + ec.message();
  ctx->use_private_key_file(key, asio::ssl::context::pem, ec);
  if (ec)
    return "--tls-key " + key + ": " + ec.message();
  if (!client_ca.empty()) {
    ctx->load_verify_file(client_ca, ec);
    if (ec)
      return "--tls-client-ca " + client_ca + ": " + ec.message();
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
    if (ec)
      return "--tls-client-ca " + client_ca + ": " + ec.message();
  }
  out = std::move(ctx);
  return "";
}

listener::listener(asio::io_context& ioc, server_options opts, request_handler handler)
  : ioc_(ioc), opts_(std::move(opts)), handler_(std::move(handler)), acceptor_(ioc),
    retry_(ioc), expiry_(ioc) {
}

// Takes the socket a service manager passed: it must be a listening Unix stream socket. The
// manager passes it without close-on-exec; mount helpers must not inherit it.
std::string listener::adopt_inherited() {
  int fd = opts_.inherited_fd;
  int type = 0;
  int listening = 0;
  sockaddr_un addr{};
  socklen_t len = sizeof type;
  socklen_t addr_len = sizeof addr;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0)
    return "the inherited socket (fd " + std::to_string(fd) + ") is unusable: " + os_reason(errno);
  len = sizeof listening;
  ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
  if (addr.sun_family != AF_UNIX || type != SOCK_STREAM || !listening)
    return "the inherited socket (fd " + std::to_string(fd)
           + ") is not a listening Unix stream socket (ListenStream= with a path)";
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  error_code io_err;
  acceptor_.assign(unix_protocol, fd, io_err);
  if (!io_err)
    acceptor_.non_blocking(true, io_err);
  if (io_err)
    return "cannot listen on the inherited socket: " + io_err.message();
  if (addr_len > offsetof(sockaddr_un, sun_path) && addr.sun_path[0] != '\0')
    opts_.socket_path.assign(addr.sun_path, ::strnlen(addr.sun_path, sizeof addr.sun_path));
  where_ = opts_.socket_path;
  return "";
}

std::string listener::open_tcp() {
  tcp::endpoint ep;
  if (auto err = parse_tcp_address(opts_.tcp_address, ep); !err.empty())
    return "--listen tcp://" + err;
  family_ = ep.address().is_v6() ? AF_INET6 : AF_INET;
  int fd = ::socket(family_, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return "cannot create a socket: " + os_reason(errno);
  error_code io_err;
  acceptor_.assign(generic(family_, IPPROTO_TCP), fd, io_err);
  if (io_err) {
    ::close(fd);
    return "cannot listen on " + opts_.tcp_address + ": " + io_err.message();
  }
  acceptor_.set_option(asio::socket_base::reuse_address(true), io_err);
  if (!io_err)
    acceptor_.non_blocking(true, io_err);
  if (!io_err)
    acceptor_.bind(generic::endpoint(ep), io_err);
  if (!io_err)
    acceptor_.listen(asio::socket_base::max_listen_connections, io_err);
  if (io_err)
    return "cannot listen on " + opts_.tcp_address + ": " + io_err.message();
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(acceptor_.native_handle(), reinterpret_cast<sockaddr*>(&bound), &len);
  auto port = bound.ss_family == AF_INET6
                ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  auto host = ep.address().to_string();
  where_ = (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
  return "";
}

std::string listener::open() {
  if (opts_.inherited_fd >= 0)
    return adopt_inherited();
  if (!opts_.tcp_address.empty())
    return open_tcp();
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
    int fd = cloexec_socket();
    if (fd < 0)
      return "cannot create a socket: " + os_reason(errno);
    stream_protocol::socket probe(ioc_, stream_protocol(), fd);
    error_code io_err;
    probe.connect(stream_protocol::endpoint(path), io_err);
    if (!io_err)
      return "another instance is already listening on " + path;
    ::unlink(path.c_str());  // stale: nobody answers on it
  }
  int fd = cloexec_socket();
  if (fd < 0)
    return "cannot create a socket: " + os_reason(errno);
  error_code io_err;
  acceptor_.assign(unix_protocol, fd, io_err);
  if (io_err) {
    ::close(fd);
    return "cannot listen on " + path + ": " + io_err.message();
  }
  acceptor_.non_blocking(true, io_err);  // accept4 below must never block the I/O thread
  if (!io_err)
    acceptor_.bind(generic::endpoint(stream_protocol::endpoint(path)), io_err);
  if (io_err)
    return "cannot bind " + path + ": " + io_err.message();
  ::chmod(path.c_str(), 0660);
  acceptor_.listen(asio::socket_base::max_listen_connections, io_err);
  if (io_err)
    return "cannot listen on " + path + ": " + io_err.message();
  where_ = path;
  return "";
}

void listener::run() {
  io_thread_ = std::this_thread::get_id();
  do_accept();
}

void listener::do_accept() {
  if (stopped_ || accepting_)
    return;
  accepting_ = true;
  acceptor_.async_wait(asio::socket_base::wait_read,
                       [self = shared_from_this()](error_code io_err) {
                         self->accepting_ = false;
                         self->on_acceptable(io_err);
                       });
}

void listener::on_acceptable(error_code io_err) {
  if (stopped_ || io_err == asio::error::operation_aborted)
    return;
  // At the bound a new client comes in only when an idle connection can make room for it;
  // else it waits in the backlog until a place is free (on_session_end, on_session_idle).
  if (!io_err && active_ >= opts_.max_connections && !eviction_candidate())
    return;
  if (!io_err && accept_one())
    return do_accept();
  log::write(log::level::warn,
             {{"event", "accept"}, {"result", io_err ? io_err.message() : os_reason(errno)}});
  // Try again soon (e.g. out of file descriptors), without spinning.
  after(retry_, accepting_, std::chrono::milliseconds(100), shared_from_this(),
        [](listener& self) { self.do_accept(); });
}

// Accepts one connection (with CLOEXEC set atomically); false on an error worth a pause.
bool listener::accept_one() {
  int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED;
  // The session for the transport: the Unix socket, TCP, or TLS over TCP.
  std::shared_ptr<connection_base> s;
  error_code io_err;
  if (family_ == AF_UNIX) {
    stream_protocol::socket sock(ioc_);
    sock.assign(stream_protocol(), fd, io_err);
    if (!io_err)
      s = std::make_shared<session<unix_stream>>(unix_stream(std::move(sock)),
                                                 shared_from_this());
  } else {
    tcp::socket sock(ioc_);
    sock.assign(family_ == AF_INET6 ? tcp::v6() : tcp::v4(), fd, io_err);
    if (!io_err)
      sock.set_option(tcp::no_delay(true), io_err);
    if (!io_err && opts_.tls)
      s = std::make_shared<session<tls_stream>>(tls_stream(tcp_stream(std::move(sock)), *opts_.tls),
                                                shared_from_this());
    else if (!io_err)
      s = std::make_shared<session<tcp_stream>>(tcp_stream(std::move(sock)),
                                                shared_from_this());
  }
  if (io_err) {
    ::close(fd);
    errno = io_err.value();
    return false;
  }
  if (active_ >= opts_.max_connections)
    if (auto victim = eviction_candidate()) {
      log::write(log::level::info, {{"event", "evict"},
                                    {"connections", std::to_string(active_)},
                                    {"result", "closed a waiting connection to make room"}});
      victim->evict();
    }
  ++active_;
  // Ended sessions leave expired entries; forget them before the list outgrows the live ones
  // (each keeps its session's memory block until then).
  if (sessions_.size() > 2 * active_ + 64)
    sessions_.remove_if([](const std::weak_ptr<connection_base>& w) { return w.expired(); });
  sessions_.push_back(s);
  s->start();
  schedule_expiry();
  return true;
}

// Connections' deadlines are checked once a second by one timer, not by a timer per read
// and per write: that cost about 0.6 us of the I/O thread per request. The timer runs while
// any connection is open (after stop() too: an answer a client does not read still ends).
void listener::schedule_expiry() {
  if (expiring_)
    return;
  after(expiry_, expiring_, std::chrono::seconds(1), shared_from_this(),
        [](listener& self) { self.expire_overdue(); });
}

template <class F>
void listener::each_session(F f) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto s = it->lock();
    if (!s) {
      it = sessions_.erase(it);
      continue;
    }
    ++it;
    f(s);
  }
}

void listener::expire_overdue() {
  auto now = connection_base::clock::now();
  bool any = false;
  each_session([&](std::shared_ptr<connection_base>& s) {
    any = true;
    s->expire(now);
  });
  if (any)
    schedule_expiry();
  // At the bound, a client waiting to connect may now find a connection that became one to
  // close (an answer unread for two seconds): the accept is tried again.
  if (!stopped_ && active_ >= opts_.max_connections)
    do_accept();
}

// The connection to close for a new one: the longest idle, else the slowest partial request
// or unread answer; never one whose request is with the actors. Forgets ended sessions on the
// way.
std::shared_ptr<connection_base> listener::eviction_candidate() {
  std::shared_ptr<connection_base> best;
  std::pair<bool, connection_base::clock::time_point> best_rank;
  each_session([&](std::shared_ptr<connection_base>& s) {
    if (!s->evictable())
      return;
    auto rank = s->eviction_rank();
    if (!best || rank < best_rank) {
      best = std::move(s);
      best_rank = rank;
    }
  });
  return best;
}

void listener::on_session_end() {
  if (std::this_thread::get_id() != io_thread_)
    return asio::post(ioc_, [self = shared_from_this()] { self->on_session_end(); });
  --active_;
  if (stopped_ && active_ == 0)
    expiry_.cancel();  // nothing left to expire: ioc.run() may return now
  do_accept();
}

void listener::on_session_idle() {
  if (active_ >= opts_.max_connections)
    do_accept();  // a client waiting in the backlog may now take this one's place
}

void listener::report_undelivered(api_request req) {
  if (!opts_.on_undelivered)
    return;
  // The loop's work is held until the undo is settled: a Mount undone as actorvol stops is
  // durable before the actors are stopped. The hold goes with the last copy of the callback
  // (on any thread), which the NET actor drops once it has called it.
  auto hold = std::make_shared<asio::executor_work_guard<asio::io_context::executor_type>>(
    ioc_.get_executor());
  opts_.on_undelivered(std::move(req), [hold](api_reply) {});
}

bool listener::check_io_thread(const char* what) {
  if (std::this_thread::get_id() == io_thread_)
    return true;
  ++off_thread_;
  log::write(log::level::error, {{"event", "off-io-thread"},
                                 {"what", what},
                                 {"result", "released off the I/O thread"}});
  return false;
}

void listener::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  error_code ignore;
  acceptor_.close(ignore);
  retry_.cancel();
  if (opts_.inherited_fd < 0 && opts_.tcp_address.empty())
    ::unlink(opts_.socket_path.c_str());
  for (auto& w : sessions_)
    if (auto s = w.lock())
      s->stop();
  // The list stays: a connection still busy keeps its deadline until it ends.
  if (active_ == 0)
    expiry_.cancel();
}

} // namespace actorvol::net
