#include "core/error.hpp"

#include <caf/sec.hpp>

#include <cctype>
#include <cstring>
#include <utility>

namespace actorvol {

caf::error make_error(ec code, std::string volume, std::string detail) {
  return caf::error{code, std::move(volume), std::move(detail)};
}

ec code_of(const caf::error& err) {
  if (!err)
    return ec::none;
  if (err.category() == error_category)
    return static_cast<ec>(err.code());
  return ec::backend_failed;
}

namespace {

// The volume and the detail one of our errors carries (both empty for any other error).
std::pair<std::string, std::string> parts_of(const caf::error& err) {
  if (!err || err.category() != error_category)
    return {};
  auto& ctx = err.context();
  if (!ctx.match_elements<std::string, std::string>())
    return {};
  return {ctx.get_as<std::string>(0), ctx.get_as<std::string>(1)};
}

} // namespace

std::string volume_of(const caf::error& err) {
  return parts_of(err).first;
}

std::string os_reason(int err) {
  std::string s = std::strerror(err);
  if (!s.empty())
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

namespace {

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

std::string render_ours(ec code, const std::string& vol, const std::string& detail) {
  auto v = "volume " + quoted(vol);
  // What went wrong with `vol`, or with a request that names no volume (List, or an
  // internal error that did not know it).
  auto about = [&](const std::string& what) { return vol.empty() ? what : v + ": " + what; };
  switch (code) {
    case ec::none:
      return "";
    case ec::bad_request:
      return about("bad request: " + detail);
    case ec::unknown_endpoint:
      return "unknown endpoint " + detail;
    case ec::body_too_large:
      return "request body too large: limit is " + detail;
    case ec::headers_too_large:
      return "request header block too large: limit is " + detail;
    case ec::invalid_name:
      return "invalid volume name " + quoted(vol)
             + ": must match [a-zA-Z0-9][a-zA-Z0-9_.-]* and be at most 255 bytes";
    case ec::unknown_option:
      return v + ": unknown option " + quoted(detail);
    case ec::bad_option:
      return v + ": bad option " + detail;
    case ec::no_such_volume:
      return v + " not found";
    case ec::options_conflict:
      return v + " already exists with different options";
    case ec::in_use:
      return v + " is in use: " + detail + " active mount(s)";
    case ec::unknown_mount_id:
      return v + " has no mount with id " + quoted(detail);
    case ec::backend_failed:
      return about(detail);
    case ec::state_write_failed:
      return about("state write failed: " + detail);
    case ec::state_unusable:
      return "the state cannot be used: " + detail;
    case ec::timed_out:
      return about(detail);
    case ec::docker_failed:
      return "docker engine: " + detail;
    case ec::shutting_down:
      return about("actorvol is shutting down");
  }
  return v + ": unknown error";
}

std::string render_sec(const caf::error& err) {
  switch (static_cast<caf::sec>(err.code())) {
    case caf::sec::request_timeout:
      return "internal request timed out";
    case caf::sec::request_receiver_down:
      return "internal actor is down";
    default:
      return "internal error: " + caf::to_string(static_cast<caf::sec>(err.code()));
  }
}

} // namespace

caf::error about_volume(caf::error err, const std::string& volume) {
  if (!err || volume.empty())
    return err;
  if (err.category() == error_category) {
    auto [vol, detail] = parts_of(err);
    if (!vol.empty() || !err.context().match_elements<std::string, std::string>())
      return err;
    return make_error(static_cast<ec>(err.code()), volume, std::move(detail));
  }
  if (err.category() == caf::atom("system")
      && static_cast<caf::sec>(err.code()) == caf::sec::request_receiver_down)
    return make_error(ec::shutting_down, volume);
  return make_error(ec::backend_failed, volume, render(err));
}

std::string render(const caf::error& err) {
  if (!err)
    return "";
  if (err.category() == error_category) {
    auto [vol, detail] = parts_of(err);
    return render_ours(static_cast<ec>(err.code()), vol, detail);
  }
  if (err.category() == caf::atom("system"))
    return render_sec(err);
  return "internal error: " + caf::to_string(err);
}

} // namespace actorvol
