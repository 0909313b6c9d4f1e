#pragma once

// The system calls the mounting adaptors make, behind an interface (so tests can inject
// EBUSY), each returning 0 or an errno.

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

  /// umount2(2) of `target`.
  virtual int unmount(const std::string& target) = 0;

  /// Whether `path` is a mount point (per /proc/self/mountinfo).
  virtual bool is_mountpoint(const std::string& path) = 0;

  /// Runs a program (argv[0] looked up in PATH) and waits; returns its exit code, or -1
  /// with `output` saying why. `output` gets its stderr and stdout.
  virtual int run(const std::vector<std::string>& argv, std::string& output) = 0;
};

using SysPtr = std::shared_ptr<sys_calls>;

/// The real system calls.
SysPtr real_sys();

} // namespace actorvol
