#include "adaptors/secrets.hpp"

#include "adaptors/safe_fs.hpp"
#include "core/error.hpp"
#include "core/types.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace fs = std::filesystem;

namespace actorvol {

namespace {

constexpr size_t max_secret = 64 * 1024;

const char* suffix(secret_store::kind k) {
  return k == secret_store::kind::key ? ".key" : ".password";
}

// The directory, made root-only (0700) if it is not there; an existing one that others
// may enter is refused rather than silently trusted.
std::string prepare_dir(const fs::path& dir, bool make) {
  if (make) {
    if (int e = safe_fs::make_dirs(dir.parent_path()))
      return "cannot make " + dir.parent_path().string() + ": " + os_reason(e);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return "cannot make " + dir.string() + ": " + os_reason(errno);
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0)
    return errno == ENOENT ? std::string{} : dir.string() + ": " + os_reason(errno);
  if (!S_ISDIR(st.st_mode))
    return dir.string() + " is not a directory";
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)
    return dir.string() + " must be a directory only its owner can use (chmod 700 "
           + dir.string() + ")";
  return {};
}

// An exclusive flock on DIR/.lock, released when the object goes.
class dir_lock {
public:
  explicit dir_lock(const fs::path& dir) {
    fd_ = ::open((dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) {
      error_ = "cannot open " + (dir / ".lock").string() + ": " + os_reason(errno);
      return;
    }
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) {
        error_ = "cannot lock " + (dir / ".lock").string() + ": " + os_reason(errno);
        return;
      }
  }
  ~dir_lock() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  dir_lock(const dir_lock&) = delete;
  dir_lock& operator=(const dir_lock&) = delete;
  const std::string& error() const {
    return error_;
  }

private:
  int fd_ = -1;
  std::string error_;
};

bool present(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// Writes `bytes` to `file` crash-safely: a new file beside it, fsynced, renamed over it.
std::string write_file(const fs::path& dir, const fs::path& file, const std::string& bytes) {
  auto tmp = dir / (".tmp." + std::to_string(::getpid()));
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return "cannot write " + tmp.string() + ": " + os_reason(errno);
  size_t done = 0;
  int err = 0;
  while (done < bytes.size() && err == 0) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n > 0)
      done += static_cast<size_t>(n);
    else if (n < 0 && errno != EINTR)
      err = errno;
  }
  if (err == 0 && ::fsync(fd) != 0)
    err = errno;
  ::close(fd);
  if (err == 0 && ::rename(tmp.c_str(), file.c_str()) != 0)
    err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return "cannot write " + file.string() + ": " + os_reason(err);
  }
  if (int e = safe_fs::sync_dir(dir))
    return "cannot sync " + dir.string() + ": " + os_reason(e);
  return {};
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.')
        out.emplace_back(e->d_name);
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

bool secret_store::valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string secret_store::set(const std::string& name, kind type, std::string bytes,
                              const std::vector<std::string>& hosts) const {
  if (!valid_name(name))
    return "invalid secret name \"" + name
           + "\": must match [A-Za-z0-9][A-Za-z0-9_-]* and be at most 64 bytes";
  if (bytes.size() > max_secret)
    return "the secret is larger than 64 KiB";
  if (type == kind::password) {
    if (!bytes.empty() && bytes.back() == '\n')
      bytes.pop_back();
    if (!bytes.empty() && bytes.back() == '\r')
      bytes.pop_back();
    if (bytes.empty())
      return "the password is empty";
    if (bytes.size() > 1024)
      return "a password is at most 1024 bytes";
    if (bytes.find_first_of(std::string{"\n\r\0", 3}) != std::string::npos)
      return "a password is one line, without NUL bytes";
  } else {
    // A private key in PEM or OpenSSH form; the bytes are never echoed.
    auto begins = bytes.rfind("-----BEGIN ", 0) == 0;
    if (!begins || bytes.find("PRIVATE KEY-----") == std::string::npos)
      return "not a private key (expected -----BEGIN ... PRIVATE KEY-----; a password "
             "needs --password-stdin)";
    if (bytes.back() != '\n')
      bytes += '\n';  // ssh reads a key only with its final newline
  }
  std::string host_lines;
  for (auto h : hosts) {
    if (h.find(':') == std::string::npos)
      h += ":22";
    auto colon = h.rfind(':');
    auto host = h.substr(0, colon);
    auto port = h.substr(colon + 1);
    bool ok = !host.empty() && std::isalnum(static_cast<unsigned char>(host[0]))
              && std::all_of(host.begin(), host.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
                 })
              && !port.empty() && port.size() <= 5
              && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })
              && std::stol(port) >= 1 && std::stol(port) <= 65535;
    if (!ok)
      return "--host " + h + ": HOST or HOST:PORT (a host name or an IPv4 address)";
    host_lines += host + ":" + std::to_string(std::stol(port)) + "\n";
  }
  if (auto e = prepare_dir(dir_, true); !e.empty())
    return e;
  dir_lock lock{dir_};
  if (!lock.error().empty())
    return lock.error();
  // The hosts first: a crash in between leaves the old secret bound to the new hosts, never
  // the new secret free to go anywhere.
  auto hosts_file = dir_ / (name + ".hosts");
  if (!host_lines.empty()) {
    if (auto e = write_file(dir_, hosts_file, host_lines); !e.empty())
      return e;
  }
  if (auto e = write_file(dir_, dir_ / (name + suffix(type)), bytes); !e.empty())
    return e;
  if (host_lines.empty() && ::unlink(hosts_file.c_str()) == 0)
    safe_fs::sync_dir(dir_);
  // The other kind of the same name goes: one name, one secret.
  auto other = dir_ / (name + suffix(type == kind::key ? kind::password : kind::key));
  if (::unlink(other.c_str()) == 0)
    safe_fs::sync_dir(dir_);
  return {};
}

std::vector<secret_store::entry> secret_store::list(std::string& error) const {
  std::vector<entry> out;
  if (error = prepare_dir(dir_, false); !error.empty())
    return out;
  for (auto& file : names_in(dir_))
    for (auto type : {kind::key, kind::password}) {
      std::string sfx = suffix(type);
      if (file.size() > sfx.size() && file.compare(file.size() - sfx.size(), sfx.size(), sfx) == 0) {
        auto name = file.substr(0, file.size() - sfx.size());
        if (valid_name(name))
          out.push_back({name, type, dir_ / file, {}});
      }
    }
  return out;
}

std::optional<secret_store::entry> secret_store::find(const std::string& name,
                                                      std::string& error) const {
  if (!valid_name(name)) {
    error = "invalid secret name \"" + name + "\"";
    return std::nullopt;
  }
  if (error = prepare_dir(dir_, false); !error.empty())
    return std::nullopt;
  for (auto type : {kind::key, kind::password}) {
    auto file = dir_ / (name + suffix(type));
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0)
      continue;
    if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
      error = "secret \"" + name + "\": " + file.string()
              + " must be a regular file only its owner can read (chmod 600)";
      return std::nullopt;
    }
    entry e{name, type, file, {}};
    auto hosts = dir_ / (name + ".hosts");
    if (present(hosts)) {
      auto text = read_secret(hosts, error);
      if (!error.empty())
        return std::nullopt;
      for (auto& line : split(text, '\n'))
        if (!line.empty())
          e.hosts.push_back(line);
      if (e.hosts.empty()) {
        error = "secret \"" + name + "\": " + hosts.string() + " names no host";
        return std::nullopt;
      }
    }
    return e;
  }
  error = "secret \"" + name + "\" is not set (actorvol secret set " + name + ")";
  return std::nullopt;
}

bool secret_store::allows(const entry& e, const std::string& host, const std::string& port,
                          std::string& error) {
  if (e.hosts.empty() || std::find(e.hosts.begin(), e.hosts.end(), host + ":" + port) != e.hosts.end())
    return true;
  std::string list;
  for (auto& h : e.hosts)
    list += (list.empty() ? "" : ", ") + h;
  error = "secret \"" + e.name + "\" may only be sent to " + list + " (actorvol secret set "
          + e.name + " --host ...)";
  return false;
}

std::vector<std::string> secret_store::users(const std::string& name) const {
  if (!valid_name(name))
    return {};
  return names_in(dir_ / (name + ".uses"));
}

std::string secret_store::remove(const std::string& name, bool force) const {
  if (!valid_name(name))
    return "invalid secret name \"" + name + "\"";
  if (auto e = prepare_dir(dir_, false); !e.empty())
    return e;
  if (!present(dir_))
    return "secret \"" + name + "\" is not set";
  dir_lock lock{dir_};
  if (!lock.error().empty())
    return lock.error();
  auto used_by = users(name);
  if (!used_by.empty() && !force) {
    std::string list;
    for (auto& v : used_by)
      list += (list.empty() ? "" : ", ") + v;
    return "secret \"" + name + "\" is used by volume(s) " + list
           + ": remove them first (or --force when they are gone)";
  }
  bool removed = false;
  for (auto type : {kind::key, kind::password})
    removed = ::unlink((dir_ / (name + suffix(type))).c_str()) == 0 || removed;
  ::unlink((dir_ / (name + ".hosts")).c_str());
  auto uses = dir_ / (name + ".uses");
  for (auto& v : used_by)
    ::unlink((uses / v).c_str());
  ::rmdir(uses.c_str());
  if (!removed)
    return "secret \"" + name + "\" is not set";
  if (int e = safe_fs::sync_dir(dir_))
    return "cannot sync " + dir_.string() + ": " + os_reason(e);
  return {};
}

std::string secret_store::add_use(const std::string& name, const std::string& volume) const {
  if (auto e = prepare_dir(dir_, false); !e.empty())
    return e;
  if (!present(dir_))
    return "secret \"" + name + "\" is not set (actorvol secret set " + name + ")";
  dir_lock lock{dir_};
  if (!lock.error().empty())
    return lock.error();
  std::string error;
  if (!find(name, error))
    return error;
  auto uses = dir_ / (name + ".uses");
  if (::mkdir(uses.c_str(), 0700) != 0 && errno != EEXIST)
    return "cannot make " + uses.string() + ": " + os_reason(errno);
  int fd = ::open((uses / volume).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return "cannot record the use in " + uses.string() + ": " + os_reason(errno);
  ::close(fd);
  if (int e = safe_fs::sync_dir(uses))
    return "cannot sync " + uses.string() + ": " + os_reason(e);
  safe_fs::sync_dir(dir_);
  return {};
}

std::string secret_store::drop_use(const std::string& name, const std::string& volume) const {
  if (!valid_name(name) || !present(dir_))
    return {};
  dir_lock lock{dir_};
  if (!lock.error().empty())
    return lock.error();
  auto uses = dir_ / (name + ".uses");
  if (::unlink((uses / volume).c_str()) != 0)
    return errno == ENOENT ? std::string{} : "cannot forget the use: " + os_reason(errno);
  safe_fs::sync_dir(uses);
  if (::rmdir(uses.c_str()) == 0)
    safe_fs::sync_dir(dir_);
  return {};
}

std::string read_secret(const fs::path& file, std::string& error) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    error = "cannot read " + file.string() + ": " + os_reason(errno);
    return {};
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > max_secret)
        break;
    }
  ::close(fd);
  if (out.size() > max_secret) {
    error = file.string() + " is larger than 64 KiB";
    return {};
  }
  return out;
}

} // namespace actorvol
