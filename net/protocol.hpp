#pragma once

// The protocol's JSON <-> actorvol's typed requests and replies (pure: no I/O, no actors).

#include "net/api.hpp"

#include <caf/expected.hpp>

#include <string>
#include <string_view>

namespace actorvol::net {

/// An HTTP status and a JSON body.
struct answer {
  unsigned status = 200;
  std::string body;
};

/// Decodes one HTTP request: the method must be POST, the target one of the nine
/// endpoints (else ec::unknown_endpoint), and the body right for it (else ec::bad_request).
caf::expected<api_request> decode_request(std::string_view method, std::string_view target,
                                          std::string_view body);

/// Parses the body of a request to `ep`. A bad body is ec::bad_request saying why.
caf::expected<api_request> parse_request(endpoint ep, std::string_view body);

/// The answer to a request to `ep` (an error in the reply makes an error answer).
answer render_reply(endpoint ep, const api_reply& reply);

/// The answer for a failed request: `{"Err": render(err)}` with the status for its code.
answer render_error(const caf::error& err);

/// The HTTP status for an error: 400/404/413/431 for protocol errors, 500 otherwise.
unsigned status_of(const caf::error& err);

} // namespace actorvol::net
