// libFuzzer target for the request path: raw bytes -> Beast's HTTP parser (with the server's
// limits) -> decode_request -> a rendered answer. Nothing here may crash, hang or leak, and
// every answer must be JSON with an Err string or a success shape.

#include "net/protocol.hpp"

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace actorvol;
  using namespace actorvol::net;
  http::request_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  parser.header_limit(8 << 10);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t used = 0;
  while (used < input.size() && !parser.is_done()) {
    auto n = parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
    if (ec || n == 0)
      break;
    used += n;
  }
  if (!ec && parser.is_done()) {
    auto& req = parser.get();
    auto parsed = net::decode_request(std::string_view(req.method_string().data(),
                                                       req.method_string().size()),
                                      std::string_view(req.target().data(), req.target().size()),
                                      req.body());
    api_reply reply;
    endpoint ep = endpoint::activate;
    if (!parsed)
      reply.error = parsed.error();
    else
      ep = parsed->ep;
    auto answer = net::render_reply(ep, reply);
    auto j = nlohmann::json::parse(answer.body, nullptr, false);
    if (j.is_discarded())
      std::abort();
    if (parsed && !valid_volume_name(parsed->name) && parsed->name.size() > (1u << 20))
      std::abort();
  }
  return 0;
}
