#pragma once

// Fault injection for tests: ACTORVOL_FAILPOINTS="adaptor.mount=delay(50);state.write=error(EIO)".
// Actions: delay(ms) sleeps, then goes on; error(msg) makes the call fail with msg (an errno
// name such as EIO becomes its OS reason); panic aborts the process (a crash at that point).
// "N*action" (e.g. state.sync_dir=1*error(EIO)) fires for the first N hits only.
// Unset failpoints cost one relaxed atomic load.

#include <caf/error.hpp>

#include <string>

namespace actorvol::failpoint {

/// Parses a failpoint spec, replacing the current set. Returns an error text, or "" on success.
std::string configure(const std::string& spec);

/// Reads ACTORVOL_FAILPOINTS once at start-up. Returns an error text, or "" on success.
std::string configure_from_env();

/// Whether the failpoint `name` is configured (whether or not it has hits left).
bool set(const char* name);

/// Runs the failpoint `name`: may sleep, abort, or return the text of an injected error
/// (empty when the call should go on).
std::string hit(const char* name);

} // namespace actorvol::failpoint
