#include "support/sshd.hpp"

#include "support/plugin.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;

namespace actorvol::test {

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool executable(const std::string& prog) {
  for (auto dir : {"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"})
    if (::access((std::string{dir} + prog).c_str(), X_OK) == 0)
      return true;
  return false;
}

int bound_socket(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0)
      ::close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

bool accepts_connections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

// The children of `pid` (from /proc/*/stat), recursively.
void kill_tree(pid_t pid) {
  std::vector<pid_t> kids;
  if (DIR* d = ::opendir("/proc")) {
    while (auto* e = ::readdir(d)) {
      if (!std::isdigit(static_cast<unsigned char>(e->d_name[0])))
        continue;
      auto stat = slurp(std::string{"/proc/"} + e->d_name + "/stat");
      auto close = stat.rfind(')');
      if (close == std::string::npos)
        continue;
      std::istringstream rest(stat.substr(close + 2));
      char state;
      pid_t ppid = 0;
      rest >> state >> ppid;
      if (ppid == pid)
        kids.push_back(std::atoi(e->d_name));
    }
    ::closedir(d);
  }
  ::kill(pid, SIGKILL);
  for (auto k : kids)
    kill_tree(k);
}

} // namespace

std::string sshfs_missing() {
  if (::geteuid() != 0)
    return "needs root (FUSE mounts, an sshd)";
  for (auto prog : {"sshd", "sshfs", "ssh-keygen", "ssh"})
    if (!executable(prog))
      return std::string{"needs "} + prog + " (apt-get install -y openssh-server sshfs)";
  int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return "needs /dev/fuse";
  ::close(fd);
  return "";
}

int shell(const std::string& cmd, const std::string& input, std::string& out) {
  int in[2], res[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(res, O_CLOEXEC) != 0)
    return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(res[1], 1);
    ::dup2(res[1], 2);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(res[1]);
  if (!input.empty() && ::write(in[1], input.data(), input.size()) < 0)
    out = "write failed\n";
  ::close(in[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(res[0], buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  ::close(res[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

sshd::sshd(const std::string& password_user) {
  if (!sshfs_missing().empty())
    return;
  auto d = dir_.path().string();
  std::string out;
  auto keygen = [&](const char* name) {
    return shell("ssh-keygen -q -t ed25519 -N '' -C actorvol-test -f " + d + "/" + name, "", out);
  };
  if (keygen("hostkey") != 0 || keygen("client") != 0 || keygen("other") != 0)
    return;
  client_key_ = slurp(dir_ / "client");
  other_key_ = slurp(dir_ / "other");
  auto pub = slurp(dir_ / "hostkey.pub");
  auto second_space = pub.find(' ', pub.find(' ') + 1);
  host_key_ = pub.substr(0, second_space);
  { std::ofstream(dir_ / "authorized_keys") << slurp(dir_ / "client.pub"); }
  fs::create_directories(dir_ / "export");
  ::chmod((dir_ / "export").c_str(), 0777);
  ::chmod(d.c_str(), 0755);
  if (!password_user.empty()) {
    std::mt19937_64 rng{std::random_device{}()};
    char buf[40];
    std::snprintf(buf, sizeof buf, "pw-%016llx%08llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng() & 0xffffffff));
    password_ = buf;
    if (shell("id -u " + password_user + " >/dev/null 2>&1 || useradd --system --no-create-home "
              "--home-dir /nonexistent --shell /bin/sh " + password_user, "", out) != 0
        || shell("chpasswd", password_user + ":" + password_ + "\n", out) != 0
        || shell("chown " + password_user + " " + export_dir(), "", out) != 0)
      return;
  }
  int fd = bound_socket(port_);
  ::close(fd);
  std::ofstream(dir_ / "sshd_config")
    << "Port " << port_ << "\nListenAddress 127.0.0.1\nHostKey " << d << "/hostkey\n"
    << "PidFile " << d << "/sshd.pid\nAuthorizedKeysFile " << d << "/authorized_keys\n"
    << "PermitRootLogin yes\nPasswordAuthentication " << (password_user.empty() ? "no" : "yes")
    << "\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
    << "Subsystem sftp internal-sftp\nLogLevel ERROR\nMaxStartups 100\n";
  fs::create_directories("/run/sshd");  // its privilege separation directory
  start();
}

void sshd::start() {
  pid_ = spawn({"/usr/sbin/sshd", "-D", "-e", "-f", (dir_ / "sshd_config").string()}, {},
               (dir_ / "sshd.log").string());
  for (int i = 0; i < 500 && !accepts_connections(port_); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!accepts_connections(port_)) {
    kill();
    pid_ = -1;
  }
}

void sshd::kill() {
  if (pid_ <= 0)
    return;
  kill_tree(pid_);  // the listener and every session it forked
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = 0;
}

sshd::~sshd() {
  kill();
}

silent_server::silent_server() {
  fd_ = bound_socket(port_);
  if (fd_ >= 0)
    ::listen(fd_, 128);
}

silent_server::~silent_server() {
  if (fd_ >= 0)
    ::close(fd_);
}

int closed_port() {
  int port = 0;
  int fd = bound_socket(port);
  ::close(fd);
  return port;
}

std::vector<pid_t> processes(const std::string& program, const std::string& needle, bool part) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr)
    return out;
  while (auto* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0])))
      continue;
    auto cmd = slurp(std::string{"/proc/"} + e->d_name + "/cmdline");
    std::vector<std::string> args;
    std::string cur;
    for (char c : cmd) {
      if (c == '\0') {
        args.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (args.empty() || args[0].substr(args[0].rfind('/') + 1) != program)
      continue;
    for (size_t i = 1; i < args.size(); ++i)
      if (part ? args[i].find(needle) != std::string::npos : args[i] == needle) {
        out.push_back(std::atoi(e->d_name));
        break;
      }
  }
  ::closedir(d);
  return out;
}

} // namespace actorvol::test
