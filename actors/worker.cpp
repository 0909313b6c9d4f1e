#include "actors/worker.hpp"

#include "core/metrics.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace actorvol {

worker_actor::behavior_type blocking_worker(worker_actor::pointer) {
  return {
    [](atom::run, job& j) -> job_result {
      // Counted while it runs (the metric blocking_jobs_in_flight).
      struct in_flight {
        in_flight() {
          metrics::service().blocking_jobs.add(1);
        }
        ~in_flight() {
          metrics::service().blocking_jobs.add(-1);
        }
      } counted;
      // A throwing adaptor fails its request; it never takes the worker down.
      try {
        return j.run();
      } catch (const std::exception& e) {
        job_result r;
        r.error = make_error(ec::backend_failed, "", std::string{"internal error: "} + e.what());
        return r;
      } catch (...) {
        job_result r;
        r.error = make_error(ec::backend_failed, "", "internal error");
        return r;
      }
    },
  };
}

namespace {

using pool_ptr = worker_pool_actor::stateful_pointer<worker_pool_state>;

worker_actor grow(pool_ptr self) {
  ++self->state.total;
  // Linked: they go when the pool goes (a worker stuck in a hung mount goes when its call
  // returns, or with the process).
  return self->spawn<caf::detached + caf::linked>(blocking_worker);
}

// Has the pool trim itself in 2 s, while it holds more than the warm count.
void schedule_trim(pool_ptr self) {
  auto& st = self->state;
  if (st.trimming || st.total <= st.warm)
    return;
  st.trimming = true;
  self->delayed_send(self, std::chrono::seconds(2), atom::timeout::value);
}

// Ends the workers above the warm count that stayed idle through the last period: the
// busiest moment of that period did not need them.
void trim(pool_ptr self) {
  auto& st = self->state;
  st.trimming = false;
  auto surplus = std::min(st.least_idle, st.idle.size());
  surplus = surplus > st.warm ? surplus - st.warm : 0;
  for (; surplus > 0; --surplus) {
    auto w = st.idle.back();
    st.idle.pop_back();
    --st.total;
    self->unlink_from(w);
    self->send_exit(w, caf::exit_reason::user_shutdown);
  }
  st.least_idle = st.idle.size();
  schedule_trim(self);
}

void dispatch(pool_ptr self) {
  auto& st = self->state;
  while (!st.queue.empty()) {
    if (st.idle.empty() && st.total < st.max) {
      st.idle.push_back(grow(self));
      schedule_trim(self);
    }
    if (st.idle.empty())
      return;  // every one of `max` workers is busy: the job waits for the first free
    auto w = st.idle.back();
    st.idle.pop_back();
    st.least_idle = std::min(st.least_idle, st.idle.size());
    auto p = std::move(st.queue.front());
    st.queue.pop_front();
    auto done = [self, w, promise = p.promise](job_result r) mutable {
      promise.deliver(std::move(r));
      self->state.idle.push_back(w);
      dispatch(self);
    };
    self->request(w, caf::infinite, atom::run::value, std::move(p.work))
      .then([done](job_result& r) mutable { done(std::move(r)); },
            [done](caf::error& err) mutable { {
              job_result r;
              r.error = std::move(err);
              done(std::move(r));
            } });
  }
}

} // namespace

worker_pool_actor::behavior_type worker_pool(pool_ptr self, size_t warm, size_t max) {
  auto& st = self->state;
  st.warm = std::max<size_t>(warm, 1);
  st.max = std::max(max, st.warm);
  for (size_t i = 0; i < st.warm; ++i)
    st.idle.push_back(grow(self));
  st.least_idle = st.idle.size();
  return {
    [self](atom::run, job& j) -> caf::typed_response_promise<job_result> {
      auto rp = self->make_response_promise<job_result>();
      self->state.queue.push_back({std::move(j), rp});
      dispatch(self);
      return rp;
    },
    [self](atom::timeout) { trim(self); },
  };
}

} // namespace actorvol
