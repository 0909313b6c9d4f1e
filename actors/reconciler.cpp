#include "actors/reconciler.hpp"

#include "core/metrics.hpp"

#include "core/log.hpp"

#include <caf/all.hpp>

#include <set>

namespace actorvol {

namespace {

using self_ptr = reconciler_actor::stateful_pointer<reconciler_state>;

void warn(const caf::error& err) {
  log::write(log::level::warn, {{"event", "reconcile"}, {"result", render(err)}});
}

// Drops the stale uses of every mounted volume that no live container references.
void drop_unreferenced(self_ptr self, std::set<std::string> referenced) {
  self->request(self->state.registry, caf::infinite, atom::list::value)
    .then(
      [self, referenced](view_listing& listed) {
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
        auto before = now - self->state.opts.grace.count();
        for (auto& e : listed->entries) {
          auto& info = e->info;
          if (info.mounts == 0 || referenced.count(info.name) > 0)
            continue;
          auto name = info.name;
          self->request(self->state.registry, caf::infinite, atom::drop::value, name, before)
            .then(
              [name](std::vector<std::string>& ids) {
                metrics::service().reconcile_dropped.add(ids.size());
                for (auto& id : ids)
                  log::write(log::level::warn, {{"event", "reconcile-drop"},
                                                {"volume", name},
                                                {"id", id},
                                                {"reason", "no live container uses it"}});
              },
              warn);
        }
        self->state.busy = false;
      },
      [self](caf::error& err) {
        warn(err);
        self->state.busy = false;
      });
}

} // namespace

reconciler_actor::behavior_type reconciler(self_ptr self, registry_actor registry,
                                           docker_probe_actor probe, reconciler_options opts) {
  self->state.registry = std::move(registry);
  self->state.probe = std::move(probe);
  self->state.opts = std::move(opts);
  self->send(self, atom::reconcile::value);
  return {
    [self](atom::reconcile) {
      self->delayed_send(self, self->state.opts.interval, atom::reconcile::value);
      if (self->state.busy)
        return;  // the previous pass still waits for Docker
      self->state.busy = true;
      self->request(self->state.probe, std::chrono::seconds(30), atom::get::value)
        .then(
          [self](std::vector<std::string>& names) {
            drop_unreferenced(self, {names.begin(), names.end()});
          },
          [self](caf::error& err) {
            warn(err);
            self->state.busy = false;
          });
    },
  };
}

} // namespace actorvol
