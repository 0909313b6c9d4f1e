#include "adaptors/safe_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>

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

// Empties the directory open at `dirfd` (which is on `top`). Returns 0 or an errno.
int empty_dir(int dirfd, const where& top) {
  int listing = ::dup(dirfd);
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
      continue;
    }
    if (!S_ISDIR(mode)) {
      if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT)
        rc = errno;
      continue;
    }
    if (!(w == top)) {
      rc = EXDEV;  // a mount below: never delete through it
      break;
    }
    int child = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      rc = errno;
      break;
    }
    where opened;
    if (!locate(child, "", opened, mode) || !(opened == top)) {
      rc = EXDEV;  // swapped for a mount between the check and the open
    } else {
      rc = empty_dir(child, top);
    }
    ::close(child);
    if (rc == 0 && ::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      rc = errno;
  }
  ::closedir(d);
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
  int pfd = ::open(parent.empty() ? "." : parent.c_str(),
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

bool any_exists(const std::vector<fs::path>& paths) {
  std::error_code ec;
  for (auto& p : paths)
    if (fs::exists(fs::symlink_status(p, ec)))
      return true;
  return false;
}

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
    fs::create_directories(to.parent_path(), ec);
    if (ec) {
      err = ec.value();
      return "";
    }
    if (::rename(p.c_str(), to.c_str()) != 0) {
      err = errno;
      return "";
    }
    if (int e = sync_dir(p.parent_path()); e != 0 && err == 0)
      err = e;
    if (int e = sync_dir(to.parent_path()); e != 0 && err == 0)
      err = e;
  }
  return err == 0 ? dest.string() : "";
}

} // namespace actorvol::safe_fs
