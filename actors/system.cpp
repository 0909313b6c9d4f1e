#include "actors/system.hpp"

#include "adaptors/safe_fs.hpp"

#include "actors/journal_store.hpp"

#include "actors/registry.hpp"
#include "actors/worker.hpp"
#include "adaptors/sys.hpp"
#include "core/log.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <iterator>
#include <set>


namespace fs = std::filesystem;

namespace actorvol {

plugin_system::plugin_system(caf::actor_system& sys, system_options opts)
  : sys_(sys), opts_(std::move(opts)) {
}

namespace {

// A crash between an attach and its record leaves a mount that no recorded use explains:
// detach it. `keep`: the volumes with recorded uses, and those whose record is unreadable
// (their uses are unknown). Every other volume sleeps, so no VOLUME mounts meanwhile.
void detach_strays(const fs::path& root, const std::set<std::string>& keep) {
  auto& sys = *real_sys();
  for (auto& [name, mp] : safe_fs::volume_mounts(sys, root / "volumes")) {
    if (keep.count(name))
      continue;
    int e = safe_fs::detach_stray(sys, mp);
    log::write(e ? log::level::error : log::level::warn,
               {{"event", "recover"},
                {"volume", name},
                {"result", e ? "stray mount " + mp + " could not be detached: " + os_reason(e)
                             : "detached stray mount " + mp + " (no recorded use)"}});
  }
}

} // namespace

caf::expected<size_t> plugin_system::start() {
  std::error_code fe;
  fs::create_directories(opts_.root, fe);
  auto real = fs::canonical(opts_.root, fe);
  if (fe)
    return make_error(ec::state_write_failed, "",
                      "cannot resolve --root " + opts_.root.string() + ": " + os_reason(fe.value()));
  opts_.root = real;  // mount checks and deletion compare real paths only
  auto store = std::make_shared<journal_store>(opts_.root / "state");
  if (auto err = store->init())
    return err;
  fs::create_directories(opts_.root / "volumes", fe);
  pool_ = sys_.spawn(worker_pool, opts_.workers, opts_.max_workers);
  auto adaptors = opts_.adaptors ? opts_.adaptors : default_catalog(opts_.root, opts_.host_root, opts_.secrets);
  volume_deps deps{pool_, {}, adaptors, store, {opts_.root, real_sys()}, opts_.limits, view_};
  registry_ = sys_.spawn(actorvol::registry, deps);
  // Each part of the records is made ready here, and the REGISTRY takes it while the next
  // one is read. The VOLUMEs that re-attach uses come last, once every record was read.
  std::set<std::string> keep;  // volumes whose mounts are explained, or not known
  auto awake = std::make_shared<adoption>();
  size_t recovered = 0;
  auto err = store->load_each(state_store::load_part, [&](std::vector<loaded_record> part) {
    // A record under a name no request can carry (the journal edited by hand) would be
    // listed for good and never removed: it is left in the journal, unused, and logged.
    part.erase(std::remove_if(part.begin(), part.end(),
                              [](const loaded_record& l) {
                                if (valid_volume_name(l.name))
                                  return false;
                                log::write(log::level::error,
                                           {{"event", "recover"},
                                            {"volume", printable(l.name)},
                                            {"result", "record ignored: not a valid volume "
                                                       "name (left in the journal)"}});
                                return true;
                              }),
               part.end());
    for (auto& l : part) {
      // A corrupt record never stops start-up and never disappears: its volume reports it.
      if (!l.record)
        log::write(log::level::error,
                   {{"event", "recover"}, {"volume", l.name}, {"result", l.problem}});
      if (!l.record || l.record->total_uses() > 0)
        keep.insert(l.name);
    }
    recovered += part.size();
    caf::anon_send(registry_, atom::adopt::value,
                   prepare_adoption(*view_, std::move(part), awake->awake));
  });
  if (err) {
    stop();
    return err;
  }
  detach_strays(opts_.root, keep);
  caf::anon_send(registry_, atom::adopt::value, std::move(awake));
  if (opts_.probe)
    reconciler_ = sys_.spawn(actorvol::reconciler, registry_, opts_.probe, opts_.reconcile);
  return recovered;
}

void plugin_system::abort_requests() {
  caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
}

void plugin_system::stop() {
  if (reconciler_) {
    caf::anon_send_exit(reconciler_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(opts_.probe, caf::exit_reason::user_shutdown);
  }
  caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(pool_, caf::exit_reason::user_shutdown);
}

} // namespace actorvol
