#include "adaptors/sys.hpp"

#include "adaptors/safe_fs.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>
#include <chrono>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace actorvol {

namespace {

// The helpers run() and run_bounded() are waiting for. When actorvol is PID 1 of its PID
// namespace (the managed plugin), reap_orphans() reaps every other child, and never these:
// a pid is added under the lock in the same breath as it is spawned.
std::mutex& helpers_lock() {
  static std::mutex m;
  return m;
}
std::set<pid_t>& helpers() {
  static std::set<pid_t> pids;
  return pids;
}

// Spawns a helper with `pgroup` flags (POSIX_SPAWN_SETPGROUP or 0) in the normal scheduling
// class: the thread that spawns it may be SCHED_BATCH (core/threads.hpp), and a helper such
// as the sshfs daemon serves containers' I/O.
int spawn_helper(pid_t& pid, const char* file, const posix_spawn_file_actions_t* actions,
                 short pgroup, char* const argv[]) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, static_cast<short>(pgroup | POSIX_SPAWN_SETSCHEDULER));
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setschedpolicy(&attr, SCHED_OTHER);
  sched_param normal{};
  posix_spawnattr_setschedparam(&attr, &normal);
  std::lock_guard<std::mutex> guard{helpers_lock()};
  int rc = ::posix_spawnp(&pid, file, actions, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  if (rc == 0)
    helpers().insert(pid);
  return rc;
}

// waitpid() of a helper, which then is no longer one.
void wait_helper(pid_t pid, int& status) {
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::lock_guard<std::mutex> guard{helpers_lock()};
  helpers().erase(pid);
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as octal.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool octal = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        octal = octal && c >= '0' && c <= '7';
        v = v * 8 + (c - '0');
      }
      if (octal) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// The mount ID of `path` (not following a final symlink); false when it cannot be read.
// AT_STATX_DONT_SYNC: a network filesystem (FUSE: sshfs) answers from its cache instead of
// asking a server that may hang; the mount ID never comes from the server anyway.
bool mount_id(const std::string& path, uint64_t& id, dev_t& dev) {
  struct statx sx {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC,
              STATX_MNT_ID,
              &sx) != 0)
    return false;
  id = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
  dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  return true;
}

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

#ifdef AT_RECURSIVE
constexpr unsigned kAtRecursive = AT_RECURSIVE;
#else
constexpr unsigned kAtRecursive = 0x8000;  // <linux/fcntl.h>: the whole subtree
#endif

class real_sys_calls : public sys_calls {
public:
  int mount(const std::string& source, const std::string& target, const std::string& type,
            unsigned long flags, const std::string& data) override {
    int rc = ::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
                     type.empty() ? nullptr : type.c_str(), flags,
                     data.empty() ? nullptr : data.c_str());
    return rc == 0 ? 0 : errno;
  }

  // open_tree(OPEN_TREE_CLONE) gives a detached copy of the source, mount_setattr sets its
  // flags, move_mount attaches it: propagation copies what is attached, flags included.
  // Kernels before 5.12 (no mount_setattr) or a seccomp filter that refuses these calls:
  // the bind-then-remount default.
  int bind(const std::string& source, const std::string& target, unsigned long flags) override {
    int fd = ::open_tree(AT_FDCWD, source.c_str(),
                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
                           | ((flags & MS_REC) != 0 ? kAtRecursive : 0u));
    if (fd < 0) {
      if (errno == ENOSYS || errno == EPERM)
        return sys_calls::bind(source, target, flags);
      return errno;
    }
    struct mount_attr attr {};
    auto per_mount = [&](unsigned long ms, uint64_t attr_flag) {
      if ((flags & ms) != 0)
        attr.attr_set |= attr_flag;
      else
        attr.attr_clr |= attr_flag;
    };
    per_mount(MS_RDONLY, MOUNT_ATTR_RDONLY);
    per_mount(MS_NOSUID, MOUNT_ATTR_NOSUID);
    per_mount(MS_NODEV, MOUNT_ATTR_NODEV);
    per_mount(MS_NOEXEC, MOUNT_ATTR_NOEXEC);
    per_mount(MS_NODIRATIME, MOUNT_ATTR_NODIRATIME);
    if ((flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) != 0) {
      attr.attr_clr |= MOUNT_ATTR__ATIME;
      attr.attr_set |= (flags & MS_NOATIME) != 0      ? MOUNT_ATTR_NOATIME
                       : (flags & MS_STRICTATIME) != 0 ? MOUNT_ATTR_STRICTATIME
                                                       : MOUNT_ATTR_RELATIME;
    }
    // An rbind's submounts: the restricting flags asked for, set on the whole tree first
    // (nothing cleared there), then the top mount's own.
    struct mount_attr below {};
    below.attr_set = attr.attr_set
                     & (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
                        | MOUNT_ATTR_NOEXEC);
    // The clone is a peer of a shared source: what the host mounts under the source later
    // would propagate in with the flags it was mounted with (writable). A restricted bind
    // leaves that peer group (it still propagates out once attached under a shared parent).
    if (below.attr_set != 0) {
      below.propagation = MS_PRIVATE;
      attr.propagation = MS_PRIVATE;
    }
    bool rec = (flags & MS_REC) != 0 && below.attr_set != 0;
    if ((rec && ::mount_setattr(fd, "", AT_EMPTY_PATH | kAtRecursive, &below, sizeof(below)) != 0)
        || ::mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0) {
      int e = errno;
      ::close(fd);
      if (e == ENOSYS || e == EPERM)
        return sys_calls::bind(source, target, flags);
      return e;
    }
    int rc = ::move_mount(fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH);
    int e = rc == 0 ? 0 : errno;
    ::close(fd);
    return e;
  }

  int unmount(const std::string& target) override {
    return ::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0 ? 0 : errno;
  }

  int detach_tree(const std::string& target) override {
    return ::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0 ? 0 : errno;
  }

  bool is_mountpoint(const std::string& path) override {
    uint64_t id = 0, parent = 0;
    dev_t dev = 0, parent_dev = 0;
    if (!mount_id(path, id, dev) || !mount_id(parent_of(path), parent, parent_dev))
      return false;
    if (id != 0 && parent != 0)
      return id != parent;
    return dev != parent_dev;  // kernels before 5.8: a bind on the same device is missed
  }

  std::vector<std::string> mounts_under(const std::string& dir) override {
    std::vector<std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string id, parent, dev, root, mount_point;
      fields >> id >> parent >> dev >> root >> mount_point;
      auto mp = unescape(mount_point);
      if (mp == dir || (mp.size() > dir.size() && mp.compare(0, dir.size(), dir) == 0
                        && (dir == "/" || mp[dir.size()] == '/')))
        out.push_back(mp);
    }
    // Deepest (and, for stacked mounts, latest) first: the order to detach them in.
    std::reverse(out.begin(), out.end());
    std::stable_sort(out.begin(), out.end(),
                     [](auto& a, auto& b) { return a.size() > b.size(); });
    return out;
  }

  int run(const std::vector<std::string>& argv, std::string& output) override {
    // Everything is built before the spawn: the child only runs async-signal-safe code.
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      output = "pipe failed";
      return -1;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    // No socket, state file or other descriptor of ours reaches a helper.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    pid_t pid = -1;
    int rc = spawn_helper(pid, args[0], &actions, 0, args.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      output = argv[0] + (rc == ENOENT ? std::string{" not found"} : " could not be started");
      return rc == ENOENT ? 127 : -1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
      if (n > 0)
        output.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    wait_helper(pid, status);
    if (WIFEXITED(status))
      return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
  }

  int run_bounded(const std::vector<std::string>& argv, const std::string& input,
                  long timeout_ms, std::string& output) override {
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // The output goes to an anonymous file, not a pipe: a daemon the helper leaves behind
    // (and its own children, e.g. sshfs's ssh) keep writing there after the helper exits.
    int out = ::memfd_create("actorvol-helper-output", MFD_CLOEXEC);
    int in[2] = {-1, -1};
    if (out < 0 || input.size() > 4096 || ::pipe2(in, O_CLOEXEC) != 0) {
      if (out >= 0)
        ::close(out);
      output = out < 0 ? "memfd_create failed" : input.size() > 4096 ? "input too large" : "pipe failed";
      return -1;
    }
    // Written before the spawn: a small input fits the pipe, and the helper reads it later.
    auto written = ::write(in[1], input.data(), input.size());
    ::close(in[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out, 1);
    posix_spawn_file_actions_adddup2(&actions, out, 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    pid_t pid = -1;
    int rc = written == static_cast<ssize_t>(input.size())  // its own group, killed as one
               ? spawn_helper(pid, args[0], &actions, POSIX_SPAWN_SETPGROUP, args.data())
               : EIO;
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    if (rc != 0) {
      ::close(out);
      output = argv[0] + (rc == ENOENT ? std::string{" not found"} : " could not be started");
      return rc == ENOENT ? 127 : -1;
    }
    int status = 0;
    bool killed = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    for (;;) {
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0
            ? errno != EINTR
            : info.si_pid == pid)
        break;  // it has exited (collected below), or cannot be waited for
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0 && !killed) {
        ::kill(-pid, SIGKILL);
        killed = true;
      }
      if (pidfd >= 0 && !killed) {
        pollfd p{pidfd, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
      } else {
        ::usleep(10'000);
      }
    }
    if (pidfd >= 0)
      ::close(pidfd);
    wait_helper(pid, status);
    char buf[4096];
    off_t at = 0;
    ssize_t n;
    while (output.size() < 65536 && (n = ::pread(out, buf, sizeof(buf), at)) > 0) {
      output.append(buf, static_cast<size_t>(n));
      at += n;
    }
    ::close(out);
    if (killed)
      return helper_timed_out;
    if (WIFEXITED(status))
      return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
  }

  int make_dirs(const std::string& path) override {
    return safe_fs::make_dirs(path);
  }

  int check_dir(const std::string& path) override {
    int fd = safe_fs::open_dir(path);
    if (fd < 0)
      return errno;
    ::close(fd);
    return 0;
  }

  int open_in_root(const std::string& root, const std::string& path, int& fd) override {
    return safe_fs::open_in_root(root, path, fd);
  }

  int kind_of(const std::string& path, bool follow, file_kind& kind) override {
    struct stat st {};
    if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0)
      return errno;
    kind = S_ISDIR(st.st_mode)   ? file_kind::directory
           : S_ISREG(st.st_mode) ? file_kind::regular
           : S_ISLNK(st.st_mode) ? file_kind::symlink
                                 : file_kind::other;
    return 0;
  }

  int chown(const std::string& path, uid_t uid, gid_t gid) override {
    return ::chown(path.c_str(), uid, gid) == 0 ? 0 : errno;
  }

  int chmod(const std::string& path, mode_t mode) override {
    return ::chmod(path.c_str(), mode) == 0 ? 0 : errno;
  }

  int open_new(const std::string& path, mode_t mode, int& fd) override {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    return fd < 0 ? errno : 0;
  }

  int ftruncate(int fd, uint64_t size) override {
    return ::ftruncate(fd, static_cast<off_t>(size)) == 0 ? 0 : errno;
  }

  int close(int fd) override {
    return ::close(fd) == 0 ? 0 : errno;
  }

  int free_space(const std::string& path, uint64_t& bytes) override {
    struct statvfs fsinfo {};
    if (::statvfs(path.c_str(), &fsinfo) != 0)
      return errno;
    bytes = static_cast<uint64_t>(fsinfo.f_bavail) * fsinfo.f_frsize;
    return 0;
  }

  int unlink(const std::string& path) override {
    return ::unlink(path.c_str()) == 0 ? 0 : errno;
  }

  int remove_tree(const std::string& path) override {
    return safe_fs::remove_tree(path);
  }
};

} // namespace

SysPtr real_sys() {
  static auto instance = std::make_shared<real_sys_calls>();
  return instance;
}

int sys_calls::bind(const std::string& source, const std::string& target, unsigned long flags) {
  auto own = flags & ~(MS_BIND | MS_REC);
  // A bind attached under a shared mount has propagated (writable, a peer of the source)
  // before any remount could restrict it: such flags need mount_setattr's way.
  if ((own & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) != 0)
    return EOPNOTSUPP;
  // The kernel ignores the other flags (atime, ...) on the bind call itself; the remount
  // sets them all (a bind of a read-only source becomes writable, as with the real path).
  if (int e = mount(source, target, "", MS_BIND | (flags & MS_REC), ""))
    return e;
  if (int e = mount("", target, "", MS_REMOUNT | MS_BIND | own, "")) {
    detach_all(*this, target);
    return e;
  }
  return 0;
}

namespace {

// A plain unmount of `target` found it busy: when that is for mounts below it (an rbind's
// submounts, or host mounts that propagated into a bind of a shared tree since), take them off
// first. They are made slaves beforehand, so that taking off our copies never propagates back
// to the mounts they are copies of (the host's own). Returns 0 or an errno (EBUSY: still busy
// for another reason, e.g. a process working in it).
int detach_below(sys_calls& sys, const std::string& target) {
  auto below = sys.mounts_under(target);
  below.erase(std::remove(below.begin(), below.end(), target), below.end());
  if (below.empty())
    return EBUSY;
  if (int e = sys.mount("", target, "", MS_SLAVE | MS_REC, ""))
    return e;
  return sys.detach_tree(target);
}

} // namespace

int sys_calls::detach_tree(const std::string& target) {
  for (auto& m : mounts_under(target))  // deepest first
    if (int e = unmount(m); e != 0 && is_mountpoint(m))
      return e;
  return 0;
}

void reap_orphans() {
  for (;;) {
    siginfo_t info{};
    // Wait for any child to end without collecting it, then collect it only if no helper
    // call is waiting for that one.
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) != 0) {
      if (errno == ECHILD)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    bool ours;
    {
      std::lock_guard<std::mutex> guard{helpers_lock()};
      ours = helpers().count(info.si_pid) == 1;
      if (!ours) {
        int status = 0;
        ::waitpid(info.si_pid, &status, WNOHANG);
      }
    }
    if (ours)  // its caller collects it in a moment
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int detach_all(sys_calls& sys, const std::string& target) {
  // Stacked mounts (e.g. a tmpfs mounted twice) come off one per call.
  for (int i = 0; i < 64 && sys.is_mountpoint(target); ++i) {
    int e = sys.unmount(target);
    if (e == EBUSY)
      e = detach_below(sys, target);
    if (e)
      return e;
  }
  return sys.is_mountpoint(target) ? EBUSY : 0;
}

} // namespace actorvol
