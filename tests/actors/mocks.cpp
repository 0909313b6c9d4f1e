#include "actors/mocks.hpp"

#include "actors/world.hpp"

#include <exception>

namespace actorvol::harness {

request create(std::string volume, volume_opts opts) {
  return {lin::op_kind::create, std::move(volume), {}, std::move(opts)};
}
request mount(std::string volume, std::string id) {
  return {lin::op_kind::mount, std::move(volume), std::move(id), {}};
}
request unmount(std::string volume, std::string id) {
  return {lin::op_kind::unmount, std::move(volume), std::move(id), {}};
}
request remove_volume(std::string volume) {
  return {lin::op_kind::remove, std::move(volume), {}, {}};
}
request get(std::string volume) {
  return {lin::op_kind::get, std::move(volume), {}, {}};
}
request path(std::string volume) {
  return {lin::op_kind::path, std::move(volume), {}, {}};
}
request list() {
  return {lin::op_kind::list, {}, {}, {}};
}

namespace detail {

std::string mock_mountpoint(const std::string& name) {
  return "/mock/" + name + "/_data";
}

// -- the mock adaptor --------------------------------------------------------------------

bool mock_adaptor::accepts(const volume_opts&) const {
  return true;
}

caf::error mock_adaptor::validate(const volume_spec& v) const {
  for (auto& [k, val] : v.opts)
    if (k == "bogus")
      return make_error(ec::unknown_option, v.name, k);
  return caf::none;
}

caf::error mock_adaptor::create(const volume_spec& v) {
  if (auto err = injected(v.name, "create"))
    return err;
  auto& x = vols[v.name];
  if (x.created)
    violations.push_back("adaptor: create of \"" + v.name + "\", which exists");
  x.created = true;
  return caf::none;
}

caf::error mock_adaptor::remove(const volume_spec& v) {
  if (auto err = injected(v.name, "remove"))
    return err;
  auto& x = vols[v.name];
  if (x.attached)
    violations.push_back("adaptor: remove of \"" + v.name + "\" while attached");
  x.created = false;
  return caf::none;
}

caf::expected<std::string> mock_adaptor::mount(const volume_spec& v) {
  if (auto err = injected(v.name, "mount"))
    return err;
  auto& x = vols[v.name];
  if (!x.created)
    violations.push_back("adaptor: mount of \"" + v.name + "\", which was never created");
  x.attached = !quick_mode;  // quick: a look at the directory, which stays as it is
  return mock_mountpoint(v.name);
}

caf::error mock_adaptor::unmount(const volume_spec& v) {
  if (auto err = injected(v.name, "unmount"))
    return err;
  vols[v.name].attached = false;
  return caf::none;
}

status_map mock_adaptor::status(const volume_spec&) {
  return {{"backend", "mock"}};
}

bool faulted(const std::vector<fault>& faults, const std::string& volume, const std::string& op,
             int nth) {
  for (auto& f : faults)
    if (f.volume == volume && f.op == op && f.nth == nth)
      return true;
  return false;
}

caf::error mock_adaptor::injected(const std::string& name, const std::string& op) {
  if (faulted(faults, name, op, ++vols[name].calls[op]))
    return make_error(ec::backend_failed, name, op + " failed: injected fault");
  return caf::none;
}

// -- the mock WORKER and its one-shot runners --------------------------------------------

worker_actor::behavior_type runner(worker_actor::stateful_pointer<runner_state> self,
                                   world* w, std::string volume) {
  self->state.w = w;
  self->state.volume = std::move(volume);
  return {
    [self](atom::run, job& j) -> job_result {
      job_result r;
      try {
        r = j.run();
      } catch (const std::exception& e) {
        r.error = make_error(ec::backend_failed, "", std::string{"internal error: "} + e.what());
      }
      self->state.w->job_ran(self->state.volume);
      self->quit();
      return r;
    },
  };
}

worker_actor::behavior_type mock_worker(worker_actor::stateful_pointer<mock_worker_state> self,
                                        world* w) {
  self->state.w = w;
  return {
    [self](atom::run, job& j) -> caf::delegated<job_result> {
      auto vol = self->state.w->volume_of(self->current_sender());
      self->state.w->job_started(vol);
      auto r = self->spawn<caf::lazy_init>(runner, self->state.w, vol);
      self->state.w->runner_spawned(r.id(), vol);
      return self->delegate(r, atom::run::value, std::move(j));
    },
  };
}

// -- the scripted clients ----------------------------------------------------------------

namespace {

void issue(client_impl* self);

void done(client_impl* self) {
  ++self->state.next;
  issue(self);
}

// The handler of a reply without a payload (Create, Unmount, Remove).
auto ok_reply(client_impl* self, world* w, size_t i) {
  return [self, w, i](atom::ok) {
    w->end_op(i);
    done(self);
  };
}

// The handler of a reply that is a mountpoint (Mount, Path).
auto mountpoint_reply(client_impl* self, world* w, size_t i) {
  return [self, w, i](std::string& mp) {
    w->end_op(i).mountpoint = mp;
    done(self);
  };
}

auto get_reply(client_impl* self, world* w, size_t i) {
  return [self, w, i](volume_info& info) {
    auto& op = w->end_op(i);
    op.mountpoint = info.mountpoint;
    op.mounts = static_cast<int64_t>(info.mounts);
    done(self);
  };
}

auto list_reply(client_impl* self, world* w, size_t i) {
  return [self, w, i](view_listing& listed) {
    auto& op = w->end_op(i);
    for (auto& e : listed->entries) {
      op.listed.push_back(e->info.name);
      op.listed_mounts.push_back(static_cast<int64_t>(e->info.mounts));
    }
    done(self);
  };
}

// Sends the next request of the script, if any; its reply sends the one after.
void issue(client_impl* self) {
  auto& st = self->state;
  if (st.next >= st.script.size())
    return;
  auto* w = st.w;
  auto& rq = st.script[st.next];
  auto i = w->begin_op(st.index, rq);
  auto reg = w->registry_handle();
  auto fail = [self, w, i](caf::error& err) {
    w->end_err(i, err);
    done(self);
  };
  switch (rq.kind) {
    case lin::op_kind::create:
      self->request(reg, caf::infinite, atom::create::value, rq.volume, rq.opts)
        .then(ok_reply(self, w, i), fail);
      return;
    case lin::op_kind::mount:
      self->request(reg, caf::infinite, atom::mount::value, rq.volume, rq.id)
        .then(mountpoint_reply(self, w, i), fail);
      return;
    case lin::op_kind::unmount:
      self->request(reg, caf::infinite, atom::unmount::value, rq.volume, rq.id)
        .then(ok_reply(self, w, i), fail);
      return;
    case lin::op_kind::remove:
      self->request(reg, caf::infinite, atom::remove::value, rq.volume)
        .then(ok_reply(self, w, i), fail);
      return;
    case lin::op_kind::get:
      self->request(reg, caf::infinite, atom::get::value, rq.volume)
        .then(get_reply(self, w, i), fail);
      return;
    case lin::op_kind::path:
      self->request(reg, caf::infinite, atom::path::value, rq.volume)
        .then(mountpoint_reply(self, w, i), fail);
      return;
    case lin::op_kind::list:
      self->request(reg, caf::infinite, atom::list::value)
        .then(list_reply(self, w, i), fail);
      return;
  }
}

} // namespace

caf::behavior client(client_impl* self, world* w, int index, std::vector<request> script) {
  self->state.w = w;
  self->state.index = index;
  self->state.script = std::move(script);
  issue(self);
  return {};  // the client lives while a request is open, and ends after its script
}

} // namespace detail

} // namespace actorvol::harness
