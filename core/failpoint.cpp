#include "core/failpoint.hpp"

#include "core/error.hpp"
#include "core/types.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <vector>

namespace actorvol::failpoint {

namespace {

struct action {
  enum kind_t { delay, error, panic } kind;
  long millis = 0;
  std::string message;
  // "N*action" fires for the first N hits only; -1: every hit.
  std::shared_ptr<std::atomic<long>> remaining;
};

using table = std::map<std::string, action>;

// Written once at start-up (before any worker runs); read by workers.
std::atomic<const table*> current{nullptr};

// An errno name (EIO, ENOSPC, ...) becomes its OS reason; any other text stays as it is.
std::string errno_text(const std::string& msg) {
  static const std::map<std::string, int> names = {
    {"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EBUSY", EBUSY},   {"EACCES", EACCES},
    {"EPERM", EPERM},   {"ENOENT", ENOENT}, {"EEXIST", EEXIST}, {"EROFS", EROFS},
    {"EINVAL", EINVAL}, {"ENOMEM", ENOMEM}, {"ENAMETOOLONG", ENAMETOOLONG},
  };
  auto i = names.find(msg);
  return i == names.end() ? msg : os_reason(i->second);
}

} // namespace

std::string configure(const std::string& spec) {
  auto t = std::make_unique<table>();
  for (auto& item : split(spec, ';')) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return "failpoint \"" + item + "\": expected name=action";
    auto name = item.substr(0, eq);
    auto act = item.substr(eq + 1);
    long times = -1;
    if (auto star = act.find('*'); star != std::string::npos && star < act.find('(')) {
      char* stop = nullptr;
      auto count = act.substr(0, star);
      times = std::strtol(count.c_str(), &stop, 10);
      if (count.empty() || *stop != '\0' || times < 1)
        return "failpoint \"" + item + "\": N*action takes a count of at least 1";
      act = act.substr(star + 1);
    }
    auto open = act.find('(');
    auto verb = act.substr(0, open);
    std::string arg;
    if (open != std::string::npos) {
      if (act.back() != ')')
        return "failpoint \"" + item + "\": missing ')'";
      arg = act.substr(open + 1, act.size() - open - 2);
    }
    action a{action::panic, 0, {}, std::make_shared<std::atomic<long>>(times)};
    if (verb == "delay") {
      char* stop = nullptr;
      a.kind = action::delay;
      a.millis = std::strtol(arg.c_str(), &stop, 10);
      if (arg.empty() || *stop != '\0' || a.millis < 0)
        return "failpoint \"" + item + "\": delay takes milliseconds";
    } else if (verb == "error") {
      a.kind = action::error;
      a.message = errno_text(arg.empty() ? "injected failure" : arg);
    } else if (verb == "panic") {
      a.kind = action::panic;
    } else {
      return "failpoint \"" + item + "\": unknown action \"" + verb + "\"";
    }
    (*t)[name] = a;
  }
  // The old table is leaked on purpose: a worker may still be reading it.
  current.store(t->empty() ? nullptr : t.release(), std::memory_order_release);
  return "";
}

std::string configure_from_env() {
  auto spec = std::getenv("ACTORVOL_FAILPOINTS");
  return spec ? configure(spec) : std::string{};
}

bool set(const char* name) {
  auto t = current.load(std::memory_order_acquire);
  return t != nullptr && t->count(name) > 0;
}

std::string hit(const char* name) {
  auto t = current.load(std::memory_order_acquire);
  if (t == nullptr)
    return {};
  auto i = t->find(name);
  if (i == t->end())
    return {};
  auto& left = *i->second.remaining;
  for (long n = left.load(); n >= 0;)
    if (n == 0)
      return {};
    else if (left.compare_exchange_weak(n, n - 1))
      break;
  switch (i->second.kind) {
    case action::delay:
      std::this_thread::sleep_for(std::chrono::milliseconds(i->second.millis));
      return {};
    case action::error:
      return i->second.message;
    case action::panic:
      std::abort();
  }
  return {};
}

} // namespace actorvol::failpoint
