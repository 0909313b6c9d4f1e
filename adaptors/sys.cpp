#include "adaptors/sys.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace actorvol {

namespace {

// /proc/self/mountinfo escapes space, tab, newline and backslash as octal.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

class real_sys_calls : public sys_calls {
public:
  int mount(const std::string& source, const std::string& target, const std::string& type,
            unsigned long flags, const std::string& data) override {
    int rc = ::mount(source.c_str(), target.c_str(), type.empty() ? nullptr : type.c_str(),
                     flags, data.empty() ? nullptr : data.c_str());
    return rc == 0 ? 0 : errno;
  }

  int unmount(const std::string& target) override {
    return ::umount2(target.c_str(), 0) == 0 ? 0 : errno;
  }

  bool is_mountpoint(const std::string& path) override {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string id, parent, dev, root, mount_point;
      fields >> id >> parent >> dev >> root >> mount_point;
      if (unescape(mount_point) == path)
        return true;
    }
    return false;
  }

  int run(const std::vector<std::string>& argv, std::string& output) override {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      output = "pipe failed";
      return -1;
    }
    auto pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      output = "fork failed";
      return -1;
    }
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      std::vector<char*> args;
      for (auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
      if (n > 0)
        output.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) {
      if (WEXITSTATUS(status) == 127 && output.empty())
        output = argv[0] + " not found";
      return WEXITSTATUS(status);
    }
    return 128 + WTERMSIG(status);
  }
};

} // namespace

SysPtr real_sys() {
  static auto instance = std::make_shared<real_sys_calls>();
  return instance;
}

} // namespace actorvol
