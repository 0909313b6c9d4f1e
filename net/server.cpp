#include "net/server.hpp"

#include "core/log.hpp"
#include "net/session.hpp"

#include <boost/asio/post.hpp>

#include <fcntl.h>
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
using error_code = boost::system::error_code;

namespace {

// A Unix stream socket that child processes (mount helpers, mkfs) do not inherit.
int cloexec_socket() {
  return ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

} // namespace

listener::listener(asio::io_context& ioc, server_options opts, request_handler handler)
  : ioc_(ioc), opts_(std::move(opts)), handler_(std::move(handler)), acceptor_(ioc),
    retry_(ioc) {
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
  acceptor_.assign(stream_protocol(), fd, io_err);
  if (!io_err)
    acceptor_.non_blocking(true, io_err);
  if (io_err)
    return "cannot listen on the inherited socket: " + io_err.message();
  if (addr_len > offsetof(sockaddr_un, sun_path) && addr.sun_path[0] != '\0')
    opts_.socket_path.assign(addr.sun_path, ::strnlen(addr.sun_path, sizeof addr.sun_path));
  return "";
}

std::string listener::open() {
  if (opts_.inherited_fd >= 0)
    return adopt_inherited();
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
  acceptor_.assign(stream_protocol(), fd, io_err);
  if (io_err) {
    ::close(fd);
    return "cannot listen on " + path + ": " + io_err.message();
  }
  acceptor_.non_blocking(true, io_err);  // accept4 below must never block the I/O thread
  if (!io_err)
    acceptor_.bind(stream_protocol::endpoint(path), io_err);
  if (io_err)
    return "cannot bind " + path + ": " + io_err.message();
  ::chmod(path.c_str(), 0660);
  acceptor_.listen(asio::socket_base::max_listen_connections, io_err);
  if (io_err)
    return "cannot listen on " + path + ": " + io_err.message();
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
  acceptor_.async_wait(stream_protocol::acceptor::wait_read,
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
  accepting_ = true;  // try again soon (e.g. out of file descriptors), without spinning
  retry_.expires_after(std::chrono::milliseconds(100));
  retry_.async_wait([self = shared_from_this()](error_code e) {
    self->accepting_ = false;
    if (!e)
      self->do_accept();
  });
}

// Accepts one connection (with CLOEXEC set atomically); false on an error worth a pause.
bool listener::accept_one() {
  int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED;
  stream_protocol::socket sock(ioc_);
  error_code io_err;
  sock.assign(stream_protocol(), fd, io_err);
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
  auto s = std::make_shared<session>(std::move(sock), shared_from_this());
  sessions_.push_back(s);
  s->start();
  return true;
}

// The connection to close for a new one: the longest idle, else the slowest partial request;
// never one whose request is with the actors. Forgets ended sessions on the way.
std::shared_ptr<session> listener::eviction_candidate() {
  std::shared_ptr<session> best;
  std::pair<bool, session::clock::time_point> best_rank;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto s = it->lock();
    if (!s) {
      it = sessions_.erase(it);
      continue;
    }
    ++it;
    if (!s->evictable())
      continue;
    auto rank = s->eviction_rank();
    if (!best || rank < best_rank) {
      best = std::move(s);
      best_rank = rank;
    }
  }
  return best;
}

void listener::on_session_end() {
  if (std::this_thread::get_id() != io_thread_)
    return asio::post(ioc_, [self = shared_from_this()] { self->on_session_end(); });
  --active_;
  do_accept();
}

void listener::on_session_idle() {
  if (active_ >= opts_.max_connections)
    do_accept();  // a client waiting in the backlog may now take this one's place
}

void listener::report_undelivered(api_request req) {
  if (opts_.on_undelivered)
    opts_.on_undelivered(std::move(req));
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
  if (opts_.inherited_fd < 0)
    ::unlink(opts_.socket_path.c_str());
  for (auto& w : sessions_)
    if (auto s = w.lock())
      s->stop();
  sessions_.clear();
}

} // namespace actorvol::net
