#include "actors/world.hpp"

#include "adaptors/catalog.hpp"

#include <algorithm>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

namespace actorvol::harness::detail {

namespace {

// The journal as the harness uses it: write_async writes at once on the caller's thread (the
// outcome of a staged change then reaches its VOLUME as a message the test scheduler
// delivers, not from the journal's committer thread at a moment no schedule chose), and the
// scenario's "write" and "erase" faults fail the nth write or erase of a volume's record,
// which then stays as it was.
class harness_store : public state_store {
public:
  harness_store(StorePtr journal, std::vector<fault> faults)
    : journal_(std::move(journal)), faults_(std::move(faults)) {
  }
  caf::error init() override {
    return journal_->init();
  }
  caf::error write(const volume_record& r, const volume_record* previous) override {
    if (auto err = injected(r.name, "write"))
      return err;
    return journal_->write(r, previous);
  }
  caf::error erase(const std::string& name) override {
    if (auto err = injected(name, "erase"))
      return err;
    return journal_->erase(name);
  }
  caf::error load_each(size_t part, const take_fn& take, unsigned threads) override {
    return journal_->load_each(part, take, threads);
  }

private:
  caf::error injected(const std::string& name, const std::string& op) {
    if (faulted(faults_, name, op, ++calls_[name + " " + op]))
      return make_error(ec::state_write_failed, name, "injected fault");
    return caf::none;
  }

  StorePtr journal_;
  std::vector<fault> faults_;
  std::map<std::string, int> calls_;
};

} // namespace

namespace fs = std::filesystem;

scratch_dir::scratch_dir() {
  std::string base = fs::exists("/dev/shm") && ::access("/dev/shm", W_OK) == 0
                       ? "/dev/shm"
                       : fs::temp_directory_path().string();
  std::string tmpl = base + "/actorvol-harness-XXXXXX";
  path_ = ::mkdtemp(tmpl.data());
}

scratch_dir::~scratch_dir() {
  std::error_code ignore;
  fs::remove_all(path_, ignore);
}

// -- setting up and tearing down ---------------------------------------------------------

world::world(const scenario& sc) : sc_(sc) {
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
  adaptor_->quick_mode = sc.quick;
  auto cat = std::make_shared<catalog>();
  cat->add(adaptor_);
  store_ = std::make_shared<harness_store>(
    std::make_shared<journal_store>(dir_.path() / "state"), sc.faults);
  if (auto err = store_->init())
    throw std::runtime_error("state journal: " + render(err));
  worker_ = sys_->spawn(mock_worker, this);
  volume_deps deps{worker_, {}, cat, store_, {}, {}, view_};
  deps.keep_idle = std::chrono::milliseconds(0);  // retired at once: the handshake is explored
  registry_ = sys_->spawn(actorvol::registry, deps);
  track(caf::actor_cast<caf::strong_actor_ptr>(registry_));
  track(caf::actor_cast<caf::strong_actor_ptr>(worker_));
  sched_->run();
  model_.allow_backend_failures = !sc.faults.empty();
  model_.mountpoint_of = mock_mountpoint;
  run_setup();
  for (size_t i = 0; i < sc.clients.size(); ++i)
    spawn_client(static_cast<int>(i), sc.clients[i]);
  discover();
  for (auto& [id, a] : known_)
    max_id_ = std::max(max_id_, id);
}

// The setup runs alone, first come first served.
void world::run_setup() {
  if (sc_.setup.empty())
    return;
  spawn_client(-1, sc_.setup);
  size_t n = 0;
  while (sched_->has_job() && n++ < 100000) {
    sched_->run_once();
    ++now_;
    discover();
  }
}

world::~world() {
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

// -- what the explorer sees --------------------------------------------------------------

std::vector<choice> world::enabled() {
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

footprint world::execute(const choice& c) {
  ++now_;
  footprint fp;
  fp.self = c.key;
  auto before = mailboxes_except(c.key);
  run_step(c, fp);
  discover();
  note_mail(c, before, fp);
  for (auto& [id, a] : known_)
    max_id_ = std::max(max_id_, id);
  return fp;
}

// Before a step: every other live actor's mailbox, read without disturbing a blocked one.
std::map<caf::actor_id, world::seen> world::mailboxes_except(caf::actor_id running) {
  std::map<caf::actor_id, seen> before;
  for (auto& [id, a] : known_) {
    if (id == running || !alive_.count(id))
      continue;
    auto* sa = dynamic_cast<caf::scheduled_actor*>(caf::actor_cast<caf::abstract_actor*>(a));
    if (!sa || sa->mailbox().closed())
      continue;
    bool blocked = sa->mailbox().blocked();
    before[id] = {blocked, blocked ? 0 : sa->mailbox().size()};
  }
  return before;
}

// The step itself: the chosen actor handles one message, or the SHUTDOWN event happens.
void world::run_step(const choice& c, footprint& fp) {
  if (c.key == shutdown_key) {
    shutdown_sent_ = true;
    caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(worker_, caf::exit_reason::user_shutdown);
    return;
  }
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

// After a step: who got mail, and who is new.
void world::note_mail(const choice& c, const std::map<caf::actor_id, seen>& before,
                      footprint& fp) {
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
}

// -- for the clients, runners and the worker ---------------------------------------------

size_t world::begin_op(int client, const request& rq) {
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

lin::operation& world::end_op(size_t i) {
  auto& op = history_[i];
  if (op.ret != lin::never)
    extra_replies_.push_back("a second reply to " + lin::describe(op));
  op.ret = std::max<int64_t>(2 * now_, op.call + 1);  // a bounce can answer in the same step
  return op;
}

void world::end_err(size_t i, const caf::error& err) {
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

std::string world::volume_of(const caf::strong_actor_ptr& sender) {
  if (!sender)
    return {};
  auto* vol = dynamic_cast<volume_impl*>(caf::actor_cast<caf::abstract_actor*>(sender));
  return vol ? name_of(vol) : std::string{};
}

// -- bookkeeping -------------------------------------------------------------------------

void world::spawn_client(int index, std::vector<request> script) {
  auto c = sys_->spawn(client, this, index, std::move(script));
  clients_[c.id()] = index;
  track(caf::actor_cast<caf::strong_actor_ptr>(c));
}

void world::track(caf::strong_actor_ptr p) {
  if (!p || known_.count(p->id()))
    return;
  auto id = p->id();
  alive_.insert(id);
  known_.emplace(id, caf::actor_cast<caf::actor>(p));
  auto* self = this;
  caf::actor_cast<caf::abstract_actor*>(p)->attach_functor([self, id] { self->alive_.erase(id); });
}

// Learns about VOLUMEs the REGISTRY spawned.
void world::discover() {
  for (auto* job : sched_->jobs)
    if (auto* a = dynamic_cast<caf::abstract_actor*>(job))
      track(caf::actor_cast<caf::strong_actor_ptr>(a));
  if (auto* reg = registry())
    for (auto& [name, e] : reg->state.volumes)
      if (e.actor)  // none while the volume sleeps
        track(caf::actor_cast<caf::strong_actor_ptr>(e.actor));
}

registry_impl* world::registry() {
  if (!alive_.count(registry_.id()))
    return nullptr;
  return dynamic_cast<registry_impl*>(caf::actor_cast<caf::abstract_actor*>(registry_));
}

// Every live, initialized VOLUME.
std::vector<volume_impl*> world::volumes() {
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

bool world::queued(volume_impl* vol) const {
  auto& jobs = sched_->jobs;
  return std::find(jobs.begin(), jobs.end(), static_cast<caf::resumable*>(vol)) != jobs.end();
}

std::string world::name_of(volume_impl* vol) {
  if (!vol->state.record.name.empty())
    return vol->state.record.name;
  if (auto* reg = registry())  // not yet initialized (spawned lazily): ask the map
    for (auto& [name, e] : reg->state.volumes)
      if (e.actor && e.actor.id() == vol->id())
        return name;
  return "?";
}

int world::group_of(const std::string& volume) const {
  auto i = groups_.find(volume);
  return i == groups_.end() ? -1 : i->second;
}

bool world::clients_busy() const {
  for (auto& [id, c] : clients_)
    if (c >= 0 && alive_.count(id))
      return true;
  return false;
}

// A label and a volume group for a ready actor.
choice world::classify(caf::scheduled_actor* a) {
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

} // namespace actorvol::harness::detail
