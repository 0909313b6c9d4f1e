#pragma once

// The benchmark's own HTTP/1.1 client: N keep-alive connections over the plugin's Unix socket,
// all driven by one epoll thread. One thread, so that on a 2-core machine the client holds at
// most one core and the numbers say more about the server than about our own scheduling. Each
// connection has one request in flight at a time (a closed loop), as dockerd's do.

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace actorvol::bench {

using clock = std::chrono::steady_clock;

/// The requests the scenarios send; each kind keeps its own latency samples.
enum class op : uint8_t { get, list, mount, unmount, create };
constexpr size_t op_count = 5;

inline const char* op_name(op o) {
  static const char* const names[op_count] = {"get", "list", "mount", "unmount", "create"};
  return names[static_cast<size_t>(o)];
}

inline const char* op_path(op o) {
  static const char* const paths[op_count] = {"/VolumeDriver.Get", "/VolumeDriver.List",
                                              "/VolumeDriver.Mount", "/VolumeDriver.Unmount",
                                              "/VolumeDriver.Create"};
  return paths[static_cast<size_t>(o)];
}

/// One request: the endpoint follows from `kind`, `body` is the JSON text.
struct request {
  op kind = op::get;
  std::string body;
};

/// Latency samples in microseconds.
class samples {
public:
  void add(uint32_t us) {
    us_.push_back(us);
    sorted_ = false;
  }
  size_t size() const {
    return us_.size();
  }
  /// The q-quantile (0 to 1) by nearest rank; 0 when there is no sample.
  double quantile(double q) {
    if (us_.empty())
      return 0;
    if (!sorted_)
      std::sort(us_.begin(), us_.end());
    sorted_ = true;
    return us_[static_cast<size_t>(q * static_cast<double>(us_.size() - 1) + 0.5)];
  }
  void merge(const samples& other) {
    us_.insert(us_.end(), other.us_.begin(), other.us_.end());
    sorted_ = false;
  }

private:
  std::vector<uint32_t> us_;
  bool sorted_ = true;
};

/// What one drive() measured.
struct outcome {
  uint64_t requests = 0;  // answered inside the measured window
  uint64_t errors = 0;    // a non-200 or a non-empty Err, at any time (warm-up and drain too)
  double seconds = 0;     // length of the measured window
  samples all;
  std::array<samples, op_count> by_op;
  std::string first_error;  // the first failure, for the report

  double rps() const {
    return seconds > 0 ? static_cast<double>(requests) / seconds : 0;
  }
};

/// Asked whenever connection `conn` is free. Fills `next` and returns true, or returns false
/// when that connection has nothing more to send. `closing` is true once the measured window
/// is over: a scenario then finishes what must be finished (the Unmount after a Mount) and
/// stops.
using next_request = std::function<bool(size_t conn, bool closing, request& next)>;

struct drive_options {
  size_t connections = 1;
  double warmup_s = 0;  // answers before this are not measured (but still checked)
  double seconds = 0;   // the window after warm-up; 0: until no connection has anything to send
  double stall_s = 120;  // no answer at all for this long: the rest count as errors
};

namespace detail {

/// A blocking connect: the listen backlog may be briefly full when 64 connect at once.
inline int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
    return fd;
  if (fd >= 0)
    ::close(fd);
  return -1;
}

/// Shaped like dockerd's requests (Go's net/http client): POST, JSON, no Content-Type.
inline std::string http_text(const request& r) {
  std::string s;
  s.reserve(200 + r.body.size());
  s += "POST ";
  s += op_path(r.kind);
  s += " HTTP/1.1\r\nHost: plugin\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: ";
  s += std::to_string(r.body.size());
  s += "\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n\r\n";
  s += r.body;
  return s;
}

/// Requests are a few hundred bytes and the server reads each before answering, so a
/// blocking send completes at once; only the reads need the event loop.
inline bool send_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

/// Docker's envelope: success is an empty "Err" (or none at all, as Activate's).
inline bool err_is_empty(std::string_view body) {
  auto at = body.find("\"Err\":");
  if (at == std::string_view::npos)
    return true;
  auto rest = body.substr(at + 6);
  rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(" \t")));
  return rest.substr(0, 2) == "\"\"";
}

inline size_t content_length(std::string_view headers, bool& found) {
  // Header names are case-insensitive; lower-case a copy once per response.
  std::string lower(headers);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto at = lower.find("\r\ncontent-length:");
  found = at != std::string::npos;
  return found ? std::strtoul(lower.c_str() + at + 17, nullptr, 10) : 0;
}

struct conn_state {
  int fd = -1;
  std::string in;                          // bytes read, not yet a whole response
  size_t header_end = std::string::npos;   // where the body starts, once the headers are in
  size_t body_len = 0;
  int status = 0;
  bool busy = false;
  op kind = op::get;
  clock::time_point sent;
};

} // namespace detail

/// Runs `next` on `o.connections` keep-alive connections until the window closes (or, with
/// no window, until every connection is done). Throws when the socket cannot be connected.
inline outcome drive(const std::string& socket, const drive_options& o, const next_request& next) {
  using namespace detail;
  outcome out;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<conn_state> conns(o.connections);
  auto open = [&](size_t c) {
    conns[c] = conn_state{};
    conns[c].fd = connect_unix(socket);
    if (conns[c].fd < 0)
      throw std::runtime_error("cannot connect to " + socket + ": " + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[c].fd, &ev);
  };
  for (size_t c = 0; c < conns.size(); ++c)
    open(c);

  auto fail = [&](std::string what) {
    ++out.errors;
    if (out.first_error.empty())
      out.first_error = std::move(what);
  };
  bool closing = false;
  size_t in_flight = 0;
  auto issue = [&](size_t c) {
    request r;
    if (!next(c, closing, r))
      return;
    auto& s = conns[c];
    s.kind = r.kind;
    s.sent = clock::now();
    if (!send_all(s.fd, http_text(r))) {
      fail(std::string(op_path(r.kind)) + ": send failed: " + std::strerror(errno));
      return;
    }
    s.busy = true;
    ++in_flight;
  };

  auto start = clock::now();
  auto window_start = start + std::chrono::duration_cast<clock::duration>(
                                std::chrono::duration<double>(o.warmup_s));
  auto window_end = window_start + std::chrono::duration_cast<clock::duration>(
                                     std::chrono::duration<double>(o.seconds));
  auto last_answer = start;
  for (size_t c = 0; c < conns.size(); ++c)
    issue(c);

  // One answer is complete: measure it, check it, and give the connection its next request.
  auto answered = [&](size_t c, std::string_view body) {
    auto& s = conns[c];
    auto now = clock::now();
    last_answer = now;
    s.busy = false;
    --in_flight;
    if (s.status != 200 || !err_is_empty(body))
      fail(std::string(op_path(s.kind)) + ": HTTP " + std::to_string(s.status) + " " +
           std::string(body.substr(0, 300)));
    if (now >= window_start && (o.seconds <= 0 || now <= window_end)) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - s.sent).count();
      auto clipped = static_cast<uint32_t>(std::min<long long>(us, UINT32_MAX));
      out.all.add(clipped);
      out.by_op[static_cast<size_t>(s.kind)].add(clipped);
      ++out.requests;
    }
    issue(c);
  };

  std::vector<epoll_event> events(std::max<size_t>(conns.size(), 1));
  std::vector<char> buf(1 << 16);
  while (in_flight > 0) {
    auto now = clock::now();
    if (o.seconds > 0 && !closing && now >= window_end)
      closing = true;
    int timeout_ms = 1000;
    if (o.seconds > 0 && !closing)
      timeout_ms = static_cast<int>(std::clamp<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(window_end - now).count() + 1, 1,
        1000));
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR)
      throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
    if (n <= 0) {
      if (clock::now() - last_answer > std::chrono::duration<double>(o.stall_s)) {
        for (size_t i = 0; i < in_flight; ++i)
          fail("no answer within " + std::to_string(static_cast<int>(o.stall_s)) + " s");
        break;
      }
      continue;
    }
    for (int i = 0; i < n; ++i) {
      auto c = static_cast<size_t>(events[static_cast<size_t>(i)].data.u64);
      auto& s = conns[c];
      auto got = ::recv(s.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (got <= 0) {
        // The server closed (or reset) a keep-alive connection: an error for whatever was
        // in flight; reconnect so the scenario goes on.
        if (s.busy) {
          --in_flight;
          fail(std::string(op_path(s.kind)) + ": connection closed before the answer");
        }
        ::close(s.fd);
        open(c);
        issue(c);
        continue;
      }
      s.in.append(buf.data(), static_cast<size_t>(got));
      // Parse whatever is complete (normally exactly one answer, since one is in flight).
      while (true) {
        if (s.header_end == std::string::npos) {
          auto end = s.in.find("\r\n\r\n");
          if (end == std::string::npos)
            break;
          s.header_end = end + 4;
          s.status = 0;
          std::sscanf(s.in.c_str(), "HTTP/1.%*d %d", &s.status);
          bool found = false;
          s.body_len = content_length(std::string_view(s.in).substr(0, end + 2), found);
          if (!found)
            s.status = -1;  // the server always sends one; anything else is a protocol error
        }
        if (s.in.size() < s.header_end + s.body_len)
          break;
        std::string rest = s.in.substr(s.header_end + s.body_len);
        s.in.resize(s.header_end + s.body_len);
        auto body = std::string_view(s.in).substr(s.header_end);
        s.header_end = std::string::npos;
        if (!s.busy)
          fail("an answer nobody asked for");
        else
          answered(c, body);
        s.in = std::move(rest);
      }
    }
  }
  out.seconds =
    o.seconds > 0 ? o.seconds : std::chrono::duration<double>(last_answer - start).count();
  for (auto& s : conns)
    if (s.fd >= 0)
      ::close(s.fd);
  ::close(ep);
  return out;
}

} // namespace actorvol::bench
