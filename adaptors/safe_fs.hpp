#pragma once

// Deleting and setting aside a volume's data without ever reaching the user's other data:
// nothing here follows a symlink or crosses into another mount (like `rm --one-file-system`,
// but refusing instead of skipping), and nothing is moved while something under it is
// mounted.

#include "adaptors/sys.hpp"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace actorvol::safe_fs {

/// Deletes `path` and everything below it. A symlink is removed, never followed. Returns 0
/// (also when `path` is already gone) or an errno: EXDEV when a directory below it is on
/// another mount (nothing on that mount is touched).
int remove_tree(const std::filesystem::path& path);

/// Moves each existing path in `paths` (all below `root`) to
/// ROOT/quarantine/<time>.<n>/<path relative to ROOT>, after checking that nothing at or
/// under them is mounted, and makes the moves durable. Returns the quarantine directory
/// ("" when there was nothing to move), or sets `err` (EBUSY: still mounted).
std::string quarantine(sys_calls& sys, const std::filesystem::path& root,
                       const std::vector<std::filesystem::path>& paths, int& err);

/// The top of each mount tree below `volumes` (ROOT/volumes, which may itself be a mount),
/// with the volume it belongs to: (volume name, mount point). What is mounted below a listed
/// mount point comes off with it.
std::vector<std::pair<std::string, std::string>> volume_mounts(sys_calls& sys,
                                                               const std::filesystem::path& volumes);

/// Takes the mount tree at `mount_point` off, without sending its unmounts to the mounts it
/// copies (an rbind of a shared tree): made a slave first, then detached in one call.
/// Returns 0 or an errno.
int detach_stray(sys_calls& sys, const std::string& mount_point);

/// Whether any of `paths` exists (without following a final symlink).
bool any_exists(const std::vector<std::filesystem::path>& paths);

/// Opens the directory `path` (O_RDONLY) without following a symlink at any component.
/// Returns its descriptor, or -1 with errno set (ENOTDIR: a symlink or a file is in the way).
int open_dir(const std::filesystem::path& path);

/// Makes the directory `path` and its missing parents without following a symlink at any
/// component. Returns 0 or an errno (ENOTDIR: a symlink or a file is in the way).
int make_dirs(const std::filesystem::path& path);

/// Opens `path` as if `root` were "/" (openat2 RESOLVE_IN_ROOT: "..", and symlinks with
/// absolute targets, never leave it): an O_PATH descriptor in `fd`, which keeps naming what
/// was found however the path changes later. Returns 0 or an errno.
int open_in_root(const std::filesystem::path& root, const std::string& path, int& fd);

/// fsync(2) of a directory. Returns 0 or an errno.
int sync_dir(const std::filesystem::path& dir);

} // namespace actorvol::safe_fs
