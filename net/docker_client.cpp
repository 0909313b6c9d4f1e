#include "net/docker_client.hpp"

#include "core/error.hpp"

#include <caf/all.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace actorvol::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using stream_protocol = asio::local::stream_protocol;

namespace {

caf::error docker_error(const std::string& what) {
  return make_error(ec::docker_failed, "", what);
}

} // namespace

caf::expected<std::string> http_get(const std::string& socket_path, const std::string& target,
                                    std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::basic_stream<stream_protocol> stream(ioc);
  beast::error_code io_err;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256u << 20);
  beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "docker");
  req.set(http::field::user_agent, "actorvol");
  // Opened here with CLOEXEC (Asio's own open has none): children inherit no socket.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return docker_error("GET " + target + " on " + socket_path + " failed: " + os_reason(errno));
  stream.socket().assign(stream_protocol(), fd, io_err);
  if (io_err) {
    ::close(fd);
    return docker_error("GET " + target + " on " + socket_path + " failed: " + io_err.message());
  }
  // Asynchronous operations under one deadline, so a daemon that hangs cannot hold us.
  stream.expires_after(timeout);
  stream.async_connect(stream_protocol::endpoint(socket_path), [&](beast::error_code e) {
    if ((io_err = e))
      return;
    http::async_write(stream, req, [&](beast::error_code e, size_t) {
      if ((io_err = e))
        return;
      http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { io_err = e; });
    });
  });
  ioc.run();
  if (io_err)
    return docker_error("GET " + target + " on " + socket_path + " failed: " + io_err.message());
  auto& res = parser.get();
  if (res.result_int() / 100 != 2)
    return docker_error("GET " + target + " answered " + std::to_string(res.result_int()));
  return std::move(res.body());
}

caf::expected<std::set<std::string>> referenced_volumes(const std::string& containers_json) {
  auto j = nlohmann::json::parse(containers_json, nullptr, false);
  if (j.is_discarded() || !j.is_array())
    return docker_error("unexpected answer to /containers/json");
  std::set<std::string> names;
  for (auto& c : j) {
    auto state = c.value("State", "");
    if (state == "exited" || state == "dead")
      continue;
    auto mounts = c.find("Mounts");
    if (mounts == c.end() || !mounts->is_array())
      continue;
    for (auto& m : *mounts)
      if (m.value("Type", "") == "volume" && m.contains("Name") && m["Name"].is_string())
        names.insert(m["Name"].get<std::string>());
  }
  return names;
}

caf::expected<std::set<std::string>> docker_referenced_volumes(
  const std::string& socket_path, std::chrono::milliseconds timeout) {
  auto body = http_get(socket_path, "/containers/json?all=1", timeout);
  if (!body)
    return body.error();
  return referenced_volumes(*body);
}

docker_probe_actor::behavior_type docker_probe(docker_probe_actor::pointer,
                                               std::string socket_path) {
  return {
    [socket_path](atom::get) -> caf::result<std::vector<std::string>> {
      auto names = docker_referenced_volumes(socket_path, std::chrono::seconds(10));
      if (!names)
        return std::move(names.error());
      return std::vector<std::string>(names->begin(), names->end());
    },
  };
}

} // namespace actorvol::net
