#pragma once

// Option handling shared by the adaptors: ownership (uid, gid, mode), sizes, and mount
// options (`o=`) in the style of Docker's local driver.

#include "adaptors/adaptor.hpp"

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace actorvol::options {

/// The non-empty items of a `sep`-separated list, e.g. "ro,,bind" -> {"ro", "bind"}.
std::vector<std::string> split(const std::string& text, char sep);

/// The first option of `v` not in `known`, as ec::unknown_option; else none.
caf::error only(const volume_spec& v, const std::set<std::string>& known);

/// Checks uid, gid (whole numbers) and mode (octal, at most 07777) when present.
caf::error check_ownership(const volume_spec& v);

/// Applies uid, gid and mode, when present, to `dir`.
caf::error apply_ownership(const volume_spec& v, const std::filesystem::path& dir);

/// Parses a size: N, NK, NM, NG or NT (powers of 1024); 0 on a bad text.
uint64_t parse_size(const std::string& text);

/// Mount flags and the rest of a comma-separated option list, e.g. "ro,bind,size=64m".
struct mount_options {
  unsigned long flags = 0;
  std::string data;  // what mount(2) passes to the filesystem
};
mount_options parse_mount_options(const std::string& o);

} // namespace actorvol::options
