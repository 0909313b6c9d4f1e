// ThreadSanitizer builds only (-DACTORVOL_SANITIZE=thread): tells TSan about the one
// happens-before edge it cannot see, CAF's mailbox.
//
// libcaf_core.so comes from Debian and is not instrumented. A message is built by the sender
// (make_mailbox_element, make_message: our payload is written there), pushed with an atomic
// CAS onto the receiver's lock-free inbox (scheduled_actor::enqueue, inside libcaf_core), and
// popped and handled on another thread (scheduled_actor::consume). The push is a release and
// the pop an acquire, but in uninstrumented code, so TSan reports every payload read by the
// receiver as racing with the sender's writes: about 1,400 reports in one minute of the
// integration tests, in every message type, stacks in our handlers and in CAF's headers.
//
// The same holds for the actor itself: it handles one message on one scheduler thread and
// the next on another, and what orders the two (the mailbox's try_block/unblock atomics,
// then the scheduler) is again inside libcaf_core. So each consume also acquires the actor
// before its handler runs and releases it after, which orders consecutive handlers of one
// actor (their accesses to its state) as CAF does.
//
// Instead of suppressing those (which would hide real races in the same handlers), we
// interpose the two exported virtual functions and annotate exactly that edge:
// __tsan_release(element) before the element is handed to CAF's enqueue, __tsan_acquire
// (element) before CAF's consume runs the handler on it. The executable is linked with
// -rdynamic, so the dynamic linker binds CAF's own calls (and every vtable slot) to these
// definitions; they call the real ones, found with dlsym(RTLD_NEXT). Nothing else changes:
// a race between two threads that do not talk through one message is still reported.

#include <caf/detail/sync_request_bouncer.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/scheduled_actor.hpp>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);

namespace {

template <class Fn>
Fn next_definition(const char* mangled) {
  auto f = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, mangled));
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_caf_mailbox: %s not found in libcaf_core\n", mangled);
    std::abort();
  }
  return f;
}

} // namespace

namespace caf {

void scheduled_actor::enqueue(mailbox_element_ptr ptr, execution_unit* eu) {
  using fn = void (*)(scheduled_actor*, mailbox_element_ptr, execution_unit*);
  static const fn real = next_definition<fn>(
    "_ZN3caf15scheduled_actor7enqueueESt10unique_ptrINS_15mailbox_elementENS_6detail8"
    "disposerEEPNS_14execution_unitE");
  if (ptr) {
    __tsan_acquire(ptr.get());  // a delayed message, built on another thread (below)
    __tsan_release(ptr.get());
  }
  real(this, std::move(ptr), eu);
}

invoke_message_result scheduled_actor::consume(mailbox_element& x) {
  using fn = invoke_message_result (*)(scheduled_actor*, mailbox_element&);
  static const fn real = next_definition<fn>(
    "_ZN3caf15scheduled_actor7consumeERNS_15mailbox_elementE");
  __tsan_acquire(&x);
  __tsan_acquire(this);
  auto result = real(this, x);
  __tsan_release(this);
  return result;
}

// An actor is built on the spawning thread and launched (scheduled); it is initialized (its
// behaviour made, e.g. our lambdas capturing `self`) in its first activate(), perhaps on
// another scheduler thread, and handles messages after that. Each step hands the actor over
// through CAF's scheduler queues: release it when launched, acquire and release it around
// activate(), as consume() does.
void scheduled_actor::launch(execution_unit* eu, bool lazy, bool hide) {
  using fn = void (*)(scheduled_actor*, execution_unit*, bool, bool);
  static const fn real = next_definition<fn>("_ZN3caf15scheduled_actor6launchEPNS_14execution_unitEbb");
  __tsan_release(this);
  real(this, eu, lazy, hide);
}

bool scheduled_actor::activate(execution_unit* eu) {
  using fn = bool (*)(scheduled_actor*, execution_unit*);
  static const fn real = next_definition<fn>("_ZN3caf15scheduled_actor8activateEPNS_14execution_unitE");
  __tsan_acquire(this);
  auto result = real(this, eu);
  __tsan_release(this);
  return result;
}

// A delayed message (a VOLUME's deadline) is built by the actor and handed to CAF's timer
// thread inside libcaf_core; the timer thread enqueues it when it fires, and when the
// receiver is gone by then (a VOLUME retired while idle) destroys it right there, in
// enqueue(). Release the element when it is handed over; enqueue() acquires it.
void detail::thread_safe_actor_clock::schedule_message(time_point t, strong_actor_ptr receiver,
                                                       mailbox_element_ptr content) {
  using fn = void (*)(detail::thread_safe_actor_clock*, time_point, strong_actor_ptr,
                      mailbox_element_ptr);
  static const fn real = next_definition<fn>(
    "_ZN3caf6detail23thread_safe_actor_clock16schedule_messageENSt6chrono10time_pointINS2_3_"
    "V212steady_clockENS2_8durationIlSt5ratioILl1ELl1000000000EEEEEENS_13intrusive_ptrINS_"
    "19actor_control_blockEEESt10unique_ptrINS_15mailbox_elementENS0_8disposerEE");
  if (content)
    __tsan_release(content.get());
  real(this, t, std::move(receiver), std::move(content));
}

// A terminating actor's cleanup closes its mailbox and hands every element still in it (a
// late response, e.g. a worker's job_result for a VOLUME that has stopped) to CAF's
// sync_request_bouncer, which answers requests with an error; the element is destroyed
// right after, on this thread, without consume(). Acquire it there, as consume() does.
void detail::sync_request_bouncer::operator()(const mailbox_element& e) const {
  using fn = void (*)(const detail::sync_request_bouncer*, const mailbox_element&);
  static const fn real = next_definition<fn>(
    "_ZNK3caf6detail20sync_request_bouncerclERKNS_15mailbox_elementE");
  __tsan_acquire(const_cast<mailbox_element*>(&e));
  real(this, e);
}

} // namespace caf

// What remains after the annotations above, in the integration tests, is one kind of report:
// the destruction of an actor (caf::actor_storage<...> frees it, caf::local_actor's
// destructor runs) against an earlier access by the actor's last handler on another thread.
// The actor is destroyed by whichever thread drops the last strong reference, ordered by the
// atomic reference count of its actor_control_block, which lives in libcaf_core
// (intrusive_ptr_release(actor_control_block*)) and is not instrumented. Only reports with a
// frame in CAF's actor destruction are suppressed; a race in a handler with anything else is
// still reported.
//
// TSan keeps only the last frames of the earlier access, and reports on CAF's frees and
// memsets (interceptors called from libcaf_core) often show no more than the interceptor
// and a CAF frame: the same actor destruction (~scheduled_actor), and allocator calls made
// inside libcaf_core, are matched by those frames.
//
// A delayed message (a VOLUME's deadline, atom::timeout) is built by the actor and handed to
// CAF's timer thread (caf::detail::simple_actor_clock) under that clock's own mutex, inside
// libcaf_core; the timer thread destroys it when it fires or at shutdown. Reports with the
// clock's frame are that hand-over.
//
// An actor's attachables (caf::default_attachable, its monitors and links) and the memory
// of an actor CAF builds in caf::make_actor are handed between threads by the same
// uninstrumented reference counts: reports with those frames are CAF's own hand-overs.
//
// An actor's control block (caf::actor_control_block) is released by whichever thread drops
// the last reference; intrusive_ptr_release reads the actor's vptr to destroy it, against
// the constructor's write in spawn_impl on the spawning thread. The two are ordered by the
// same uninstrumented reference count (the spawner's handle is passed on through CAF's
// mailboxes): reports with the release frame are that hand-over.
//
// The make_actor frame names a template instantiated with our whole typed interface: tens of
// kilobytes once demangled, which the symbolizer may not hand back whole (CI saw a report whose
// frame began mid-name, with the next frame unsymbolized). Those reports are matched by the
// header's file name as well as by the function's.
//
// CAF's own group subscriptions (caf::mixin::subscriber, a hash set in every event-based and
// scoped actor; actorvol uses no groups) are built in an actor's constructor and cleared in
// its cleanup on another thread, ordered by the same uninstrumented reference count: both
// sides of those reports are CAF code, suppressed by that frame.
extern "C" const char* __tsan_default_suppressions() {
  return "race:caf::actor_storage\n"
         "race:caf::local_actor::~local_actor\n"
         "race:caf::mixin::subscriber\n"
         "race:caf::detail::simple_actor_clock\n"
         "race:caf::default_attachable\n"
         "race:caf::make_actor\n"
         "race:/caf/make_actor.hpp\n"
         "race:/caf/actor_storage.hpp\n"
         "race:caf::intrusive_ptr_release\n"
         "race:caf::scheduled_actor::~scheduled_actor\n"
         "called_from_lib:libcaf_core.so.0.17.6\n";
}
