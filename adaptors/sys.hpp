#pragma once

// The system calls the mounting adaptors make, behind an interface, each returning 0 or an
// errno. Mount checks compare mount IDs (statx STATX_MNT_ID), never path strings.

#include <memory>
#include <string>
#include <vector>

namespace actorvol {

class sys_calls {
public:
  virtual ~sys_calls() = default;

  /// mount(2).
  virtual int mount(const std::string& source, const std::string& target,
                    const std::string& type, unsigned long flags, const std::string& data) = 0;

  /// A bind of `source` on `target` (with its submounts when `flags` has MS_REC) whose
  /// per-mount flags are those of a `MS_REMOUNT | MS_BIND | flags` remount (MS_RDONLY,
  /// MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_NODIRATIME set or cleared; the atime mode when one
  /// is given), on the top mount. Unlike a bind followed by a remount, the flags are set
  /// before the bind is attached, so every copy propagated to another namespace (the host's
  /// view of a managed plugin's propagated mount, which Docker hands to containers) has
  /// them too. This default binds, then remounts (this namespace only).
  virtual int bind(const std::string& source, const std::string& target, unsigned long flags);

  /// umount2(2) of `target` (one mount: stacked mounts need one call each).
  virtual int unmount(const std::string& target) = 0;

  /// Whether `path` itself is a mount point: its mount ID differs from its parent's. A
  /// symlink is never one (it is not followed).
  virtual bool is_mountpoint(const std::string& path) = 0;

  /// The mount points at or below the real path `dir`, deepest first.
  virtual std::vector<std::string> mounts_under(const std::string& dir) = 0;

  /// Runs a program (argv[0] looked up in PATH) with stdin from /dev/null and no other
  /// inherited file descriptor, and waits; returns its exit code, or -1 with `output`
  /// saying why. `output` gets its stderr and stdout.
  virtual int run(const std::vector<std::string>& argv, std::string& output) = 0;
};

using SysPtr = std::shared_ptr<sys_calls>;

/// The real system calls.
SysPtr real_sys();

/// Detaches every mount stacked on `target` and verifies that none is left. Returns 0 or
/// the errno of the failure (EBUSY when a mount stays).
int detach_all(sys_calls& sys, const std::string& target);

} // namespace actorvol
