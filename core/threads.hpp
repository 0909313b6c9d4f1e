#pragma once

// How actorvol's threads share a CPU. The I/O thread answers reads and hands changes to the
// actors. The threads CAF starts (its scheduler and clock, the WORKERs) run as SCHED_BATCH:
// when one wakes, it does not preempt the I/O thread but waits for the next scheduler tick
// or for the I/O thread to block. On a busy CPU the I/O thread then reads a batch of
// requests before the actors take the changes among them in one go, instead of a thread
// switch for every message. The journal's committer stays as it is: its fsync should start
// as soon as a change is queued. With a CPU to spare nothing waits: the woken thread runs
// there. (Measured on one CPU in bench/README.md.)

#include <cstddef>

namespace actorvol::threads {

/// The CPUs this process may run on (its affinity mask: taskset, a cgroup's cpuset).
size_t usable_cpus();

/// Makes the calling thread SCHED_BATCH (nice 0, no privilege needed). Processes it forks
/// inherit the class: helpers are spawned in SCHED_OTHER (adaptors/sys.cpp). Returns errno
/// or 0
/// (a seccomp filter may refuse it: the thread then stays as it was).
int batch();

} // namespace actorvol::threads
