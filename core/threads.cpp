#include "core/threads.hpp"

#include <sched.h>

#include <cerrno>

namespace actorvol::threads {

int batch() {
  sched_param param{};
  param.sched_priority = 0;
  // 0: the calling thread (Linux schedules threads, not processes).
  return ::sched_setscheduler(0, SCHED_BATCH, &param) == 0 ? 0 : errno;
}

} // namespace actorvol::threads
