#pragma once

// `actorvol check --root DIR [--repair] [--json]`: checks a root offline (actorvol stopped),
// like fsck: the state is readable; every volume's data exists; nothing is orphaned (data or
// images no record names, loop devices and mounts no recorded use explains); what is in
// quarantine. --repair fixes only what is safe, and never deletes user data: orphaned data
// is moved to quarantine, stray mounts are detached, leaked loop devices released.

#include <string>
#include <vector>

namespace actorvol {

/// Exit codes of `actorvol check`.
enum check_status : int {
  check_clean = 0,     // nothing wrong (or --repair fixed everything it found)
  check_problems = 1,  // problems remain
  check_failed = 2,    // could not check: bad arguments, no root, state unreadable, in use
};

/// Runs `actorvol check` with the arguments after "check"; prints the report on stdout
/// (text, or one JSON object with --json) and errors on stderr; returns the exit code.
int run_check(const std::vector<std::string>& args);

} // namespace actorvol
