// mock_sys's helpers (run) and its files and directories, which are real, below root().

#include "support/mock_sys.hpp"

#include "adaptors/safe_fs.hpp"
#include "support/mock_sys_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace fs = std::filesystem;

namespace actorvol::test {

using namespace mock_util;

// -- helpers ------------------------------------------------------------------------------

int mock_sys::run_loop_mount(const std::vector<std::string>& argv, std::string& output,
                             bool effect) {
  auto& image = argv[argv.size() - 2];
  auto& target = argv.back();
  if (!is_regular(image)) {
    output += "mount: " + target + ": failed to setup loop device for " + image + ".\n";
    return 32;
  }
  if (mount_dir_check(target) != 0) {
    output += "mount: " + target + ": mount point does not exist.\n";
    return 32;
  }
  if (effect)
    table_[norm(target)].push_back({image, "loop", 0, 0, ""});
  return 0;
}

int mock_sys::run(const std::vector<std::string>& argv, std::string& output) {
  std::lock_guard lock(mutex_);
  auto s = enter("run", argv);
  if (argv.empty())
    return done(s, -1);
  auto scripted = match(scripts_, argv[0]);
  int code = scripted ? scripted->code : 0;
  if (scripted)
    output += scripted->output;
  if (code != 0)
    return done(s, code);
  if (argv[0].rfind("mkfs.", 0) == 0 && !is_regular(argv.back())) {
    output += argv[0] + ": " + argv.back() + ": No such file or directory\n";
    return done(s, 1);
  }
  if (argv[0] == "mount" && std::find(argv.begin(), argv.end(), "loop") != argv.end()
      && argv.size() >= 3)
    return done(s, run_loop_mount(argv, output, !scripted || scripted->effect));
  return done(s, 0);
}

// -- files and directories ----------------------------------------------------------------

int mock_sys::make_dirs(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto s = enter("make_dirs", {path});
  if (s.hit)
    return done(s, s.hit->err);
  if (outside(path, "make_dirs"))
    return done(s, EACCES);
  return done(s, safe_fs::make_dirs(path));  // as the real one: never through a symlink
}

int mock_sys::check_dir(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto s = enter("check_dir", {path});
  if (s.hit)
    return done(s, s.hit->err);
  if (outside(path, "check_dir"))
    return done(s, EACCES);
  int fd = safe_fs::open_dir(path);
  if (fd < 0)
    return done(s, errno);
  ::close(fd);
  return done(s, 0);
}

int mock_sys::open_in_root(const std::string& root, const std::string& path, int& fd) {
  std::lock_guard lock(mutex_);
  auto s = enter("open_in_root", {root, path});
  if (s.hit)
    return done(s, s.hit->err);
  if (int e = safe_fs::open_in_root(root, path, fd))
    return done(s, e);
  open_.insert(fd);
  return done(s, 0);
}

int mock_sys::kind_of(const std::string& path, bool follow, file_kind& kind) {
  std::lock_guard lock(mutex_);
  auto s = enter("kind_of", {path, follow ? "follow" : "nofollow"});
  if (s.hit)
    return done(s, s.hit->err);
  mode_t mode = 0;
  if (int e = real_stat(path, follow, mode))
    return done(s, e);
  kind = S_ISDIR(mode)   ? file_kind::directory
         : S_ISREG(mode) ? file_kind::regular
         : S_ISLNK(mode) ? file_kind::symlink
                         : file_kind::other;
  return done(s, 0);
}

int mock_sys::chown(const std::string& path, uid_t uid, gid_t gid) {
  std::lock_guard lock(mutex_);
  auto id = [](unsigned v) { return v == ~0u ? std::string{"-1"} : std::to_string(v); };
  auto s = enter("chown", {path, id(uid), id(gid)});
  if (s.hit)
    return done(s, s.hit->err);
  if (outside(path, "chown"))
    return done(s, EACCES);
  mode_t mode = 0;
  return done(s, real_stat(path, true, mode));  // checked only: changing owners needs root
}

int mock_sys::chmod(const std::string& path, mode_t mode) {
  std::lock_guard lock(mutex_);
  auto s = enter("chmod", {path, octal(mode)});
  if (s.hit)
    return done(s, s.hit->err);
  if (outside(path, "chmod"))
    return done(s, EACCES);
  return done(s, ::chmod(path.c_str(), mode) == 0 ? 0 : errno);
}

int mock_sys::open_new(const std::string& path, mode_t mode, int& fd) {
  std::lock_guard lock(mutex_);
  auto s = enter("open_new", {path, octal(mode)});
  if (s.hit)
    return done(s, s.hit->err);
  if (outside(path, "open_new"))
    return done(s, EACCES);
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return done(s, errno);
  open_.insert(fd);
  return done(s, 0);
}

int mock_sys::ftruncate(int fd, uint64_t size) {
  std::lock_guard lock(mutex_);
  auto s = enter("ftruncate", {std::to_string(fd), std::to_string(size)});
  if (s.hit)
    return done(s, s.hit->err);
  if (open_.count(fd) == 0)
    return done(s, EBADF);  // never touch a descriptor the mock did not open
  return done(s, ::ftruncate(fd, static_cast<off_t>(size)) == 0 ? 0 : errno);
}

int mock_sys::close(int fd) {
  std::lock_guard lock(mutex_);
  auto s = enter("close", {std::to_string(fd)});
  if (open_.erase(fd) == 0)
    return done(s, EBADF);
  int rc = ::close(fd) == 0 ? 0 : errno;  // like close(2): the descriptor is gone either way
  return done(s, s.hit ? s.hit->err : rc);
}

int mock_sys::free_space(const std::string& path, uint64_t& bytes) {
  std::lock_guard lock(mutex_);
  auto s = enter("free_space", {path});
  if (s.hit)
    return done(s, s.hit->err);
  if (free_space_) {
    bytes = *free_space_;
    return done(s, 0);
  }
  struct statvfs info {};
  if (::statvfs(path.c_str(), &info) != 0)
    return done(s, errno);
  bytes = static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
  return done(s, 0);
}

int mock_sys::unlink(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto s = enter("unlink", {path});
  if (s.hit)
    return done(s, s.hit->err);
  if (outside(path, "unlink"))
    return done(s, EACCES);
  return done(s, ::unlink(path.c_str()) == 0 ? 0 : errno);
}

int mock_sys::remove_tree(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto s = enter("remove_tree", {path});
  if (s.hit)
    return done(s, s.hit->err);
  if (outside(path, "remove_tree"))
    return done(s, EACCES);
  for (auto& [target, stack] : table_)
    if (at_or_under(target, norm(path)))
      return done(s, EXDEV);  // like safe_fs: never delete through a mount
  return done(s, safe_fs::remove_tree(path));
}

} // namespace actorvol::test
