#pragma once

// Every failure actorvol can answer with is one code here. A failure is made once, with
// make_error(code, volume, detail), and turned into Docker's `Err` text in one place: render().

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include <cstdint>
#include <string>

namespace actorvol {

enum class ec : uint8_t {
  none = 0,
  // -- request errors (answered before anything touches the disk) --
  bad_request,        // detail: what is wrong with the body
  unknown_endpoint,   // detail: the path
  body_too_large,     // detail: the limit
  headers_too_large,  // detail: the limit
  invalid_name,       // volume: the offending name (escaped)
  unknown_option,     // detail: the option
  bad_option,         // detail: "key=value: what is wrong"
  // -- semantic errors --
  no_such_volume,
  options_conflict,   // Create of an existing name with other Opts
  in_use,             // detail: the number of active mounts
  unknown_mount_id,   // detail: the ID
  // -- backend and state errors (detail: the OS reason) --
  backend_failed,     // detail: "<what> failed: <reason>"
  state_write_failed,
  state_unusable,     // detail: why the state cannot be opened or read (start-up)
  docker_failed,      // detail: what failed talking to the Docker Engine
  timed_out,          // detail: "<operation> ... after N s"
  shutting_down,
};

} // namespace actorvol

// caf::error{ec::in_use, volume, detail} builds an actorvol error (category "actorvol").
CAF_ERROR_CODE_ENUM(actorvol::ec, "actorvol")

namespace actorvol {

/// The error category of actorvol's codes.
constexpr caf::atom_value error_category = caf::detail::error_factory<ec>::category;

/// True when `err` is actorvol's `code` (false for none and for CAF's own errors).
inline bool operator==(const caf::error& err, ec code) {
  return err && err.compare(static_cast<uint8_t>(code), error_category) == 0;
}

inline bool operator!=(const caf::error& err, ec code) {
  return !(err == code);
}

/// Makes an actorvol error. `volume` names the volume (may be empty), `detail` is the
/// code-specific part, e.g. the OS reason.
caf::error make_error(ec code, std::string volume = {}, std::string detail = {});

/// `err` as an error about `volume`: one of ours that names no volume is given it; one of
/// CAF's becomes ours about `volume`: ec::shutting_down for an actor that is gone (only a
/// stopping system loses its WORKERs or REGISTRY), else ec::backend_failed with its text.
/// Any other, and no error, is returned as it is.
caf::error about_volume(caf::error err, const std::string& volume);

/// Renders any error (ours or CAF's) into the text of Docker's `Err` field.
std::string render(const caf::error& err);

/// Returns our code for `err` (for a switch over codes), or ec::backend_failed for a foreign
/// error.
ec code_of(const caf::error& err);

/// The volume one of our errors names ("" for none, or for an error not ours).
std::string volume_of(const caf::error& err);

/// The OS reason for errno `err`, lower-case, e.g. "no space left on device".
std::string os_reason(int err);

} // namespace actorvol
