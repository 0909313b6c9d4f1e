#pragma once

// Every operating-system call the adaptors make (dir, tmpfs, loop and passthrough, and
// options::apply_ownership), behind one interface: mount(2), umount2(2) and the mount table;
// directories and files (mkdir -p, stat, chown, chmod, the open/ftruncate/close of a loop
// image, statvfs, unlink, and safe_fs::remove_tree); and spawning a helper (mkfs, and
// `mount -o loop`, which does the loop ioctls). A call that can fail returns 0 or an errno
// (run(): the helper's exit code); values come back through out-parameters. real_sys() makes the calls for real; the mock in
// tests/support/mock_sys.hpp simulates the mount table, records every call and injects
// errors (EBUSY, ENOSPC, EIO, ...) through this interface. safe_fs's any_exists(),
// quarantine() (which asks this interface only for mounts_under) and sync_dir(), which
// actors/ use, make their own calls. Mount checks compare mount IDs (statx STATX_MNT_ID),
// never path strings.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace actorvol {

/// What a path is, as stat(2) sees it.
enum class file_kind { directory, regular, symlink, other };

class sys_calls {
public:
  virtual ~sys_calls() = default;

  /// What run_bounded() returns for a helper it killed at its timeout.
  static constexpr int helper_timed_out = -2;

  /// mount(2).
  virtual int mount(const std::string& source, const std::string& target,
                    const std::string& type, unsigned long flags, const std::string& data) = 0;

  /// A bind of `source` on `target` (with its submounts when `flags` has MS_REC) whose
  /// per-mount flags are those of a `MS_REMOUNT | MS_BIND | flags` remount (MS_RDONLY,
  /// MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_NODIRATIME set or cleared; the atime mode when one
  /// is given) on the top mount. With MS_REC, the submounts get the restricting ones asked
  /// for too (ro, nosuid, nodev, noexec), and keep those they have: a read-only submount of
  /// the host stays read-only. A bind with a restricting flag is made private (it leaves
  /// the source's peer group: nothing mounted there later comes in writable). Unlike a bind
  /// followed by a remount, the flags are set before the bind is attached, so every copy
  /// propagated to another namespace (the host's view of a managed plugin's propagated
  /// mount, which Docker hands to containers) has them too. This default (kernels before
  /// 5.12, without mount_setattr) binds, then remounts with the other flags (atime, ...),
  /// and refuses the restricting ones (EOPNOTSUPP): a bind under a shared mount propagates
  /// before a remount could restrict it.
  virtual int bind(const std::string& source, const std::string& target, unsigned long flags);

  /// umount2(2) of `target` (one mount: stacked mounts need one call each).
  virtual int unmount(const std::string& target) = 0;

  /// Takes `target` off with every mount below it in one call (umount2 MNT_DETACH), so
  /// that no path below it is ever resolved again (a symlink planted there cannot redirect
  /// an unmount). This default unmounts what mounts_under() lists, deepest first.
  virtual int detach_tree(const std::string& target);

  /// Whether `path` itself is a mount point: its mount ID differs from its parent's. A
  /// symlink is never one (it is not followed).
  virtual bool is_mountpoint(const std::string& path) = 0;

  /// The mount points at or below the real path `dir`, deepest first.
  virtual std::vector<std::string> mounts_under(const std::string& dir) = 0;

  /// Runs a program (argv[0] looked up in PATH) with stdin from /dev/null and no other
  /// inherited file descriptor, and waits; returns its exit code, or -1 with `output`
  /// saying why. `output` gets its stderr and stdout.
  virtual int run(const std::vector<std::string>& argv, std::string& output) = 0;

  /// Runs a helper that may leave a daemon behind (sshfs forks one to serve its FUSE mount,
  /// and that daemon keeps the helper's output open): `input` is written to its stdin, its
  /// stderr and stdout are collected until the helper exits (not until they are closed),
  /// and the helper is killed with its process group when it runs longer than
  /// `timeout_ms`. Returns its exit code; -1 with `output` saying why it could not run;
  /// helper_timed_out when it was killed for taking too long. This default ignores `input`
  /// and the timeout and calls run().
  virtual int run_bounded(const std::vector<std::string>& argv, const std::string& input,
                          long timeout_ms, std::string& output) {
    (void) input;
    (void) timeout_ms;
    return run(argv, output);
  }

  /// Creates `path` and its missing parents (0 when it is already a directory), never
  /// following a symlink at any component (ENOTDIR: a symlink or a file is in the way).
  virtual int make_dirs(const std::string& path) = 0;

  /// 0 when `path` is a directory reached without a symlink at any component, else the
  /// errno (ENOTDIR: a symlink or a file is in the way; ENOENT: nothing is there).
  virtual int check_dir(const std::string& path) = 0;

  /// Opens `path` as if `root` were "/" (openat2 RESOLVE_IN_ROOT: "..", and symlinks with
  /// absolute targets, never leave it): an O_PATH descriptor in `fd`, to be closed with
  /// close(). "/proc/self/fd/N" then names what was found, however the path changes later.
  virtual int open_in_root(const std::string& root, const std::string& path, int& fd) = 0;

  /// stat(2) of `path` (lstat(2) unless `follow`): its kind in `kind`; ENOENT when absent.
  virtual int kind_of(const std::string& path, bool follow, file_kind& kind) = 0;

  /// chown(2); (uid_t) -1 or (gid_t) -1 leaves that one as it is.
  virtual int chown(const std::string& path, uid_t uid, gid_t gid) = 0;

  /// chmod(2).
  virtual int chmod(const std::string& path, mode_t mode) = 0;

  /// open(2) of a new file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC: its
  /// descriptor in `fd`.
  virtual int open_new(const std::string& path, mode_t mode, int& fd) = 0;

  /// ftruncate(2): sets the size of the file open at `fd`.
  virtual int ftruncate(int fd, uint64_t size) = 0;

  /// close(2).
  virtual int close(int fd) = 0;

  /// statvfs(2): the bytes an unprivileged user may still write on the filesystem of `path`.
  virtual int free_space(const std::string& path, uint64_t& bytes) = 0;

  /// unlink(2).
  virtual int unlink(const std::string& path) = 0;

  /// safe_fs::remove_tree: deletes `path` and everything below it, never following a
  /// symlink or crossing into another mount (EXDEV); 0 when `path` is already gone.
  virtual int remove_tree(const std::string& path) = 0;
};

using SysPtr = std::shared_ptr<sys_calls>;

/// The real system calls.
SysPtr real_sys();

/// Collects every ended child process except the helpers run() and run_bounded() wait for;
/// never returns. Only needed when actorvol is PID 1 of its PID namespace (the managed
/// plugin), where the sshfs daemons (and their ssh) end up as its children: run it on a
/// thread of its own.
void reap_orphans();

/// Detaches every mount stacked on `target` and verifies that none is left. Returns 0 or
/// the errno of the failure (EBUSY when a mount stays).
int detach_all(sys_calls& sys, const std::string& target);

} // namespace actorvol
