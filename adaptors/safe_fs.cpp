#include "adaptors/safe_fs.hpp"

#include <dirent.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <set>
#include <vector>

namespace fs = std::filesystem;

namespace actorvol::safe_fs {

namespace {

struct where {
  dev_t dev = 0;
  uint64_t mnt = 0;
  friend bool operator==(const where& a, const where& b) {
    return a.dev == b.dev && a.mnt == b.mnt;
  }
};

// Where `name` (relative to `dirfd`, "" for dirfd itself) lives; false with errno set.
bool locate(int dirfd, const char* name, where& w, mode_t& mode) {
  struct statx sx {};
  int flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | (*name ? 0 : AT_EMPTY_PATH);
  if (::statx(dirfd, name, flags, STATX_TYPE | STATX_MNT_ID, &sx) != 0)
    return false;
  w.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  w.mnt = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
  mode = sx.stx_mode;
  return true;
}

// Deletes every entry of the directory open at `dirfd` but its subdirectories, and names
// those in `subs` (empty when none is left). One pass over the directory: its subdirectories
// are then taken one by one from `subs`, so a directory with N of them is read twice, not N
// times. Returns 0 or an errno: EXDEV for a directory on another mount than `top` (never
// deleted through).
int clear_files(int dirfd, const where& top, std::vector<std::string>& subs) {
  subs.clear();
  int listing = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (listing < 0)
    return errno;
  DIR* d = ::fdopendir(listing);
  if (d == nullptr) {
    int e = errno;
    ::close(listing);
    return e;
  }
  int rc = 0;
  while (rc == 0) {
    errno = 0;
    auto* ent = ::readdir(d);
    if (ent == nullptr) {
      rc = errno;
      break;
    }
    std::string name = ent->d_name;
    if (name == "." || name == "..")
      continue;
    where w;
    mode_t mode = 0;
    if (!locate(dirfd, name.c_str(), w, mode)) {
      rc = errno == ENOENT ? 0 : errno;
    } else if (!S_ISDIR(mode)) {
      if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT)
        rc = errno;
    } else if (!(w == top)) {
      rc = EXDEV;  // a mount below: never delete through it
    } else {
      subs.push_back(std::move(name));
    }
  }
  ::closedir(d);
  return rc;
}

// The directory `name` below `dirfd`, opened without following a symlink and checked to be
// on `top`'s mount; -1 with errno set.
int open_child(int dirfd, const std::string& name, const where& top) {
  int child = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (child < 0)
    return -1;
  where opened;
  mode_t mode = 0;
  if (!locate(child, "", opened, mode) || !(opened == top)) {
    ::close(child);
    errno = EXDEV;  // swapped for a mount between the check and the open
    return -1;
  }
  return child;
}

// Empties the directory open at `topfd` (which is on `top`), depth first, without recursion
// and with two descriptors at most however deep the tree is: it goes down by name and back up
// through "..", checking at each step up that it is the directory it came from. Each level
// keeps the names of its subdirectories still to visit; a level is read again only when they
// are all gone (to catch what was added meanwhile). Returns 0 or an errno (ESTALE: the tree
// was moved while it was being deleted).
int empty_dir(int topfd, const where& top) {
  struct level {
    std::string child;              // the directory below this one that we went into
    std::vector<std::string> rest;  // this one's subdirectories still to visit
    dev_t dev;
    ino_t ino;
  };
  std::vector<level> above;
  std::vector<std::string> todo;  // the current directory's subdirectories still to visit
  int cur = ::fcntl(topfd, F_DUPFD_CLOEXEC, 0);
  if (cur < 0)
    return errno;
  int rc = 0;
  while (rc == 0) {
    if (todo.empty() && (rc = clear_files(cur, top, todo)) != 0)
      break;
    if (!todo.empty()) {  // go down
      auto sub = std::move(todo.back());
      todo.pop_back();
      struct stat here {};
      if (::fstat(cur, &here) != 0) {
        rc = errno;
        break;
      }
      int child = open_child(cur, sub, top);
      if (child < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
          continue;  // gone or replaced since it was listed: the next read sees it
        rc = errno;
        break;
      }
      above.push_back({std::move(sub), std::move(todo), here.st_dev, here.st_ino});
      todo.clear();
      ::close(cur);
      cur = child;
      continue;
    }
    if (above.empty())  // the top is empty
      break;
    int parent = ::openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(cur);
    cur = parent;
    struct stat up {};
    if (parent < 0 || ::fstat(parent, &up) != 0 || up.st_dev != above.back().dev
        || up.st_ino != above.back().ino) {
      rc = parent < 0 ? errno : ESTALE;
      break;
    }
    if (::unlinkat(parent, above.back().child.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      rc = errno;
      break;
    }
    todo = std::move(above.back().rest);
    above.pop_back();
  }
  if (cur >= 0)
    ::close(cur);
  return rc;
}

std::string stamp() {
  static std::atomic<unsigned> seq{0};
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return std::string{buf} + "." + std::to_string(::getpid()) + "." + std::to_string(seq++);
}

} // namespace

namespace {

// Walks `path` from "/" (or the working directory) one component at a time, never following
// a symlink; with `make`, missing directories are made on the way. Returns the directory's
// descriptor, or -1 with errno set (ENOTDIR: a symlink or a file is in the way).
// Opens directory `path` in one call, refusing a symlink anywhere on the way (as the walk
// below does component by component). -1 with errno; ENOSYS where the kernel has no openat2.
int open_whole(const fs::path& path) {
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof(how)));
}

// Opens `from`, then each component of `rest` below it without following a symlink
// (creating missing ones with `make`); takes over `fd`.
int walk_from(int fd, const fs::path& rest, bool make) {
  for (auto& part : rest) {
    if (fd < 0)
      return -1;
    auto name = part.string();
    if (name.empty() || name == ".")
      continue;
    int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && make) {
      if (::mkdirat(fd, name.c_str(), 0777) != 0 && errno != EEXIST) {
        int e = errno;
        ::close(fd);
        errno = e;
        return -1;
      }
      next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    int e = errno;
    ::close(fd);
    if (next < 0) {
      errno = e == ELOOP ? ENOTDIR : e;
      return -1;
    }
    fd = next;
  }
  return fd;
}

// Opens directory `path` (with `make`, creating what is missing) without following a
// symlink anywhere on it; ".." is refused. The deepest existing directory is opened in one
// call where the kernel can; the rest is walked (and made) one component at a time.
int walk(const fs::path& path, bool make) {
  for (auto& part : path)
    if (part == "..") {
      errno = EINVAL;
      return -1;
    }
  auto start = path.is_absolute() ? fs::path("/") : fs::path(".");
  auto rest = path.relative_path();
  std::vector<fs::path> parts(rest.begin(), rest.end());
  // Try the whole path, then (only to make what is missing) each shorter prefix.
  for (size_t keep = parts.size(); keep > 0; --keep) {
    auto prefix = start;
    for (size_t i = 0; i < keep; ++i)
      prefix /= parts[i];
    int fd = open_whole(prefix);
    if (fd >= 0) {
      fs::path tail;
      for (size_t i = keep; i < parts.size(); ++i)
        tail /= parts[i];
      return walk_from(fd, tail, make);
    }
    if (errno == ELOOP) {
      errno = ENOTDIR;
      return -1;
    }
    if (errno == ENOENT && !make)
      return -1;
    if (errno != ENOENT)
      break;  // ENOSYS, EACCES and the like: walk it all (the walk says where it fails)
  }
  return walk_from(::open(start.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC), rest, make);
}

} // namespace

int open_dir(const fs::path& path) {
  return walk(path, false);
}

int make_dirs(const fs::path& path) {
  int fd = walk(path, true);
  if (fd < 0)
    return errno;
  ::close(fd);
  return 0;
}

int open_in_root(const fs::path& root, const std::string& path, int& fd) {
  fd = -1;
  int rootfd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return errno;
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT;  // "..", and absolute symlinks, stay inside `root`
  auto rel = fs::path(path).relative_path();
  fd = static_cast<int>(
    ::syscall(SYS_openat2, rootfd, rel.empty() ? "." : rel.c_str(), &how, sizeof(how)));
  int e = errno;
  ::close(rootfd);
  return fd < 0 ? e : 0;
}

int sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

int remove_tree(const fs::path& path) {
  auto parent = path.parent_path();
  auto leaf = path.filename();
  int pfd = open_dir(parent.empty() ? fs::path(".") : parent);
  if (pfd < 0)
    return errno == ENOENT ? 0 : errno;
  where top;
  mode_t mode = 0;
  int rc = 0;
  if (!locate(pfd, leaf.c_str(), top, mode)) {
    rc = errno == ENOENT ? 0 : errno;
  } else if (!S_ISDIR(mode)) {
    if (::unlinkat(pfd, leaf.c_str(), 0) != 0 && errno != ENOENT)
      rc = errno;
  } else {
    where parent_where;
    mode_t pmode = 0;
    int dfd = ::openat(pfd, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
      rc = errno;
    } else {
      where opened;
      if (!locate(dfd, "", opened, mode) || !(opened == top)
          || (locate(pfd, "", parent_where, pmode) && !(parent_where == top)))
        rc = EXDEV;  // `path` itself is a mount point: detach it first
      else
        rc = empty_dir(dfd, top);
      ::close(dfd);
    }
    if (rc == 0 && ::unlinkat(pfd, leaf.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      rc = errno;
  }
  ::close(pfd);
  return rc;
}

std::vector<std::pair<std::string, std::string>> volume_mounts(sys_calls& sys,
                                                               const fs::path& volumes) {
  auto top = volumes.string();
  auto all = sys.mounts_under(top);
  std::set<std::string> mounted(all.begin(), all.end());
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& mp : all) {
    auto parent = fs::path(mp).parent_path().string();
    if (mp == top || (parent != top && mounted.count(parent) > 0) || !sys.is_mountpoint(mp))
      continue;
    out.emplace_back(fs::path(mp).lexically_relative(volumes).begin()->string(), mp);
  }
  return out;
}

int detach_stray(sys_calls& sys, const std::string& mount_point) {
  int e = sys.mount("", mount_point, "", MS_SLAVE | MS_REC, "");
  return e != 0 ? e : sys.detach_tree(mount_point);
}

bool any_exists(const std::vector<fs::path>& paths) {
  std::error_code ec;
  for (auto& p : paths)
    if (fs::exists(fs::symlink_status(p, ec)))
      return true;
  return false;
}

namespace {

// Renames `from` to `to` (making `to`'s parents), with neither parent reached through a
// symlink. Returns 0 or an errno.
int move_nofollow(const fs::path& from, const fs::path& to) {
  if (int e = make_dirs(to.parent_path()))
    return e;
  int src = open_dir(from.parent_path());
  if (src < 0)
    return errno;
  int dst = open_dir(to.parent_path());
  if (dst < 0) {
    int e = errno;
    ::close(src);
    return e;
  }
  int rc = ::renameat(src, from.filename().c_str(), dst, to.filename().c_str()) == 0 ? 0 : errno;
  ::close(src);
  ::close(dst);
  return rc;
}

} // namespace

std::string quarantine(sys_calls& sys, const fs::path& root, const std::vector<fs::path>& paths,
                       int& err) {
  err = 0;
  std::vector<fs::path> present;
  std::error_code ec;
  for (auto& p : paths)
    if (fs::exists(fs::symlink_status(p, ec)))
      present.push_back(p);
  if (present.empty())
    return "";
  for (auto& p : present)
    if (!sys.mounts_under(p.string()).empty()) {
      err = EBUSY;
      return "";
    }
  auto dest = root / "quarantine" / stamp();
  for (auto& p : present) {
    auto to = dest / p.lexically_relative(root);
    if ((err = move_nofollow(p, to)) != 0)
      return "";
    if (int e = sync_dir(p.parent_path()); e != 0 && err == 0)
      err = e;
    if (int e = sync_dir(to.parent_path()); e != 0 && err == 0)
      err = e;
  }
  return err == 0 ? dest.string() : "";
}

} // namespace actorvol::safe_fs
