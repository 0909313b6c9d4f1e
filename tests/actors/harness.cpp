#include "actors/harness.hpp"

#include "actors/registry.hpp"
#include "actors/store.hpp"
#include "actors/volume.hpp"
#include "adaptors/catalog.hpp"
#include "linearizability/checker.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <unistd.h>

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

std::string exploration::summary() const {
  std::ostringstream os;
  os << schedules << " schedules explored";
  if (pruned)
    os << " (+" << pruned << " pruned by sleep sets)";
  os << ", " << steps << " steps, max depth " << max_depth << ", " << seconds << " s";
  if (bounded)
    os << " [stopped at the budget]";
  return os.str();
}

namespace {

namespace fs = std::filesystem;

std::string mock_mountpoint(const std::string& name) {
  return "/mock/" + name + "/_data";
}

// -- the mock adaptor --------------------------------------------------------------------

class mock_adaptor : public adaptor {
public:
  struct vol {
    bool created = false;
    bool attached = false;
    std::map<std::string, int> calls;
  };

  std::map<std::string, vol> vols;
  std::vector<fault> faults;
  std::vector<std::string> violations;

  bool accepts(const volume_opts&) const override {
    return true;
  }
  caf::error validate(const volume_spec& v) const override {
    for (auto& [k, val] : v.opts)
      if (k == "bogus")
        return make_error(ec::unknown_option, v.name, k);
    return caf::none;
  }
  caf::error create(const volume_spec& v) override {
    if (auto err = injected(v.name, "create"))
      return err;
    auto& x = vols[v.name];
    if (x.created)
      violations.push_back("adaptor: create of \"" + v.name + "\", which exists");
    x.created = true;
    return caf::none;
  }
  caf::error remove(const volume_spec& v) override {
    if (auto err = injected(v.name, "remove"))
      return err;
    auto& x = vols[v.name];
    if (x.attached)
      violations.push_back("adaptor: remove of \"" + v.name + "\" while attached");
    x.created = false;
    return caf::none;
  }
  caf::expected<std::string> mount(const volume_spec& v) override {
    if (auto err = injected(v.name, "mount"))
      return err;
    auto& x = vols[v.name];
    if (!x.created)
      violations.push_back("adaptor: mount of \"" + v.name + "\", which was never created");
    x.attached = true;
    return mock_mountpoint(v.name);
  }
  caf::error unmount(const volume_spec& v) override {
    if (auto err = injected(v.name, "unmount"))
      return err;
    vols[v.name].attached = false;
    return caf::none;
  }
  status_map status(const volume_spec&) override {
    return {{"backend", "mock"}};
  }

private:
  caf::error injected(const std::string& name, const std::string& op) {
    int n = ++vols[name].calls[op];
    for (auto& f : faults)
      if (f.volume == name && f.op == op && f.nth == n)
        return make_error(ec::backend_failed, name, op + " failed: injected fault");
    return caf::none;
  }
};

using volume_impl = volume_actor::stateful_base<volume_state>;
using registry_impl = registry_actor::stateful_base<registry_state>;

class world;

// -- the mock WORKER and its one-shot runners --------------------------------------------

struct runner_state {
  world* w = nullptr;
  std::string volume;
  static inline const char* name = "runner";
};
using runner_impl = worker_actor::stateful_base<runner_state>;

struct mock_worker_state {
  world* w = nullptr;
  static inline const char* name = "mock-worker";
};
using mock_worker_impl = worker_actor::stateful_base<mock_worker_state>;

struct client_state {
  world* w = nullptr;
  int index = 0;
  std::vector<request> script;
  size_t next = 0;
  static inline const char* name = "client";
};
using client_impl = caf::stateful_actor<client_state>;

worker_actor::behavior_type runner(worker_actor::stateful_pointer<runner_state> self,
                                   world* w, std::string volume);
worker_actor::behavior_type mock_worker(worker_actor::stateful_pointer<mock_worker_state> self,
                                        world* w);
caf::behavior client(client_impl* self, world* w, int index, std::vector<request> script);

// A choice the explorer can make: let one ready actor handle a message, or a harness event.
struct choice {
  uint64_t key;       // the actor id (stable across replays), or an event key
  int group;          // the volume it works on, or -1 (for the random mode's slow bias)
  std::string label;
  friend bool operator==(const choice& x, const choice& y) {
    return x.key == y.key;
  }
};

constexpr uint64_t shutdown_key = ~uint64_t{0};

// What one step touched: the actor that ran, the mailboxes it put messages into, whether it
// spawned actors (ids are handed out in order, so spawning steps never commute), whether
// it was a client's (clients share the history's clock), and the backing store it used.
struct footprint {
  uint64_t self = 0;
  std::set<uint64_t> targets;
  bool spawned = false;
  bool client = false;
  std::string resource;
};

// Two steps commute when they ran on different actors, neither sent to the other, they
// sent to no common mailbox, at most one spawned, at most one was a client's, and they
// used different backing stores. Steps on different volumes usually do.
bool independent(const footprint& a, const footprint& b) {
  if (a.self == b.self || a.targets.count(b.self) || b.targets.count(a.self))
    return false;
  if ((a.spawned && b.spawned) || (a.client && b.client))
    return false;
  if (!a.resource.empty() && a.resource == b.resource)
    return false;
  for (auto t : a.targets)
    if (b.targets.count(t))
      return false;
  return true;
}

// A directory for the state store: /dev/shm when there is one (fsync is free there).
class scratch_dir {
public:
  scratch_dir() {
    std::string base = fs::exists("/dev/shm") && ::access("/dev/shm", W_OK) == 0
                         ? "/dev/shm"
                         : fs::temp_directory_path().string();
    std::string tmpl = base + "/actorvol-harness-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~scratch_dir() {
    std::error_code ignore;
    fs::remove_all(path_, ignore);
  }
  const fs::path& path() const {
    return path_;
  }

private:
  fs::path path_;
};

// One actor system running one scenario under one schedule.
class world {
public:
  world(const scenario& sc) : sc_(sc) {
    cfg_.set("scheduler.policy", caf::atom("testing"));
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    sys_->await_actors_before_shutdown(false);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
    int g = 0;
    auto add_group = [&](const std::string& v) {
      if (!v.empty() && !groups_.count(v))
        groups_[v] = g++;
    };
    for (auto& r : sc.setup)
      add_group(r.volume);
    for (auto& c : sc.clients)
      for (auto& r : c)
        add_group(r.volume);
    adaptor_ = std::make_shared<mock_adaptor>();
    adaptor_->faults = sc.faults;
    auto cat = std::make_shared<catalog>();
    cat->add(adaptor_);
    store_ = std::make_shared<state_store>(dir_.path() / "state");
    store_->init();
    worker_ = sys_->spawn(mock_worker, this);
    registry_ = sys_->spawn(actorvol::registry, volume_deps{worker_, {}, cat, store_, {}, {}});
    track(caf::actor_cast<caf::strong_actor_ptr>(registry_));
    track(caf::actor_cast<caf::strong_actor_ptr>(worker_));
    sched_->run();
    model_.allow_backend_failures = !sc.faults.empty();
    model_.mountpoint_of = mock_mountpoint;
    // The setup runs alone, first come first served.
    if (!sc.setup.empty()) {
      spawn_client(-1, sc.setup);
      size_t n = 0;
      while (sched_->has_job() && n++ < 100000) {
        sched_->run_once();
        ++now_;
        discover();
      }
    }
    for (size_t i = 0; i < sc.clients.size(); ++i)
      spawn_client(static_cast<int>(i), sc.clients[i]);
    discover();
    for (auto& [id, a] : known_)
      max_id_ = std::max(max_id_, id);
  }

  ~world() {
    // Stop everything that is still alive, then let the system go.
    for (auto& [id, a] : known_)
      if (alive_.count(id))
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(worker_, caf::exit_reason::user_shutdown);
    size_t n = 0;
    while (sched_->has_job() && n++ < 1000000)
      sched_->run_once();
    known_.clear();
    worker_ = nullptr;
    registry_ = nullptr;
  }

  world(const world&) = delete;
  world& operator=(const world&) = delete;

  // -- what the explorer sees --------------------------------------------------------------

  std::vector<choice> enabled() {
    std::vector<choice> out;
    for (auto* job : sched_->jobs) {
      auto* a = dynamic_cast<caf::scheduled_actor*>(job);
      if (!a)
        continue;
      out.push_back(classify(a));
    }
    if (sc_.shutdown && !shutdown_sent_ && clients_busy())
      out.push_back({shutdown_key, -1, "SHUTDOWN (exit to the REGISTRY and the WORKER)"});
    std::sort(out.begin(), out.end(),
              [](const choice& x, const choice& y) { return x.key < y.key; });
    return out;
  }

  footprint execute(const choice& c) {
    ++now_;
    footprint fp;
    fp.self = c.key;
    // Before: every other live actor's mailbox, read without disturbing a blocked one.
    struct seen {
      bool blocked;
      size_t size;
    };
    std::map<caf::actor_id, seen> before;
    for (auto& [id, a] : known_) {
      if (id == c.key || !alive_.count(id))
        continue;
      auto* sa = dynamic_cast<caf::scheduled_actor*>(caf::actor_cast<caf::abstract_actor*>(a));
      if (!sa || sa->mailbox().closed())
        continue;
      bool blocked = sa->mailbox().blocked();
      before[id] = {blocked, blocked ? 0 : sa->mailbox().size()};
    }
    if (c.key == shutdown_key) {
      shutdown_sent_ = true;
      caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(worker_, caf::exit_reason::user_shutdown);
    } else {
      auto& jobs = sched_->jobs;
      auto i = std::find_if(jobs.begin(), jobs.end(), [&](caf::resumable* r) {
        auto* a = dynamic_cast<caf::scheduled_actor*>(r);
        return a && a->id() == c.key;
      });
      if (i == jobs.end())
        throw std::logic_error("chosen actor is not ready: " + c.label);
      auto* sa = dynamic_cast<caf::scheduled_actor*>(*i);
      fp.client = clients_.count(c.key) > 0;
      if (dynamic_cast<runner_impl*>(sa))
        fp.resource = runner_volume_[c.key];
      std::rotate(jobs.begin(), i, i + 1);
      sched_->run_once();
    }
    discover();
    // After: who got mail, and who is new.
    for (auto& [id, a] : known_) {
      if (id == c.key)
        continue;
      auto b = before.find(id);
      if (b == before.end()) {
        if (id > max_id_) {
          fp.spawned = true;
          fp.targets.insert(id);
        }
        continue;
      }
      if (!alive_.count(id))
        continue;
      auto* sa = dynamic_cast<caf::scheduled_actor*>(caf::actor_cast<caf::abstract_actor*>(a));
      if (!sa || sa->mailbox().closed())
        continue;
      bool blocked = sa->mailbox().blocked();
      if (b->second.blocked ? !blocked : sa->mailbox().size() > b->second.size)
        fp.targets.insert(id);
    }
    for (auto& [id, a] : known_)
      max_id_ = std::max(max_id_, id);
    return fp;
  }

  // -- invariants --------------------------------------------------------------------------

  // Checked after every step.
  std::vector<std::string> check_step() {
    std::vector<std::string> v;
    for (auto& x : adaptor_->violations)
      v.push_back(x);
    adaptor_->violations.clear();
    for (auto& [name, n] : in_flight_)
      if (n > 1)
        v.push_back("volume \"" + name + "\" has " + std::to_string(n)
                    + " blocking jobs in flight at once (its VOLUME does not serialize)");
    std::map<std::string, int> existing;
    for (auto* vol : volumes()) {
      auto& st = vol->state;
      auto name = st.record.name;
      if (st.exists)
        ++existing[name];
      // Mid-transition (a job in flight, or its answer not yet handled) is not checked.
      if (awaiting(vol) || in_flight_[name] > 0 || queued(vol) || !st.exists || st.corrupt)
        continue;
      uint64_t sum = 0;
      for (auto& [id, n] : st.record.uses) {
        if (n == 0)
          v.push_back("volume \"" + name + "\" keeps mount ID \"" + id + "\" with 0 uses");
        sum += n;
        if (!st.record.used_since.count(id))
          v.push_back("volume \"" + name + "\": mount ID \"" + id + "\" has no used_since");
      }
      if (sum != st.record.total_uses())
        v.push_back("volume \"" + name + "\": total uses differ from the sum per ID");
      if (st.record.used_since.size() != st.record.uses.size())
        v.push_back("volume \"" + name + "\": used_since and uses disagree");
      if (st.attached != (sum > 0))
        v.push_back("volume \"" + name + "\": attached=" + std::to_string(st.attached)
                    + " but total uses " + std::to_string(sum));
      bool backing = adaptor_->vols[name].attached;
      if (backing != (sum > 0))
        v.push_back("volume \"" + name + "\": backing store attached=" + std::to_string(backing)
                    + " but total uses " + std::to_string(sum));
      if (st.attached && st.mountpoint != mock_mountpoint(name))
        v.push_back("volume \"" + name + "\": mountpoint \"" + st.mountpoint + "\"");
    }
    for (auto& [name, n] : existing)
      if (n > 1)
        v.push_back("volume \"" + name + "\" has " + std::to_string(n) + " live VOLUMEs");
    if (auto* reg = registry()) {
      std::set<caf::actor_id> ids;
      for (auto& [name, e] : reg->state.volumes)
        if (!ids.insert(e.actor.id()).second)
          v.push_back("the REGISTRY maps two names to one VOLUME (\"" + name + "\")");
    }
    return v;
  }

  // Checked when no actor is ready any more.
  std::vector<std::string> check_final() {
    auto v = check_step();
    for (auto& op : history_)
      if (op.ret == lin::never)
        v.push_back("no reply to " + lin::describe(op));
    for (auto& [id, c] : clients_)
      if (alive_.count(id))
        v.push_back("client " + std::to_string(c) + " is still waiting for a reply");
    auto* reg = registry();
    if (!shutdown_sent_ && !reg)
      v.push_back("the REGISTRY is gone");
    std::map<std::string, volume_impl*> live;
    for (auto* vol : volumes()) {
      if (awaiting(vol))
        v.push_back("VOLUME \"" + vol->state.record.name + "\" still awaits a job");
      live[vol->state.record.name] = vol;
    }
    if (reg) {
      std::set<caf::actor_id> mapped;
      for (auto& [name, e] : reg->state.volumes) {
        mapped.insert(e.actor.id());
        auto* vol = dynamic_cast<volume_impl*>(caf::actor_cast<caf::abstract_actor*>(e.actor));
        if (!vol || !alive_.count(e.actor.id())) {
          v.push_back("the REGISTRY maps \"" + name + "\" to a VOLUME that is gone");
          continue;
        }
        if (!vol->state.exists)
          v.push_back("the REGISTRY keeps \"" + name
                      + "\", whose VOLUME does not exist (never retired)");
        if (e.last.exists != vol->state.exists
            || e.last.info.mounts != vol->state.record.total_uses())
          v.push_back("the REGISTRY's summary of \"" + name + "\" is stale: exists="
                      + std::to_string(e.last.exists) + " mounts="
                      + std::to_string(e.last.info.mounts));
      }
      for (auto* vol : volumes())
        if (!mapped.count(vol->id()))
          v.push_back("VOLUME \"" + vol->state.record.name
                      + "\" is alive but not in the REGISTRY (orphaned)");
    }
    // The disk and the backing stores agree with each other (and with the VOLUMEs).
    std::map<std::string, volume_record> disk;
    for (auto& l : store_->load_all(1)) {
      if (!l.record) {
        v.push_back("unreadable record \"" + l.name + "\": " + l.problem);
        continue;
      }
      disk[l.name] = *l.record;
    }
    for (auto& [name, r] : disk) {
      auto& b = adaptor_->vols[name];
      if (b.attached != (r.total_uses() > 0))
        v.push_back("on disk \"" + name + "\" has " + std::to_string(r.total_uses())
                    + " uses but its backing store attached=" + std::to_string(b.attached));
      if (!b.created)
        v.push_back("on disk \"" + name + "\" exists but its backing store does not");
      if (!shutdown_sent_) {
        auto i = live.find(name);
        if (i == live.end() || !i->second->state.exists)
          v.push_back("on disk \"" + name + "\" exists but no VOLUME has it");
        else if (!(i->second->state.record == r))
          v.push_back("on disk \"" + name + "\" differs from its VOLUME's record");
      }
    }
    for (auto& [name, b] : adaptor_->vols) {
      if (disk.count(name))
        continue;
      if (b.attached)
        v.push_back("\"" + name + "\" is attached but has no record");
      if (b.created && !shutdown_sent_)
        v.push_back("\"" + name + "\" has a backing store but no record");
    }
    if (!shutdown_sent_)
      for (auto& [name, vol] : live)
        if (vol->state.exists && !disk.count(name))
          v.push_back("VOLUME \"" + name + "\" exists but has no record on disk");
    // Lists come out sorted and without duplicates.
    for (auto& op : history_)
      if (op.kind == lin::op_kind::list && op.err == lin::err_kind::none)
        for (size_t i = 1; i < op.listed.size(); ++i)
          if (!(op.listed[i - 1] < op.listed[i]))
            v.push_back("List is not sorted: " + lin::describe(op));
    auto lr = lin::check(history_, model_);
    if (!lr.ok)
      v.push_back("not linearizable: " + lr.explanation);
    return v;
  }

  // -- for the clients, runners and the worker ---------------------------------------------

  size_t begin_op(int client, const request& rq) {
    lin::operation op;
    op.client = client;
    op.kind = rq.kind;
    op.volume = rq.volume;
    op.id = rq.id;
    op.opts = rq.opts;
    op.call = 2 * now_ + 1;
    history_.push_back(std::move(op));
    return history_.size() - 1;
  }

  lin::operation& end_op(size_t i) {
    auto& op = history_[i];
    if (op.ret != lin::never)
      extra_replies_.push_back("a second reply to " + lin::describe(op));
    op.ret = std::max<int64_t>(2 * now_, op.call + 1);  // a bounce can answer in the same step
    return op;
  }

  void end_err(size_t i, const caf::error& err) {
    auto& op = end_op(i);
    op.err_text = render(err);
    if (err.category() != error_category) {
      op.err = sc_.shutdown ? lin::err_kind::unknown : lin::err_kind::other;
      return;
    }
    switch (code_of(err)) {
      case ec::no_such_volume:
        op.err = lin::err_kind::not_found;
        break;
      case ec::options_conflict:
        op.err = lin::err_kind::conflict;
        break;
      case ec::in_use:
        op.err = lin::err_kind::in_use;
        break;
      case ec::unknown_mount_id:
        op.err = lin::err_kind::unknown_id;
        break;
      case ec::backend_failed:
      case ec::state_write_failed:
        op.err = lin::err_kind::backend;
        break;
      case ec::shutting_down:
        op.err = lin::err_kind::unknown;
        break;
      default:
        op.err = lin::err_kind::other;
    }
  }

  void runner_spawned(caf::actor_id id, const std::string& volume) {
    runner_volume_[id] = volume;
  }
  void job_started(const std::string& volume) {
    ++in_flight_[volume];
  }
  void job_ran(const std::string& volume) {
    --in_flight_[volume];
    jobs_.emplace_back(2 * now_, volume);
  }

  const registry_actor& registry_handle() const {
    return registry_;
  }

  // The name of the VOLUME behind `sender` (empty when it is not a VOLUME).
  std::string volume_of(const caf::strong_actor_ptr& sender) {
    if (!sender)
      return {};
    auto* vol = dynamic_cast<volume_impl*>(caf::actor_cast<caf::abstract_actor*>(sender));
    return vol ? name_of(vol) : std::string{};
  }

  const lin::history& history() const {
    return history_;
  }
  const std::vector<std::pair<int64_t, std::string>>& jobs() const {
    return jobs_;
  }
  std::vector<std::string> take_extra_replies() {
    return std::move(extra_replies_);
  }

private:
  void spawn_client(int index, std::vector<request> script) {
    auto c = sys_->spawn(client, this, index, std::move(script));
    clients_[c.id()] = index;
    track(caf::actor_cast<caf::strong_actor_ptr>(c));
  }

  void track(caf::strong_actor_ptr p) {
    if (!p || known_.count(p->id()))
      return;
    auto id = p->id();
    alive_.insert(id);
    known_.emplace(id, caf::actor_cast<caf::actor>(p));
    auto* self = this;
    caf::actor_cast<caf::abstract_actor*>(p)->attach_functor([self, id] { self->alive_.erase(id); });
  }

  // Learns about VOLUMEs the REGISTRY spawned.
  void discover() {
    for (auto* job : sched_->jobs)
      if (auto* a = dynamic_cast<caf::abstract_actor*>(job))
        track(caf::actor_cast<caf::strong_actor_ptr>(a));
    if (auto* reg = registry())
      for (auto& [name, e] : reg->state.volumes)
        track(caf::actor_cast<caf::strong_actor_ptr>(e.actor));
  }

  registry_impl* registry() {
    if (!alive_.count(registry_.id()))
      return nullptr;
    return dynamic_cast<registry_impl*>(caf::actor_cast<caf::abstract_actor*>(registry_));
  }

  // Every live, initialized VOLUME.
  std::vector<volume_impl*> volumes() {
    std::vector<volume_impl*> out;
    for (auto& [id, a] : known_) {
      if (!alive_.count(id))
        continue;
      auto* vol = dynamic_cast<volume_impl*>(caf::actor_cast<caf::abstract_actor*>(a));
      if (vol && vol->has_behavior() && !vol->state.record.name.empty())
        out.push_back(vol);
    }
    return out;
  }

  bool queued(volume_impl* vol) const {
    auto& jobs = sched_->jobs;
    return std::find(jobs.begin(), jobs.end(), static_cast<caf::resumable*>(vol)) != jobs.end();
  }

  // A job of this VOLUME is in flight (its later changes wait in its own queue).
  static bool awaiting(volume_impl* vol) {
    return vol->state.busy() || !vol->state.queue.empty();
  }

  std::string name_of(volume_impl* vol) {
    if (!vol->state.record.name.empty())
      return vol->state.record.name;
    if (auto* reg = registry())  // not yet initialized (spawned lazily): ask the map
      for (auto& [name, e] : reg->state.volumes)
        if (e.actor.id() == vol->id())
          return name;
    return "?";
  }

  int group_of(const std::string& volume) const {
    auto i = groups_.find(volume);
    return i == groups_.end() ? -1 : i->second;
  }

  bool clients_busy() const {
    for (auto& [id, c] : clients_)
      if (c >= 0 && alive_.count(id))
        return true;
    return false;
  }

  choice classify(caf::scheduled_actor* a) {
    auto id = a->id();
    if (auto* vol = dynamic_cast<volume_impl*>(a)) {
      auto name = name_of(vol);
      return {id, group_of(name), "VOLUME " + name + " #" + std::to_string(id)};
    }
    if (dynamic_cast<runner_impl*>(a)) {
      auto& vol = runner_volume_[id];
      return {id, group_of(vol), "runner of " + vol + " (a blocking job)"};
    }
    if (auto* w = dynamic_cast<mock_worker_impl*>(a)) {
      // The WORKER only dispatches: its step belongs to the volume whose job is first.
      if (auto* head = w->mailbox().peek()) {
        auto vol = volume_of(head->sender);
        if (!vol.empty())
          return {id, group_of(vol), "WORKER (job of " + vol + ")"};
      }
      return {id, -1, "WORKER"};
    }
    if (dynamic_cast<registry_impl*>(a))
      return {id, -1, "REGISTRY"};
    if (auto i = clients_.find(id); i != clients_.end())
      return {id, -1, "client " + std::to_string(i->second)};
    return {id, -1, std::string{"actor "} + a->name() + " #" + std::to_string(id)};
  }

  const scenario& sc_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  scratch_dir dir_;
  std::shared_ptr<mock_adaptor> adaptor_;
  StorePtr store_;
  worker_actor worker_;
  registry_actor registry_;
  std::map<std::string, int> groups_;
  std::map<caf::actor_id, caf::actor> known_;
  std::set<caf::actor_id> alive_;
  std::map<caf::actor_id, int> clients_;
  std::map<std::string, int> in_flight_;
  std::map<caf::actor_id, std::string> runner_volume_;
  lin::history history_;
  std::vector<std::pair<int64_t, std::string>> jobs_;
  std::vector<std::string> extra_replies_;
  lin::model model_;
  int64_t now_ = 0;
  caf::actor_id max_id_ = 0;
  bool shutdown_sent_ = false;
};

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

void issue(client_impl* self);

void done(client_impl* self) {
  ++self->state.next;
  issue(self);
}

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
        .then(
          [self, w, i](atom::ok) {
            w->end_op(i);
            done(self);
          },
          fail);
      return;
    case lin::op_kind::mount:
      self->request(reg, caf::infinite, atom::mount::value, rq.volume, rq.id)
        .then(
          [self, w, i](std::string& mp) {
            w->end_op(i).mountpoint = mp;
            done(self);
          },
          fail);
      return;
    case lin::op_kind::unmount:
      self->request(reg, caf::infinite, atom::unmount::value, rq.volume, rq.id)
        .then(
          [self, w, i](atom::ok) {
            w->end_op(i);
            done(self);
          },
          fail);
      return;
    case lin::op_kind::remove:
      self->request(reg, caf::infinite, atom::remove::value, rq.volume)
        .then(
          [self, w, i](atom::ok) {
            w->end_op(i);
            done(self);
          },
          fail);
      return;
    case lin::op_kind::get:
      self->request(reg, caf::infinite, atom::get::value, rq.volume)
        .then(
          [self, w, i](volume_info& info) {
            auto& op = w->end_op(i);
            op.mountpoint = info.mountpoint;
            op.mounts = static_cast<int64_t>(info.mounts);
            done(self);
          },
          fail);
      return;
    case lin::op_kind::path:
      self->request(reg, caf::infinite, atom::path::value, rq.volume)
        .then(
          [self, w, i](std::string& mp) {
            w->end_op(i).mountpoint = mp;
            done(self);
          },
          fail);
      return;
    case lin::op_kind::list:
      self->request(reg, caf::infinite, atom::list::value)
        .then(
          [self, w, i](volume_infos& infos) {
            auto& op = w->end_op(i);
            for (auto& info : infos) {
              op.listed.push_back(info.name);
              op.listed_mounts.push_back(static_cast<int64_t>(info.mounts));
            }
            done(self);
          },
          fail);
      return;
  }
}

caf::behavior client(client_impl* self, world* w, int index, std::vector<request> script) {
  self->state.w = w;
  self->state.index = index;
  self->state.script = std::move(script);
  issue(self);
  return {};  // the client lives while a request is open, and ends after its script
}

// -- running schedules -------------------------------------------------------------------

struct run_outcome {
  std::vector<std::string> violations;
  std::vector<std::string> trace;
  std::vector<size_t> indices;  // the index chosen at each step (in the sorted ready set)
  bool sleep_blocked = false;
  run_record record;
};

std::string trace_text(const std::vector<std::string>& trace) {
  std::ostringstream os;
  for (size_t i = 0; i < trace.size(); ++i)
    os << "    " << i << ": " << trace[i] << "\n";
  return os.str();
}

std::string indices_text(const std::vector<size_t>& xs) {
  std::string s;
  for (size_t i = 0; i < xs.size(); ++i)
    s += (i ? "." : "") + std::to_string(xs[i]);
  return s;
}

std::string failure_text(const scenario& sc, const std::string& how,
                         const run_outcome& out) {
  std::ostringstream os;
  os << "scenario \"" << sc.name << "\" failed under schedule " << how << ":\n";
  for (auto& v : out.violations)
    os << "  VIOLATION: " << v << "\n";
  os << "  history:\n";
  for (auto& op : out.record.history)
    os << "    " << lin::describe(op) << "\n";
  os << "  schedule (" << out.trace.size() << " steps):\n" << trace_text(out.trace);
  os << "  replay: ACTORVOL_REPLAY='" << sc.name << ":t=" << indices_text(out.indices) << "'";
  if (how.rfind("seed=", 0) == 0)
    os << "  (or ACTORVOL_REPLAY='" << sc.name << ":" << how << "')";
  os << "\n";
  return os.str();
}

// Runs one schedule. `pick` gets the step number and the ready set (sorted) and returns the
// index to run, or -1 to stop (sleep-blocked).
using step_hook = std::function<void(uint64_t, const footprint&)>;

template <class Pick>
run_outcome run_with(const scenario& sc, Pick pick, bool verbose, uint64_t* steps,
                     const step_hook& on_step = {}, uint64_t max_steps = 20000) {
  run_outcome out;
  world w(sc);
  for (uint64_t k = 0; k < max_steps; ++k) {
    auto ready = w.enabled();
    if (ready.empty())
      break;
    auto idx = pick(k, ready);
    if (idx < 0) {
      out.sleep_blocked = true;
      return out;
    }
    auto& c = ready[static_cast<size_t>(idx)];
    out.trace.push_back(c.label);
    out.indices.push_back(static_cast<size_t>(idx));
    if (verbose) {
      std::cout << "  step " << k << ": " << c.label << "   (ready:";
      for (auto& r : ready)
        std::cout << " [" << r.label << "]";
      std::cout << ")" << std::endl;
    }
    auto fp = w.execute(c);
    if (on_step)
      on_step(k, fp);
    if (steps)
      ++*steps;
    auto v = w.check_step();
    for (auto& x : w.take_extra_replies())
      v.push_back(x);
    if (!v.empty()) {
      out.violations = std::move(v);
      out.record.history = w.history();
      return out;
    }
  }
  if (!w.enabled().empty())
    out.violations.push_back("the schedule did not finish within " + std::to_string(max_steps)
                             + " steps");
  for (auto& x : w.check_final())
    out.violations.push_back(x);
  out.record.history = w.history();
  out.record.jobs = w.jobs();
  out.record.trace = out.trace;
  return out;
}

std::vector<size_t> parse_indices(const std::string& s) {
  std::vector<size_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, '.'))
    if (!item.empty())
      out.push_back(std::stoul(item));
  return out;
}

// A seeded random pick; the jobs of slow volumes are taken only 1 time in 10.
int pick_random(std::mt19937_64& rng, const std::vector<choice>& ready,
                const std::set<std::string>& slow) {
  if (!slow.empty()) {
    std::vector<int> fast;
    for (size_t i = 0; i < ready.size(); ++i) {
      bool is_slow = false;
      for (auto& s : slow)
        if (ready[i].label == "runner of " + s + " (a blocking job)")
          is_slow = true;
      if (!is_slow)
        fast.push_back(static_cast<int>(i));
    }
    if (!fast.empty() && fast.size() < ready.size() && rng() % 10 != 0)
      return fast[rng() % fast.size()];
  }
  return static_cast<int>(rng() % ready.size());
}

} // namespace

run_record run_one(const scenario& sc, const std::string& policy, bool verbose,
                   std::string* failure) {
  run_outcome out;
  uint64_t steps = 0;
  if (policy.rfind("seed=", 0) == 0) {
    std::mt19937_64 rng(std::stoull(policy.substr(5)));
    out = run_with(
      sc, [&](uint64_t, const std::vector<choice>& r) { return pick_random(rng, r, sc.slow); },
      verbose, &steps);
  } else if (policy.rfind("t=", 0) == 0) {
    auto xs = parse_indices(policy.substr(2));
    out = run_with(
      sc,
      [&](uint64_t k, const std::vector<choice>& r) {
        return k < xs.size() && xs[k] < r.size() ? static_cast<int>(xs[k]) : 0;
      },
      verbose, &steps);
  } else if (policy.rfind("defer=", 0) == 0) {
    auto vol = policy.substr(6);
    out = run_with(
      sc,
      [&](uint64_t, const std::vector<choice>& r) {
        std::string label = "runner of " + vol + " (a blocking job)";
        for (size_t i = 0; i < r.size(); ++i)
          if (r[i].label != label)
            return static_cast<int>(i);
        return 0;
      },
      verbose, &steps);
  } else {
    out = run_with(
      sc, [](uint64_t, const std::vector<choice>&) { return 0; }, verbose, &steps);
  }
  if (failure)
    *failure = out.violations.empty() ? std::string{} : failure_text(sc, policy, out);
  return out.record;
}

namespace {

// ACTORVOL_REPLAY="<scenario>:<policy>": run that one schedule, verbosely.
bool replay_requested(const scenario& sc, exploration& result) {
  auto env = std::getenv("ACTORVOL_REPLAY");
  if (!env)
    return false;
  std::string s = env;
  auto colon = s.find(':');
  if (colon == std::string::npos || s.substr(0, colon) != sc.name)
    return false;
  auto policy = s.substr(colon + 1);
  std::cout << "[ replay   ] " << sc.name << " under " << policy << "\n";
  std::string failure;
  run_one(sc, policy, true, &failure);
  result.schedules = 1;
  if (!failure.empty()) {
    result.failed = true;
    result.failure = failure;
  }
  std::cout << (failure.empty() ? "[ replay   ] no violation\n" : failure);
  return true;
}

} // namespace

exploration explore_all(const scenario& sc, const options& opt) {
  exploration result;
  if (replay_requested(sc, result))
    return result;
  auto t0 = std::chrono::steady_clock::now();
  struct entry {
    choice c;
    footprint fp;
  };
  struct node {
    std::vector<choice> ready;
    std::vector<entry> sleep;  // steps that need not run here (explored elsewhere)
    std::vector<entry> done;   // steps run from here so far
    size_t chosen = 0;
  };
  std::vector<node> path;
  auto contains = [](const std::vector<entry>& xs, const choice& c) {
    return std::any_of(xs.begin(), xs.end(), [&](const entry& e) { return e.c == c; });
  };
  for (;;) {
    auto pick = [&](uint64_t k, const std::vector<choice>& ready) -> int {
      if (k < path.size()) {
        auto& n = path[k];
        if (!(n.ready == ready))
          throw std::logic_error("nondeterministic replay at step " + std::to_string(k));
        return static_cast<int>(n.chosen);
      }
      node n;
      n.ready = ready;
      if (k > 0 && opt.prune) {
        auto& p = path[k - 1];
        auto& taken = p.done.back();  // the step just run from the parent
        for (auto* set : {&p.sleep, &p.done})
          for (auto& e : *set)
            if (!(e.c == taken.c) && independent(e.fp, taken.fp) && !contains(n.sleep, e.c))
              n.sleep.push_back(e);
      }
      for (size_t i = 0; i < ready.size(); ++i) {
        if (contains(n.sleep, ready[i]))
          continue;
        n.chosen = i;
        path.push_back(std::move(n));
        return static_cast<int>(i);
      }
      path.push_back(std::move(n));  // every ready step sleeps: redundant
      return -1;
    };
    auto on_step = [&](uint64_t k, const footprint& fp) {
      auto& n = path[k];
      auto& c = n.ready[n.chosen];
      if (!contains(n.done, c))
        n.done.push_back({c, fp});
      else if (n.done.back().c == c)
        n.done.back().fp = fp;
      else  // keep `done.back()` the step taken last
        for (size_t i = 0; i < n.done.size(); ++i)
          if (n.done[i].c == c) {
            auto e = n.done[i];
            e.fp = fp;
            n.done.erase(n.done.begin() + static_cast<long>(i));
            n.done.push_back(e);
            break;
          }
    };
    auto out = run_with(sc, pick, false, &result.steps, on_step);
    result.max_depth = std::max<uint64_t>(result.max_depth, out.trace.size());
    if (out.sleep_blocked) {
      ++result.pruned;
    } else {
      ++result.schedules;
      if (!out.violations.empty()) {
        result.failed = true;
        result.failure = failure_text(sc, "t=" + indices_text(out.indices) + " (exhaustive)", out);
        if (opt.stop_at_first_failure)
          break;
      } else if (opt.observe) {
        opt.observe(out.record);
      }
    }
    // Backtrack to the deepest node with a ready step neither done nor asleep.
    bool more = false;
    while (!path.empty()) {
      auto& n = path.back();
      for (size_t i = 0; i < n.ready.size(); ++i) {
        if (contains(n.done, n.ready[i]) || contains(n.sleep, n.ready[i]))
          continue;
        n.chosen = i;
        more = true;
        break;
      }
      if (more)
        break;
      path.pop_back();
    }
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    result.seconds = dt.count();
    if (!more)
      break;
    if (result.schedules + result.pruned >= opt.max_schedules || dt.count() > opt.max_seconds) {
      result.bounded = true;
      break;
    }
  }
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  result.seconds = dt.count();
  return result;
}

double default_max_seconds() {
  if (auto env = std::getenv("ACTORVOL_EXPLORE_SECONDS")) {
    char* end = nullptr;
    double s = std::strtod(env, &end);
    if (end != env && *end == '\0' && s > 0)
      return s;
  }
  return 60;
}

exploration explore_random(const scenario& sc, uint64_t first_seed, uint64_t count,
                           const options& opt) {
  exploration result;
  if (replay_requested(sc, result))
    return result;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t seed = first_seed; seed < first_seed + count; ++seed) {
    std::mt19937_64 rng(seed);
    auto out = run_with(
      sc, [&](uint64_t, const std::vector<choice>& r) { return pick_random(rng, r, sc.slow); },
      false, &result.steps);
    ++result.schedules;
    result.max_depth = std::max<uint64_t>(result.max_depth, out.trace.size());
    if (!out.violations.empty()) {
      result.failed = true;
      result.failure = failure_text(sc, "seed=" + std::to_string(seed), out);
      if (opt.stop_at_first_failure)
        break;
    } else if (opt.observe) {
      opt.observe(out.record);
    }
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    if (dt.count() > opt.max_seconds) {
      result.bounded = true;
      break;
    }
  }
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  result.seconds = dt.count();
  return result;
}

} // namespace actorvol::harness
