#include "adaptors/sshfs.hpp"

#include "adaptors/options.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

namespace fs = std::filesystem;

namespace actorvol {

namespace {

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool all_of(const std::string& s, const char* extra) {
  return std::all_of(s.begin(), s.end(), [extra](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr(extra, c) != nullptr;
  });
}

long number(const std::string& s, long lo, long hi) {
  if (s.empty() || s.size() > 6
      || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  long n = std::stol(s);
  return n < lo || n > hi ? -1 : n;
}

caf::error bad(const volume_spec& v, const std::string& what) {
  return make_error(ec::bad_option, v.name, what);
}

caf::error failed(const volume_spec& v, const std::string& what) {
  return make_error(ec::backend_failed, v.name, what);
}

// Names under which people pass credentials inline; never accepted (the value is never
// repeated in the answer).
bool credential_key(const std::string& key) {
  static const std::set<std::string> keys = {
    "password", "passwd",       "pass",   "passphrase", "pwd",     "identityfile",
    "identity", "key",          "sshkey", "ssh_key",    "private_key", "privatekey",
    "credentials", "credential", "token", "password_stdin", "ssh_command", "sshpass"};
  return keys.count(lower(key)) == 1;
}

caf::error no_inline_credentials(const volume_spec& v, const std::string& key) {
  return bad(v, key + "=...: credentials are never volume options (Docker keeps every option "
                      "and prints it in `docker volume inspect`): store them with `actorvol "
                      "secret set NAME` and create the volume with -o secret=NAME");
}

// sshfs and ssh options a volume may add with o=; the ones that set credentials, run
// commands or turn host key checking off are not among them.
const std::set<std::string>& extra_options() {
  static const std::set<std::string> known = {
    "reconnect", "ServerAliveInterval", "ServerAliveCountMax", "ConnectionAttempts",
    "Compression", "Ciphers", "cache", "cache_timeout", "dir_cache", "dcache_timeout",
    "dcache_max_size", "idmap", "uid", "gid", "umask", "default_permissions",
    "follow_symlinks", "transform_symlinks", "no_readahead", "sync_readdir", "max_conns",
    "ro", "rw", "noexec", "nosuid", "nodev", "noatime", "kernel_cache", "auto_cache",
    "workaround", "delay_connect", "big_writes", "max_read", "max_write"};
  return known;
}

const std::set<std::string>& host_key_options() {
  static const std::set<std::string> keys = {"stricthostkeychecking", "userknownhostsfile",
                                             "globalknownhostsfile", "checkhostip",
                                             "verifyhostkeydns"};
  return keys;
}

caf::error check_extra(const volume_spec& v, const std::string& o) {
  for (auto& item : split(o, ',')) {
    if (item.empty())
      continue;
    auto eq = item.find('=');
    auto key = item.substr(0, eq);
    auto value = eq == std::string::npos ? std::string{} : item.substr(eq + 1);
    if (credential_key(key) || value.find("PRIVATE KEY") != std::string::npos)
      return no_inline_credentials(v, "o=" + key);
    if (host_key_options().count(lower(key)))
      return bad(v, "o=" + key + ": host keys are always checked; give the host's key with "
                                 "-o known_host=\"TYPE BASE64\" or add it to the known_hosts "
                                 "file in the secrets directory");
    if (extra_options().count(key) == 0)
      return bad(v, "o=" + key + ": not an sshfs option actorvol passes (allowed: reconnect, "
                                 "ServerAliveInterval, Compression, cache, idmap, uid, gid, "
                                 "umask, ro, ... see the README)");
    static const std::set<std::string> numeric = {
      "ServerAliveInterval", "ServerAliveCountMax", "ConnectionAttempts", "uid", "gid", "umask",
      "cache_timeout", "dcache_timeout", "dcache_max_size", "max_conns", "max_read",
      "max_write"};
    auto digits = !value.empty() && value.size() <= 9
                  && std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric.count(key) && !digits)
      return bad(v, "o=" + key + "=...: a number");
    if (!all_of(value, "._@:+-"))
      return bad(v, "o=" + key + "=...: a value of letters, digits and ._@:+- only");
  }
  return caf::none;
}

bool known_host_ok(const std::string& s) {
  auto sp = s.find(' ');
  if (sp == std::string::npos)
    return false;
  auto type = s.substr(0, sp);
  auto key = s.substr(sp + 1);
  static const std::set<std::string> types = {
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"};
  return types.count(type) == 1 && key.size() >= 16 && key.size() <= 4096 && all_of(key, "+/=");
}

// The port as a number's text ("022" is 22: ssh looks its host key up as port 22).
std::string port_of(const volume_spec& v) {
  auto p = options::value(v, "port");
  return p.empty() ? std::string{"22"} : std::to_string(std::stol(p));
}

// What the remote is, for errors and Status: "user@host port P:/path".
std::string remote_of(const volume_spec& v) {
  auto user = options::value(v, "user");
  auto port = port_of(v);
  return (user.empty() ? "" : user + "@") + options::value(v, "host") + " port " + port + ":"
         + options::value(v, "path");
}

long timeout_of(const volume_spec& v) {
  auto t = options::value(v, "timeout");
  // At most 55 s: a whole attempt (2 * timeout + 5 s) then ends inside Docker's 120 s.
  return t.empty() ? 10 : number(t, 1, 55);
}

// The helper's output as one line: its non-empty lines joined, the secret never in it.
std::string reason_of(std::string out, const std::string& secret, int code) {
  if (!secret.empty())
    for (size_t at; (at = out.find(secret)) != std::string::npos;)
      out.replace(at, secret.size(), "***");
  // ssh's banner for a changed host key is a page long: its gist, and the key it saw.
  if (out.find("REMOTE HOST IDENTIFICATION HAS CHANGED") != std::string::npos) {
    auto at = out.find("SHA256:");
    auto fp = at == std::string::npos ? std::string{} : out.substr(at, out.find_first_of("\n .", at) - at);
    return "Host key verification failed: the server's key " + (fp.empty() ? "" : "(" + fp + ") ")
           + "differs from the known one";
  }
  std::string line;
  std::string generic;  // what sshfs says whenever ssh went away, whatever the reason
  for (auto& l : split(out, '\n')) {
    auto t = l;
    while (!t.empty() && (t.back() == '\r' || t.back() == ' ' || t.back() == '.'))
      t.pop_back();  // Err texts end without a period (ssh's messages have one)
    if (t == "read: Connection reset by peer")
      generic = t;
    else if (!t.empty())
      line += (line.empty() ? "" : "; ") + t;
  }
  if (line.empty())
    line = generic;
  if (line.size() > 512)
    line = line.substr(0, 512) + "...";
  return line.empty() ? "sshfs exited with " + std::to_string(code) : line;
}

// The processes of sshfs serving `target` (its mount point is one of their arguments).
std::vector<pid_t> daemons_of(const std::string& target) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr)
    return out;
  while (auto* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0])))
      continue;
    // Only a process of root's can be the daemon actorvol started: another user's process
    // named sshfs with the mount point as an argument must not pass for it (nor be stopped).
    struct stat owner {};
    if (::stat((std::string{"/proc/"} + e->d_name).c_str(), &owner) != 0 || owner.st_uid != 0)
      continue;
    int fd = ::open((std::string{"/proc/"} + e->d_name + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    std::string cmd;
    char buf[4096];
    ssize_t n;
    while (cmd.size() < 65536 && (n = ::read(fd, buf, sizeof(buf))) > 0)
      cmd.append(buf, static_cast<size_t>(n));
    ::close(fd);
    auto args = split(cmd, '\0');
    if (args.empty())
      continue;
    auto prog = args.front().substr(args.front().rfind('/') + 1);
    if (prog == "sshfs" && std::find(args.begin() + 1, args.end(), target) != args.end())
      out.push_back(static_cast<pid_t>(std::atol(e->d_name)));
  }
  ::closedir(d);
  return out;
}

// A name lookup that may outlive its caller: the resolver thread fills it in whenever it
// answers, and the last owner frees the result.
struct lookup {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  int rc = 0;
  addrinfo* res = nullptr;
  ~lookup() {
    if (res != nullptr)
      ::freeaddrinfo(res);
  }
};

// Whether host:port accepts a TCP connection within `ms`; `why` says why not. A numeric
// address needs no resolver; a name is resolved on a thread of its own, so a slow resolver
// counts against the same bound (the thread finishes on its own when it answers late).
bool reachable(const std::string& host, const std::string& port, int ms, std::string& why) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  auto left = [&] {
    return static_cast<int>(std::max<long long>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
           .count()));
  };
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc == EAI_NONAME) {
    auto l = std::make_shared<lookup>();
    std::thread{[l, host, port] {
      addrinfo h{};
      h.ai_socktype = SOCK_STREAM;
      h.ai_flags = AI_NUMERICSERV;
      addrinfo* res = nullptr;
      int r = ::getaddrinfo(host.c_str(), port.c_str(), &h, &res);
      std::lock_guard<std::mutex> guard{l->m};
      l->rc = r;
      l->res = res;
      l->done = true;
      l->cv.notify_all();
    }}.detach();
    std::unique_lock<std::mutex> lock{l->m};
    if (!l->cv.wait_for(lock, std::chrono::milliseconds(left()), [&] { return l->done; })) {
      why = "no answer from the resolver for " + host + " in time";
      return false;
    }
    rc = l->rc;
    found = std::exchange(l->res, nullptr);
  }
  if (rc != 0) {
    why = "cannot resolve " + host + ": " + ::gai_strerror(rc);
    return false;
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> res{found, ::freeaddrinfo};
  why = "no address for " + host;
  for (auto* a = res.get(); a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0)
      continue;
    int err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int n = ::poll(&p, 1, left());
      socklen_t len = sizeof(err);
      if (n == 1)
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      else
        err = ETIMEDOUT;
    }
    ::close(fd);
    if (err == 0)
      return true;
    why = os_reason(err);
    if (left() == 0)
      break;
  }
  return false;
}

} // namespace

sshfs_adaptor::sshfs_adaptor(fs::path root, SysPtr sys, secret_store secrets)
  : mounted_adaptor(std::move(root), std::move(sys)), secrets_(std::move(secrets)) {
}

bool sshfs_adaptor::accepts(const volume_opts& opts) const {
  auto i = opts.find("type");
  return i != opts.end() && i->second == "sshfs";
}

caf::error sshfs_adaptor::validate(const volume_spec& v) const {
  for (auto& [key, value] : v.opts)
    if (credential_key(key) || value.find("PRIVATE KEY") != std::string::npos)
      return no_inline_credentials(v, key);
  if (auto e = options::only(v, {"type", "host", "port", "user", "path", "secret",
                                 "known_host", "timeout", "o"}))
    return e;
  auto host = options::value(v, "host");
  if (host.empty())
    return bad(v, "host=: required (the SSH server, a name or an IPv4 address)");
  if (host.size() > 253 || !std::isalnum(static_cast<unsigned char>(host[0])) || !all_of(host, ".-"))
    return bad(v, "host=...: a host name or an IPv4 address (letters, digits, . and -)");
  if (v.opts.count("port") && number(options::value(v, "port"), 1, 65535) < 0)
    return bad(v, "port=...: a number from 1 to 65535");
  auto user = options::value(v, "user");
  if (v.opts.count("user")
      && (user.empty() || user.size() > 32 || user[0] == '-' || !all_of(user, "._-")))
    return bad(v, "user=...: a user name of letters, digits and ._- (not starting with -)");
  auto path = options::value(v, "path");
  if (path.empty() || path[0] != '/')
    return bad(v, "path=...: required, an absolute path on the server");
  if (path.size() > 4096 || std::any_of(path.begin(), path.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      }))
    return bad(v, "path=: no control characters, at most 4096 bytes");
  auto secret = options::value(v, "secret");
  if (secret.empty())
    return bad(v, "secret=: required, the name of a secret stored with `actorvol secret set "
                  "NAME` (a key, or a password with --password-stdin)");
  if (!secret_store::valid_name(secret))
    return bad(v, "secret=...: a secret name ([A-Za-z0-9][A-Za-z0-9_-]*, at most 64)");
  if (v.opts.count("known_host") && !known_host_ok(options::value(v, "known_host")))
    return bad(v, "known_host=...: the server's public key as \"TYPE BASE64\", e.g. the part "
                  "after the host name in `ssh-keyscan` output");
  if (timeout_of(v) < 0)
    return bad(v, "timeout=...: seconds, from 1 to 55");
  return check_extra(v, options::value(v, "o"));
}

caf::error sshfs_adaptor::make_store(const volume_spec& v) {
  std::string error;
  auto secret = secrets_.find(options::value(v, "secret"), error);
  if (secret && !secret_store::allows(*secret, options::value(v, "host"), port_of(v), error))
    return bad(v, "secret=" + options::value(v, "secret") + ": " + error);
  if (auto e = secrets_.add_use(options::value(v, "secret"), v.name); !e.empty())
    return bad(v, "secret=" + options::value(v, "secret") + ": " + e);
  return caf::none;
}

caf::error sshfs_adaptor::delete_store(const volume_spec& v) {
  reap_daemons(target_of(v.name).string());
  if (auto e = secrets_.drop_use(options::value(v, "secret"), v.name); !e.empty())
    return failed(v, "remove: " + e);
  return caf::none;
}

caf::expected<std::string> sshfs_adaptor::mount(const volume_spec& v) {
  auto target = target_of(v.name).string();
  if (sys_->is_mountpoint(target)) {
    // Attached, with its daemon: adopted as it is. Nothing may look inside it (a stat of its
    // root is a request to the server, which may hang for good).
    if (!daemons_of(target).empty())
      return target;
    // A mount whose sshfs is gone (killed, or the plugin restarted in a new PID namespace)
    // answers nothing but ENOTCONN: take it off and attach again.
    if (int e = detach_all(*sys_, target))
      return failed(v, "unmount of the dead sshfs mount on " + target + " failed: " + os_reason(e));
  }
  return mounted_adaptor::mount(v);
}

caf::error sshfs_adaptor::unmount(const volume_spec& v) {
  if (auto e = mounted_adaptor::unmount(v))
    return e;
  reap_daemons(target_of(v.name).string());
  return caf::none;
}

void sshfs_adaptor::reap_daemons(const std::string& target) {
  using namespace std::chrono_literals;
  auto until = std::chrono::steady_clock::now() + 2s;
  int sig = 0;
  for (auto pids = daemons_of(target); !pids.empty(); pids = daemons_of(target)) {
    if (std::chrono::steady_clock::now() >= until) {
      if (sig == SIGKILL)
        return;  // a process that SIGKILL cannot stop (blocked in the kernel): give up
      sig = sig == 0 ? SIGTERM : SIGKILL;
      for (auto pid : pids)
        ::kill(pid, sig);
      until = std::chrono::steady_clock::now() + 1s;
    }
    std::this_thread::sleep_for(20ms);
  }
}

caf::error sshfs_adaptor::attach(const volume_spec& v, const std::string& target) {
  std::string error;
  auto secret = secrets_.find(options::value(v, "secret"), error);
  if (!secret)
    return bad(v, "secret=" + options::value(v, "secret") + ": " + error);
  auto port = port_of(v);
  // A secret bound to its servers goes nowhere else, whatever host= a volume names.
  if (!secret_store::allows(*secret, options::value(v, "host"), port, error))
    return bad(v, "secret=" + options::value(v, "secret") + ": " + error);
  auto timeout = timeout_of(v);
  // Host keys: the volume's own, else the operator's file (and the system's).
  auto known_hosts = secrets_.known_hosts().string();
  if (auto key = options::value(v, "known_host"); !key.empty()) {
    known_hosts = (volume_dir(v.name) / "known_hosts").string();
    auto pattern = port == "22" ? options::value(v, "host") : "[" + options::value(v, "host") + "]:" + port;
    auto line = pattern + " " + key + "\n";
    int fd = ::open(known_hosts.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      int e = errno;
      if (fd >= 0)
        ::close(fd);
      return failed(v, "write of " + known_hosts + " failed: " + os_reason(e));
    }
    ::close(fd);
  }
  // FUSE splits options at commas; ssh splits file names at blanks and expands % and ~.
  for (auto& p : {known_hosts, secret->file.string(), target})
    if (p.find_first_of(",%~ \t\"'\\") != std::string::npos || p.empty() || p[0] != '/')
      return failed(v, "sshfs cannot be given the path " + p
                         + " (it must be absolute, without commas, blanks, quotes, % or ~)");
  auto user = options::value(v, "user");
  std::vector<std::string> argv = {
    "sshfs",
    (user.empty() ? "" : user + "@") + options::value(v, "host") + ":" + options::value(v, "path"),
    target, "-p", port, "-F", "/dev/null"};
  // The volume's own options first: for an ssh option given twice ssh keeps the first one
  // (none of those allowed in o= weakens what follows).
  if (auto extra = options::value(v, "o"); !extra.empty())
    argv.insert(argv.end(), {"-o", extra});
  // allow_other lets containers running as any user in; default_permissions makes the
  // kernel check the remote files' modes for each of them (without it, every local user
  // would have the remote account's rights).
  argv.insert(argv.end(),
              {"-o", "reconnect,ServerAliveInterval=15,ServerAliveCountMax=3,allow_other",
               "-o", "default_permissions", "-o", "ConnectTimeout=" + std::to_string(timeout),
               "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + known_hosts,
               "-o", "LogLevel=ERROR",
               // Without it sshfs runs ssh quiet: a failure would only say "Connection reset
               // by peer".
               "-o", "sshfs_verbose"});
  std::string input;
  std::string secret_bytes;
  if (secret->type == secret_store::kind::key) {
    // ssh reads the key itself, from the root-only file: only its path is an argument.
    for (auto o : {"IdentityFile=" + secret->file.string(), std::string{"IdentitiesOnly=yes"},
                   std::string{"BatchMode=yes"}, std::string{"PasswordAuthentication=no"},
                   std::string{"KbdInteractiveAuthentication=no"}})
      argv.insert(argv.end(), {"-o", o});
  } else {
    secret_bytes = read_secret(secret->file, error);
    if (secret_bytes.empty())
      return failed(v, "secret=" + options::value(v, "secret") + ": " + (error.empty() ? "empty" : error));
    input = secret_bytes + "\n";
    for (auto o : {"password_stdin", "PubkeyAuthentication=no",
                   "PreferredAuthentications=password", "NumberOfPasswordPrompts=1"})
      argv.insert(argv.end(), {"-o", o});
  }
  std::string out;
  auto bound = 2 * timeout + 5;
  int rc = sys_->run_bounded(argv, input, bound * 1000, out);
  std::fill(input.begin(), input.end(), '\0');
  if (rc == 0) {
    std::fill(secret_bytes.begin(), secret_bytes.end(), '\0');
    return caf::none;
  }
  // It may have mounted just before it was stopped: leave nothing behind.
  detach_all(*sys_, target);
  reap_daemons(target);
  std::string why = rc == sys_calls::helper_timed_out
                      ? "no mount within " + std::to_string(bound) + " s (stopped)"
                      : reason_of(out, secret_bytes, rc);
  // What to do goes before the reason, which comes last.
  std::string hint;
  if (why.find("Host key verification failed") != std::string::npos)
    hint = " (give the server's key with -o known_host=\"TYPE BASE64\" or add it to "
           + secrets_.known_hosts().string() + ")";
  std::fill(secret_bytes.begin(), secret_bytes.end(), '\0');
  return failed(v, "sshfs mount of " + remote_of(v) + " failed" + hint + ": " + why);
}

status_map sshfs_adaptor::status(const volume_spec& v) {
  auto s = mounted_adaptor::status(v);
  s["Remote"] = remote_of(v);
  std::string why;
  auto port = port_of(v);
  s["Reachable"] = reachable(options::value(v, "host"), port, 500, why) ? "true" : "false: " + why;
  return s;
}

} // namespace actorvol
