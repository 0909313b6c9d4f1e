#include "support/plugin.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef ACTORVOL_BINARY
#error "ACTORVOL_BINARY must name the actorvol binary"
#endif

namespace actorvol::test {

namespace {

/// A sanitizer build of the plugin reports to its stderr (ASan, UBSan, LSan, TSan all say
/// "...Sanitizer" in the report). Its exit status alone cannot fail the test: many tests kill
/// it with SIGKILL or never look at the status. So every test that ran a plugin fails here
/// when its log holds a report. `who` names the process.
void fail_on_sanitizer_report(const std::string& who, const std::string& log) {
  auto at = log.find("Sanitizer");
  if (at == std::string::npos)
    return;
  // Show from the report's first line: UBSan starts "file:line: runtime error:", the others
  // "==PID==ERROR: ...Sanitizer" or "WARNING: ThreadSanitizer"; the SUMMARY line comes last.
  auto from = at;
  for (auto marker : {"runtime error:", "==ERROR:", "WARNING: ThreadSanitizer"})
    from = std::min(from, log.find(marker));
  from = log.rfind('\n', from);
  from = from == std::string::npos ? 0 : from + 1;
  ADD_FAILURE() << who << " reported a sanitizer error:\n" << log.substr(from, 30000);
}

} // namespace

nlohmann::json response::json() const {
  return nlohmann::json::parse(body, nullptr, false);
}

std::string response::header(const std::string& name) const {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return s;
  };
  auto h = lower(headers);
  auto key = "\r\n" + lower(name) + ":";
  auto pos = h.find(key);
  if (pos == std::string::npos)
    return "";
  auto start = pos + key.size();
  auto end = headers.find("\r\n", start);
  auto v = headers.substr(start, end - start);
  v.erase(0, v.find_first_not_of(' '));
  return v;
}

connection::connection(const std::string& socket_path) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

connection::~connection() {
  if (fd_ >= 0)
    ::close(fd_);
}

void connection::send_raw(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      return;
    }
    done += static_cast<size_t>(n);
  }
}

response connection::read_response() {
  response r;
  auto fill = [this]() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0)
      return false;
    char buf[65536];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0)
      return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  };
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
    if (!fill())
      return r;
  r.headers = buffer_.substr(0, end + 2);
  std::sscanf(r.headers.c_str(), "HTTP/1.%*d %d", &r.status);
  auto len_text = r.header("Content-Length");
  size_t len = len_text.empty() ? 0 : std::stoul(len_text);
  while (buffer_.size() < end + 4 + len)
    if (!fill())
      break;
  r.body = buffer_.substr(end + 4, len);
  buffer_.erase(0, std::min(buffer_.size(), end + 4 + len));
  return r;
}

response connection::post(const std::string& path, const std::string& body) {
  send_raw(http_post(path, body));
  return read_response();
}

bool connection::closed_by_peer(int ms) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0)
    return false;
  char c;
  return ::recv(fd_, &c, 1, MSG_PEEK) == 0;
}

bool connection::readable(int ms) {
  if (!buffer_.empty())
    return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

void connection::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

std::string http_post(const std::string& path, const std::string& body, bool keep_alive) {
  std::ostringstream os;
  os << "POST " << path << " HTTP/1.1\r\nHost: plugin\r\n"
     << "Content-Length: " << body.size() << "\r\n"
     << (keep_alive ? "" : "Connection: close\r\n") << "\r\n"
     << body;
  return os.str();
}

plugin::plugin(std::vector<std::string> extra, std::vector<std::string> env)
  : dir_(std::make_unique<temp_dir>()) {
  root_ = (dir_->path() / "root").string();
  launch(std::move(extra), std::move(env));
}

plugin::plugin(const std::string& root, std::vector<std::string> extra,
               std::vector<std::string> env)
  : dir_(std::make_unique<temp_dir>()), root_(root) {
  launch(std::move(extra), std::move(env));
}

plugin::plugin(const std::string& root, std::vector<std::string> extra,
               std::vector<std::string> env, const std::string& cwd)
  : dir_(std::make_unique<temp_dir>()), root_(root), cwd_(cwd) {
  launch(std::move(extra), std::move(env));
}

void plugin::launch(std::vector<std::string> extra, std::vector<std::string> env) {
  socket_ = (dir_->path() / "p.sock").string();
  log_path_ = (dir_->path() / "stderr.log").string();
  std::vector<std::string> args{binary_under_test(), "--socket", socket_, "--root", root_};
  args.insert(args.end(), extra.begin(), extra.end());
  for (size_t i = 0; i + 1 < extra.size(); ++i)
    if (extra[i] == "--socket")
      socket_ = extra[i + 1];  // a later --socket wins, in the binary as here
  pid_ = spawn(args, env, log_path_, cwd_);
  // Ready once it answers: the socket opens before the root is prepared (recovery, stray
  // mounts), and requests are served only after that.
  for (int i = 0; i < 500; ++i) {
    if (connection c(socket_); c.ok() && c.post("/Plugin.Activate", "").status == 200)
      return;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      fail_on_sanitizer_report("actorvol (at start)", log());
      throw std::runtime_error("actorvol exited at start: " + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop(SIGKILL);
  throw std::runtime_error("actorvol did not open its socket: " + log());
}

plugin::~plugin() {
  if (pid_ > 0)
    stop(SIGKILL);
}

response plugin::call(const std::string& endpoint, const nlohmann::json& body) {
  connection c(socket_);
  return c.post(endpoint, body.dump());
}

int plugin::stop(int sig) {
  if (pid_ <= 0)
    return -1;
  auto pid = pid_;
  ::kill(pid_, sig);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  fail_on_sanitizer_report("actorvol (pid " + std::to_string(pid) + ")", log());
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

std::string plugin::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& log_path, const std::string& cwd) {
  auto pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);  // never hold the test runner's pipes
    ::dup2(fd, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0)
      ::_exit(126);
    for (auto& e : env)
      ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string binary_under_test() {
  auto binary = std::getenv("ACTORVOL_TEST_BINARY");
  return binary != nullptr && *binary ? binary : ACTORVOL_BINARY;
}

run_result run_binary(const std::vector<std::string>& args, const std::string& input) {
  temp_dir tmp;
  auto in = (tmp / "in").string();
  auto out = (tmp / "out").string();
  auto err = (tmp / "err").string();
  {
    std::ofstream f(in, std::ios::binary);
    f << input;
  }
  auto pid = ::fork();
  if (pid == 0) {
    int i = ::open(in.c_str(), O_RDONLY);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT, 0644);
    ::dup2(i, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> argv{const_cast<char*>(ACTORVOL_BINARY)};
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  run_result result{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                    slurp(out), slurp(err)};
  fail_on_sanitizer_report("actorvol (run to completion)", result.err);
  return result;
}

} // namespace actorvol::test
