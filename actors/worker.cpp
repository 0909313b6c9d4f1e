#include "actors/worker.hpp"

#include <caf/all.hpp>

namespace actorvol {

worker_actor::behavior_type blocking_worker(worker_actor::pointer) {
  return {
    [](atom::run, job& j) -> job_result {
      // A throwing adaptor fails its request; it never takes the worker down.
      try {
        return j.run();
      } catch (const std::exception& e) {
        return {make_error(ec::backend_failed, "", std::string{"internal error: "} + e.what()),
                {}};
      } catch (...) {
        return {make_error(ec::backend_failed, "", "internal error"), {}};
      }
    },
  };
}

namespace {

void dispatch(worker_actor::stateful_pointer<worker_pool_state> self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queue.empty()) {
    auto w = st.idle.back();
    st.idle.pop_back();
    auto p = std::move(st.queue.front());
    st.queue.pop_front();
    auto done = [self, w, promise = p.promise](job_result r) mutable {
      promise.deliver(std::move(r));
      self->state.idle.push_back(w);
      dispatch(self);
    };
    self->request(w, caf::infinite, atom::run::value, std::move(p.work))
      .then([done](job_result& r) mutable { done(std::move(r)); },
            [done](caf::error& err) mutable { done(job_result{std::move(err), {}}); });
  }
}

} // namespace

worker_actor::behavior_type
worker_pool(worker_actor::stateful_pointer<worker_pool_state> self, size_t size) {
  for (size_t i = 0; i < std::max<size_t>(size, 1); ++i)
    self->state.idle.push_back(self->spawn<caf::detached>(blocking_worker));
  // The workers are threads: they go when the pool goes.
  auto workers = self->state.idle;
  self->attach_functor([workers] {
    for (auto& w : workers)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  });
  return {
    [self](atom::run, job& j) -> caf::typed_response_promise<job_result> {
      auto rp = self->make_response_promise<job_result>();
      self->state.queue.push_back({std::move(j), rp});
      dispatch(self);
      return rp;
    },
  };
}

} // namespace actorvol
