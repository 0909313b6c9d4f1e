#include "adaptors/options.hpp"

#include <sys/mount.h>

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <map>

namespace actorvol::options {

namespace {

// Digits only (no blank, sign or prefix that strtoul would take), at most `max`.
bool whole_number(const std::string& s, unsigned long max, unsigned long& out, int base = 10) {
  if (s.empty() || s.size() > 20)
    return false;
  for (char c : s)
    if (c < '0' || c >= static_cast<char>('0' + base))
      return false;
  errno = 0;
  out = std::strtoul(s.c_str(), nullptr, base);
  return errno == 0 && out <= max;
}

} // namespace

std::string value(const volume_spec& v, const std::string& key) {
  auto i = v.opts.find(key);
  return i == v.opts.end() ? std::string{} : i->second;
}

caf::error only(const volume_spec& v, const std::set<std::string>& known) {
  for (auto& [key, value] : v.opts)
    if (known.count(key) == 0)
      return make_error(ec::unknown_option, v.name, key);
  return caf::none;
}

caf::error check_ownership(const volume_spec& v) {
  unsigned long x;
  for (auto key : {"uid", "gid"})
    if (auto i = v.opts.find(key); i != v.opts.end() && !whole_number(i->second, 0xfffffffe, x))
      return make_error(ec::bad_option, v.name,
                        std::string{key} + "=" + i->second
                          + ": must be a whole number from 0 to 4294967294");
  if (auto i = v.opts.find("mode"); i != v.opts.end() && !whole_number(i->second, 07777, x, 8))
    return make_error(ec::bad_option, v.name,
                      "mode=" + i->second + ": must be an octal mode such as 0755");
  return caf::none;
}

caf::error apply_ownership(sys_calls& sys, const volume_spec& v,
                           const std::filesystem::path& dir) {
  auto get = [&](const char* key, int base) -> long {
    auto i = v.opts.find(key);
    return i == v.opts.end() ? -1 : static_cast<long>(std::strtoul(i->second.c_str(), nullptr, base));
  };
  auto uid = get("uid", 10), gid = get("gid", 10), mode = get("mode", 8);
  if (uid >= 0 || gid >= 0)
    if (int e = sys.chown(dir.string(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)))
      return make_error(ec::backend_failed, v.name,
                        "chown of " + dir.string() + " failed: " + os_reason(e));
  if (mode >= 0)
    if (int e = sys.chmod(dir.string(), static_cast<mode_t>(mode)))
      return make_error(ec::backend_failed, v.name,
                        "chmod of " + dir.string() + " failed: " + os_reason(e));
  return caf::none;
}

uint64_t parse_size(const std::string& text) {
  if (text.empty())
    return 0;
  unsigned shift = 0;
  auto digits = text;
  switch (text.back()) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
  }
  if (shift != 0)
    digits.pop_back();
  unsigned long n;
  if (!whole_number(digits, ~0ul, n) || n == 0)
    return 0;
  if (n > (std::numeric_limits<uint64_t>::max() >> 1) >> shift)
    return 0;  // would overflow (or not fit off_t)
  return static_cast<uint64_t>(n) << shift;
}

bool mount_options::bind() const {
  return (flags & MS_BIND) != 0;
}

mount_options parse_mount_options(const std::string& o) {
  // The words Docker's local driver (moby/sys/mount) knows: {clears?, flag}.
  static const std::map<std::string, std::pair<bool, unsigned long>> flags = {
    {"defaults", {false, 0}},          {"ro", {false, MS_RDONLY}},
    {"rw", {true, MS_RDONLY}},         {"suid", {true, MS_NOSUID}},
    {"nosuid", {false, MS_NOSUID}},    {"dev", {true, MS_NODEV}},
    {"nodev", {false, MS_NODEV}},      {"exec", {true, MS_NOEXEC}},
    {"noexec", {false, MS_NOEXEC}},    {"sync", {false, MS_SYNCHRONOUS}},
    {"async", {true, MS_SYNCHRONOUS}}, {"dirsync", {false, MS_DIRSYNC}},
    {"mand", {false, MS_MANDLOCK}},    {"nomand", {true, MS_MANDLOCK}},
    {"atime", {true, MS_NOATIME}},     {"noatime", {false, MS_NOATIME}},
    {"diratime", {true, MS_NODIRATIME}}, {"nodiratime", {false, MS_NODIRATIME}},
    {"bind", {false, MS_BIND}},        {"rbind", {false, MS_BIND | MS_REC}},
    {"relatime", {false, MS_RELATIME}}, {"norelatime", {true, MS_RELATIME}},
    {"strictatime", {false, MS_STRICTATIME}}, {"nostrictatime", {true, MS_STRICTATIME}},
  };
  static const std::map<std::string, unsigned long> propagation = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  mount_options out;
  for (auto& item : split(o, ',')) {
    if (auto i = flags.find(item); i != flags.end()) {
      if (i->second.first)
        out.flags &= ~i->second.second;
      else
        out.flags |= i->second.second;
    } else if (auto p = propagation.find(item); p != propagation.end()) {
      out.propagation = p->second;
    } else {
      if (!out.data.empty())
        out.data += ',';
      out.data += item;
    }
  }
  return out;
}

} // namespace actorvol::options
