// The world's invariants: check_step() after every step, check_final() when no actor is
// ready any more. The README's "Race scenarios" lists them in words.

#include "actors/world.hpp"

#include "linearizability/checker.hpp"

namespace actorvol::harness::detail {

std::vector<std::string> world::check_step() {
  std::vector<std::string> v;
  for (auto& x : adaptor_->violations)
    v.push_back(x);
  adaptor_->violations.clear();
  for (auto& [name, n] : in_flight_)
    if (n > 1)
      v.push_back("volume \"" + name + "\" has " + std::to_string(n)
                  + " blocking jobs in flight at once (its VOLUME does not serialize)");
  // Count every VOLUME but those the REGISTRY retired: an idle volume's, now asleep, may still
  // be alive, told to exit, when a change wakes a new one for the same volume. Retired means
  // not in the REGISTRY's map (once it is gone, at shutdown: the map it last had) and idle;
  // a VOLUME outside the map with work of its own is counted, so a second one at work on the
  // same volume is caught.
  auto* reg = registry();
  if (reg) {
    mapped_.clear();
    for (auto& [name, e] : reg->state.volumes)
      if (e.actor)
        mapped_.insert(e.actor.id());
  }
  std::map<std::string, int> existing;
  for (auto* vol : volumes()) {
    auto& st = vol->state;
    auto name = st.record.name;
    if (mapped_.count(vol->id()) == 0 && !st.busy() && st.queue.empty() && !st.writing)
      continue;  // retired: asleep or removed
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
    if (!adaptor_->quick_mode && backing != (sum > 0))
      v.push_back("volume \"" + name + "\": backing store attached=" + std::to_string(backing)
                  + " but total uses " + std::to_string(sum));
    if (st.attached && st.mountpoint != mock_mountpoint(name))
      v.push_back("volume \"" + name + "\": mountpoint \"" + st.mountpoint + "\"");
  }
  for (auto& [name, n] : existing)
    if (n > 1)
      v.push_back("volume \"" + name + "\" has " + std::to_string(n) + " live VOLUMEs");
  if (reg) {
    std::set<caf::actor_id> ids;
    for (auto& [name, e] : reg->state.volumes)
      if (e.actor && !ids.insert(e.actor.id()).second)
        v.push_back("the REGISTRY maps two names to one VOLUME (\"" + name + "\")");
  }
  return v;
}

std::vector<std::string> world::check_final() {
  auto v = check_step();
  check_replies(v);
  if (!shutdown_sent_ && !registry())
    v.push_back("the REGISTRY is gone");
  std::map<std::string, volume_impl*> live;
  for (auto* vol : volumes()) {
    if (awaiting(vol))
      v.push_back("VOLUME \"" + vol->state.record.name + "\" still awaits a job");
    live[vol->state.record.name] = vol;
  }
  check_registry(v);
  check_disk(v, live);
  check_lists(v);
  auto lr = lin::check(history_, model_);
  if (!lr.ok)
    v.push_back("not linearizable: " + lr.explanation);
  return v;
}

// Every request got a reply, and every client finished its script.
void world::check_replies(std::vector<std::string>& v) {
  for (auto& op : history_)
    if (op.ret == lin::never)
      v.push_back("no reply to " + lin::describe(op));
  for (auto& [id, c] : clients_)
    if (alive_.count(id))
      v.push_back("client " + std::to_string(c) + " is still waiting for a reply");
}

// Every REGISTRY entry points to a live, existing VOLUME with a current summary, or is a
// sleeping volume's record (no uses); every live VOLUME is in the REGISTRY.
void world::check_registry(std::vector<std::string>& v) {
  auto* reg = registry();
  if (!reg)
    return;
  std::set<caf::actor_id> mapped;
  for (auto& [name, e] : reg->state.volumes) {
    if (!e.actor) {
      if (!e.exists || !e.idle)
        v.push_back("the REGISTRY keeps \"" + name + "\" asleep but not as an idle record");
      auto seen = view_->find(name);
      if (!seen || !seen->exists || seen->info.mounts != 0 || !seen->info.mountpoint.empty())
        v.push_back("the read view of sleeping \"" + name + "\" is missing or stale");
      continue;
    }
    mapped.insert(e.actor.id());
    auto* vol = dynamic_cast<volume_impl*>(caf::actor_cast<caf::abstract_actor*>(e.actor));
    if (!vol || !alive_.count(e.actor.id())) {
      v.push_back("the REGISTRY maps \"" + name + "\" to a VOLUME that is gone");
      continue;
    }
    if (!vol->state.exists)
      v.push_back("the REGISTRY keeps \"" + name
                  + "\", whose VOLUME does not exist (never retired)");
    if (e.exists != vol->state.exists)
      v.push_back("the REGISTRY's summary of \"" + name + "\" is stale: exists="
                  + std::to_string(e.exists));
    auto seen = view_->find(name);
    if (!seen || seen->exists != vol->state.exists
        || seen->info.mounts != vol->state.record.total_uses()
        || seen->info.mountpoint != (vol->state.attached ? vol->state.mountpoint : ""))
      v.push_back("the read view of \"" + name + "\" is missing or stale");
  }
  for (auto* vol : volumes())
    if (!mapped.count(vol->id()))
      v.push_back("VOLUME \"" + vol->state.record.name
                  + "\" is alive but not in the REGISTRY (orphaned)");
}

// The disk and the backing stores agree with each other (and with the VOLUMEs).
void world::check_disk(std::vector<std::string>& v,
                       const std::map<std::string, volume_impl*>& live) {
  std::map<std::string, volume_record> disk;
  auto loaded = store_->load_all(1);
  if (!loaded) {
    v.push_back("the state cannot be read: " + render(loaded.error()));
    return;
  }
  for (auto& l : *loaded) {
    if (!l.record) {
      v.push_back("unreadable record \"" + l.name + "\": " + l.problem);
      continue;
    }
    disk[l.name] = *l.record;
  }
  std::map<std::string, volume_record> asleep;  // kept by the REGISTRY, without a VOLUME
  if (auto* reg = registry())
    for (auto& [name, e] : reg->state.volumes)
      if (!e.actor && e.idle)
        asleep[name] = sleeping_record(name, e);
  for (auto& [name, r] : disk) {
    auto& b = adaptor_->vols[name];
    if (!adaptor_->quick_mode && b.attached != (r.total_uses() > 0))
      v.push_back("on disk \"" + name + "\" has " + std::to_string(r.total_uses())
                  + " uses but its backing store attached=" + std::to_string(b.attached));
    if (!b.created)
      v.push_back("on disk \"" + name + "\" exists but its backing store does not");
    if (!shutdown_sent_) {
      auto i = live.find(name);
      auto a = asleep.find(name);
      if (a != asleep.end()) {
        if (!(a->second == r))
          v.push_back("on disk \"" + name + "\" differs from the REGISTRY's record of it");
      } else if (i == live.end() || !i->second->state.exists)
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
}

// Lists come out sorted and without duplicates.
void world::check_lists(std::vector<std::string>& v) {
  for (auto& op : history_)
    if (op.kind == lin::op_kind::list && op.err == lin::err_kind::none)
      for (size_t i = 1; i < op.listed.size(); ++i)
        if (!(op.listed[i - 1] < op.listed[i]))
          v.push_back("List is not sorted: " + lin::describe(op));
}

} // namespace actorvol::harness::detail
