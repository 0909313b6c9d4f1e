#pragma once

// A sys_calls for unit tests of the adaptors: no mount(2), no helper is ever run, and no
// call reaches outside the mock's own temp dir.
//  - The mount table is simulated: a stack of mounts per target path, so is_mountpoint,
//    mounts_under, unmount and detach_all behave as the kernel's do (unmount takes off the
//    top mount; mounts_under lists the deepest first, a stacked mount once per layer).
//  - Directories and files are real, below root(): make_dirs, kind_of, chmod, open_new,
//    ftruncate, close, unlink and remove_tree (safe_fs's, refusing with EXDEV where a
//    simulated mount is) do what they say, so adaptors see real directories. chown is only
//    checked (the path must exist) and recorded: changing owners needs root.
//  - Every call is recorded (name, arguments as text, result) for assertions.
//  - Faults: fail("unmount", EBUSY) makes every later unmount fail with EBUSY, doing nothing;
//    fail("ftruncate", ENOSPC, 1) only the next one. no_effect("mount") makes a mount that
//    returns 0 and mounts nothing. They apply to the calls that return an errno (not to
//    is_mountpoint, mounts_under or run, whose results follow the table and the scripts); a
//    failed close() still closes, as close(2) does.
//  - run() is scripted per program (exit code and output); by default it succeeds. A
//    successful `mount -o loop ... IMAGE TARGET` of an existing image pushes a mount on
//    TARGET; mkfs.* and mount -o loop fail as theirs do when the image is missing.

#include "adaptors/sys.hpp"
#include "support/temp_dir.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace actorvol::test {

class mock_sys : public sys_calls {
public:
  /// One recorded call.
  struct call {
    std::string op;                 // the sys_calls method, e.g. "mount", "ftruncate"
    std::vector<std::string> args;  // its arguments as text (flags in hex, modes in octal)
    unsigned long flags = 0;        // mount and bind: the flags passed
    int result = 0;                 // what it returned (run: the exit code)
    std::string text() const;       // e.g. "unmount(/tmp/x/_data) = 16"
  };

  /// One simulated mount.
  struct mount_entry {
    std::string source;
    std::string type;               // mount -o loop: "loop"; a bind: ""
    unsigned long flags = 0;        // per-mount flags (MS_RDONLY, ...) after any remount
    unsigned long propagation = 0;  // the last propagation change (MS_SHARED, ...)
    std::string data;
  };

  mock_sys();

  /// The real temp dir every file operation is confined to (removed with the mock).
  const std::filesystem::path& root() const {
    return dir_.path();
  }

  // -- faults ---------------------------------------------------------------------------

  /// The `nth` call of `op` from now on (1: the next one; 0: every one) returns `err`
  /// and does nothing.
  void fail(const std::string& op, int err, int nth = 0);

  /// The `nth` call of `op` from now on (0: every one) returns 0 and does nothing.
  void no_effect(const std::string& op, int nth = 0);

  /// The `nth` run() of `program` from now on (0: every one) exits with `code` and prints
  /// `output`; with `effect` false a successful `mount -o loop` mounts nothing.
  void script(const std::string& program, int code, std::string output = {}, int nth = 0,
              bool effect = true);

  /// free_space() reports `bytes` instead of the temp dir's real free space.
  void set_free_space(uint64_t bytes);

  /// bind() runs sys_calls' default (a bind, then a remount: two mount calls) instead of
  /// one simulated bind with its flags.
  void use_default_bind(bool yes);

  /// Mounts something on `target` by hand (not recorded as a call).
  void push_mount(const std::string& target, mount_entry m);

  // -- what happened --------------------------------------------------------------------

  std::vector<call> calls() const;
  std::vector<call> calls_of(const std::string& op) const;
  size_t count(const std::string& op) const;
  /// The index in calls() of the first call of `op`, or -1.
  long first(const std::string& op) const;
  /// The mounts stacked on `target`, bottom first.
  std::vector<mount_entry> mounts_on(const std::string& target) const;
  /// Every mount in the table.
  size_t mount_count() const;
  /// Descriptors from open_new that were not closed.
  size_t open_files() const;
  /// Every call, one a line (for a failing test's message).
  std::string trace() const;

  // -- sys_calls ------------------------------------------------------------------------

  int mount(const std::string& source, const std::string& target, const std::string& type,
            unsigned long flags, const std::string& data) override;
  int bind(const std::string& source, const std::string& target, unsigned long flags) override;
  int unmount(const std::string& target) override;
  bool is_mountpoint(const std::string& path) override;
  std::vector<std::string> mounts_under(const std::string& dir) override;
  int run(const std::vector<std::string>& argv, std::string& output) override;
  int make_dirs(const std::string& path) override;
  int check_dir(const std::string& path) override;
  int open_in_root(const std::string& root, const std::string& path, int& fd) override;
  int kind_of(const std::string& path, bool follow, file_kind& kind) override;
  int chown(const std::string& path, uid_t uid, gid_t gid) override;
  int chmod(const std::string& path, mode_t mode) override;
  int open_new(const std::string& path, mode_t mode, int& fd) override;
  int ftruncate(int fd, uint64_t size) override;
  int close(int fd) override;
  int free_space(const std::string& path, uint64_t& bytes) override;
  int unlink(const std::string& path) override;
  int remove_tree(const std::string& path) override;

private:
  // A fault or script waiting for the nth call of `op`.
  struct rule {
    std::string op;
    int nth = 0;
    int seen = 0;
    int err = 0;
    int code = 0;
    std::string output;
    bool effect = true;
  };

  // The call being made: its index in calls_ and the rule that hit it, if any.
  struct step {
    size_t index;
    std::optional<rule> hit;
  };

  step enter(const std::string& op, std::vector<std::string> args, unsigned long flags = 0);
  int done(const step& s, int rc);
  static std::optional<rule> match(std::vector<rule>& rules, const std::string& op);
  bool outside(const std::string& path, const char* op) const;
  int mount_dir_check(const std::string& target) const;
  int run_loop_mount(const std::vector<std::string>& argv, std::string& output, bool effect);
  int remount(const std::string& target, unsigned long flags, const std::string& data);

  mutable std::recursive_mutex mutex_;
  temp_dir dir_;
  std::vector<call> calls_;
  std::vector<rule> faults_;
  std::vector<rule> scripts_;
  std::map<std::string, std::vector<mount_entry>> table_;  // target -> stack, bottom first
  std::set<int> open_;
  std::optional<uint64_t> free_space_;
  bool default_bind_ = false;
};

} // namespace actorvol::test
