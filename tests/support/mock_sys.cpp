// mock_sys: faults, what happened, and the simulated mount table.

#include "support/mock_sys.hpp"

#include "support/mock_sys_util.hpp"

#include <gtest/gtest.h>

#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace actorvol::test {

using namespace mock_util;

namespace {

constexpr unsigned long kPropagation = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

// What a mount source names, as the kernel resolves it: a /proc/self/fd/N source is the file
// open at N (recorded in the table by that path), any other source itself.
std::string named(const std::string& source) {
  if (source.rfind("/proc/self/fd/", 0) != 0)
    return source;
  char buf[4096];
  auto n = ::readlink(source.c_str(), buf, sizeof(buf) - 1);
  return n < 0 ? source : std::string(buf, static_cast<size_t>(n));
}

} // namespace

std::string mock_sys::call::text() const {
  std::string out = op + "(";
  for (size_t i = 0; i < args.size(); ++i)
    out += (i ? ", " : "") + args[i];
  return out + ") = " + std::to_string(result);
}

mock_sys::mock_sys() = default;

// -- faults -------------------------------------------------------------------------------

void mock_sys::fail(const std::string& op, int err, int nth) {
  std::lock_guard lock(mutex_);
  faults_.push_back({op, nth, 0, err, 0, {}, false});
}

void mock_sys::no_effect(const std::string& op, int nth) {
  std::lock_guard lock(mutex_);
  faults_.push_back({op, nth, 0, 0, 0, {}, false});
}

void mock_sys::script(const std::string& program, int code, std::string output, int nth,
                      bool effect) {
  std::lock_guard lock(mutex_);
  scripts_.push_back({program, nth, 0, 0, code, std::move(output), effect});
}

void mock_sys::set_free_space(uint64_t bytes) {
  std::lock_guard lock(mutex_);
  free_space_ = bytes;
}

void mock_sys::use_default_bind(bool yes) {
  std::lock_guard lock(mutex_);
  default_bind_ = yes;
}

void mock_sys::push_mount(const std::string& target, mount_entry m) {
  std::lock_guard lock(mutex_);
  table_[norm(target)].push_back(std::move(m));
}

// -- what happened ------------------------------------------------------------------------

std::vector<mock_sys::call> mock_sys::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::vector<mock_sys::call> mock_sys::calls_of(const std::string& op) const {
  std::lock_guard lock(mutex_);
  std::vector<call> out;
  std::copy_if(calls_.begin(), calls_.end(), std::back_inserter(out),
               [&](const call& c) { return c.op == op; });
  return out;
}

size_t mock_sys::count(const std::string& op) const {
  return calls_of(op).size();
}

long mock_sys::first(const std::string& op) const {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < calls_.size(); ++i)
    if (calls_[i].op == op)
      return static_cast<long>(i);
  return -1;
}

std::vector<mock_sys::mount_entry> mock_sys::mounts_on(const std::string& target) const {
  std::lock_guard lock(mutex_);
  auto i = table_.find(norm(target));
  return i == table_.end() ? std::vector<mount_entry>{} : i->second;
}

size_t mock_sys::mount_count() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (auto& [target, stack] : table_)
    n += stack.size();
  return n;
}

size_t mock_sys::open_files() const {
  std::lock_guard lock(mutex_);
  return open_.size();
}

std::string mock_sys::trace() const {
  std::string out;
  for (auto& c : calls())
    out += c.text() + "\n";
  return out;
}

// -- bookkeeping --------------------------------------------------------------------------

std::optional<mock_sys::rule> mock_sys::match(std::vector<rule>& rules, const std::string& op) {
  std::optional<rule> hit;
  for (auto& r : rules) {
    if (r.op != op || (r.nth != 0 && r.seen >= r.nth))
      continue;
    ++r.seen;
    if (r.nth == 0 || r.seen == r.nth)
      hit = r;  // the rule given last wins
  }
  return hit;
}

mock_sys::step mock_sys::enter(const std::string& op, std::vector<std::string> args,
                               unsigned long flags) {
  calls_.push_back({op, std::move(args), flags, 0});
  return {calls_.size() - 1, match(faults_, op)};
}

int mock_sys::done(const step& s, int rc) {
  calls_[s.index].result = rc;
  return rc;
}

bool mock_sys::outside(const std::string& path, const char* op) const {
  if (at_or_under(norm(path), norm(root().string())))
    return false;
  ADD_FAILURE() << "mock_sys: " << op << " outside its temp dir " << root() << ": " << path;
  return true;
}

int mock_sys::mount_dir_check(const std::string& target) const {
  if (outside(target, "mount"))
    return EACCES;
  mode_t mode = 0;
  if (int e = real_stat(target, true, mode))
    return e;
  return S_ISDIR(mode) ? 0 : ENOTDIR;
}

// -- the mount table ----------------------------------------------------------------------

int mock_sys::remount(const std::string& target, unsigned long flags, const std::string& data) {
  auto i = table_.find(norm(target));
  if (i == table_.end())
    return EINVAL;  // not a mount point
  auto& top = i->second.back();
  top.flags = flags & ~(MS_REMOUNT | MS_BIND | MS_REC);
  if ((flags & MS_BIND) == 0)
    top.data = data;
  return 0;
}

int mock_sys::mount(const std::string& source, const std::string& target,
                    const std::string& type, unsigned long flags, const std::string& data) {
  std::lock_guard lock(mutex_);
  auto s = enter("mount", {source, target, type, hex(flags), data}, flags);
  if (s.hit)
    return done(s, s.hit->err);
  if ((flags & MS_REMOUNT) != 0)
    return done(s, remount(target, flags, data));
  if ((flags & kPropagation) != 0) {
    auto i = table_.find(norm(target));
    if (i == table_.end())
      return done(s, EINVAL);
    i->second.back().propagation = flags & (kPropagation | MS_REC);
    return done(s, 0);
  }
  if (int e = mount_dir_check(target))
    return done(s, e);
  mode_t mode = 0;
  if ((flags & MS_BIND) != 0) {
    if (int e = real_stat(source, true, mode))
      return done(s, e);
    table_[norm(target)].push_back({named(source), "", 0, 0, ""});  // the kernel ignores ro, ...
    return done(s, 0);
  }
  if (type.empty())
    return done(s, EINVAL);
  table_[norm(target)].push_back({named(source), type, flags & ~MS_REC, 0, data});
  return done(s, 0);
}

int mock_sys::bind(const std::string& source, const std::string& target, unsigned long flags) {
  std::lock_guard lock(mutex_);
  auto s = enter("bind", {source, target, hex(flags)}, flags);
  if (s.hit)
    return done(s, s.hit->err);
  if (default_bind_)
    return done(s, sys_calls::bind(source, target, flags));
  if (int e = mount_dir_check(target))
    return done(s, e);
  mode_t mode = 0;
  if (int e = real_stat(source, true, mode))
    return done(s, e);
  table_[norm(target)].push_back({named(source), "", flags & ~MS_REC, 0, ""});
  return done(s, 0);
}

int mock_sys::unmount(const std::string& target) {
  std::lock_guard lock(mutex_);
  auto s = enter("unmount", {target});
  if (s.hit)
    return done(s, s.hit->err);
  auto i = table_.find(norm(target));
  if (i == table_.end())
    return done(s, EINVAL);  // not a mount point
  i->second.pop_back();
  if (i->second.empty())
    table_.erase(i);
  return done(s, 0);
}

bool mock_sys::is_mountpoint(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto s = enter("is_mountpoint", {path});
  return done(s, table_.count(norm(path)) ? 1 : 0) == 1;
}

std::vector<std::string> mock_sys::mounts_under(const std::string& dir) {
  std::lock_guard lock(mutex_);
  auto s = enter("mounts_under", {dir});
  std::vector<std::string> out;
  for (auto& [target, stack] : table_)
    if (at_or_under(target, norm(dir)))
      out.insert(out.end(), stack.size(), target);
  std::stable_sort(out.begin(), out.end(),
                   [](auto& a, auto& b) { return a.size() > b.size(); });
  done(s, static_cast<int>(out.size()));
  return out;
}

} // namespace actorvol::test
