#pragma once

// Option handling shared by the adaptors: ownership (uid, gid, mode), sizes, and mount
// options (`o=`) in the style of Docker's local driver.

#include "adaptors/adaptor.hpp"
#include "adaptors/sys.hpp"

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace actorvol::options {

using actorvol::split;  // core/types.hpp

/// The value of option `key` of `v`, or "" when it is not given.
std::string value(const volume_spec& v, const std::string& key);

/// The first option of `v` not in `known`, as ec::unknown_option; else none.
caf::error only(const volume_spec& v, const std::set<std::string>& known);

/// Checks uid, gid (whole numbers) and mode (octal, at most 07777) when present.
caf::error check_ownership(const volume_spec& v);

/// Applies uid, gid and mode, when present, to `dir` (chown, then chmod, through `sys`).
caf::error apply_ownership(sys_calls& sys, const volume_spec& v,
                           const std::filesystem::path& dir);

/// Parses a size: N, NK, NM, NG or NT (powers of 1024); 0 on a bad text or a size that
/// does not fit in 63 bits.
uint64_t parse_size(const std::string& text);

/// A comma-separated mount option list, e.g. "ro,bind,size=64m", read the way Docker's
/// local driver reads it: flags it knows (set or cleared, the last word wins), a
/// propagation type, and the rest for the filesystem.
struct mount_options {
  unsigned long flags = 0;        // MS_* flags for mount(2)
  unsigned long propagation = 0;  // MS_SHARED, MS_SLAVE, ... (|MS_REC), applied after
  std::string data;               // what mount(2) passes to the filesystem
  bool bind() const;              // a bind mount (bind or rbind)
};
mount_options parse_mount_options(const std::string& o);

} // namespace actorvol::options
