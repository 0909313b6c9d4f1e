#include "core/threads.hpp"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace actorvol::threads {

int batch() {
  sched_param param{};
  param.sched_priority = 0;
  // 0: the calling thread (Linux schedules threads, not processes).
  return ::sched_setscheduler(0, SCHED_BATCH, &param) == 0 ? 0 : errno;
}

size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0)
    return std::max(1u, std::thread::hardware_concurrency());
  return static_cast<size_t>(std::max(1, CPU_COUNT(&set)));
}

} // namespace actorvol::threads
