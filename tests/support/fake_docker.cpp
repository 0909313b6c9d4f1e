#include "support/fake_docker.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace actorvol::test {

fake_docker::fake_docker(std::string socket_path) : path_(std::move(socket_path)) {
  ::unlink(path_.c_str());
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(fd_, 16);
  thread_ = std::thread([this] { serve(); });
}

fake_docker::~fake_docker() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
  ::unlink(path_.c_str());
}

void fake_docker::set_containers(std::string json) {
  std::lock_guard<std::mutex> guard(mtx_);
  body_ = std::move(json);
}

void fake_docker::serve() {
  std::vector<int> hung;
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0)
      continue;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0)
      continue;
    if (hang_) {
      hung.push_back(c);
      continue;
    }
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      pollfd q{c, POLLIN, 0};
      if (::poll(&q, 1, 2000) <= 0)
        break;
      auto n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0)
        break;
      req.append(buf, static_cast<size_t>(n));
    }
    std::string body;
    {
      std::lock_guard<std::mutex> guard(mtx_);
      body = body_;
    }
    auto res = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
               + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    ::send(c, res.data(), res.size(), MSG_NOSIGNAL);
    ::close(c);
    ++requests_;
  }
  for (int c : hung)
    ::close(c);
}

std::string container_json(const std::string& state, const std::string& volume) {
  return R"({"Id":"c0ffee","State":")" + state
         + R"(","Mounts":[{"Type":"volume","Name":")" + volume
         + R"(","Driver":"actorvol","Destination":"/data"}]})";
}

} // namespace actorvol::test
