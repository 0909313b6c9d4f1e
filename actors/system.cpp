#include "actors/system.hpp"

#include "actors/gateway.hpp"
#include "actors/log.hpp"
#include "actors/registry.hpp"
#include "actors/worker.hpp"
#include "adaptors/dir.hpp"
#include "adaptors/mounted.hpp"

#include <caf/all.hpp>

namespace actorvol {

plugin_system::plugin_system(caf::actor_system& sys, system_options opts)
  : sys_(sys), opts_(std::move(opts)) {
}

CatalogPtr plugin_system::default_adaptors(const std::filesystem::path& root) {
  auto c = std::make_shared<catalog>();
  c->add(std::make_shared<dir_adaptor>(root / "volumes"));  // the default
  c->add(std::make_shared<tmpfs_adaptor>(root, real_sys()));
  c->add(std::make_shared<loop_adaptor>(root, real_sys()));
  c->add(std::make_shared<passthrough_adaptor>(root, real_sys()));
  return c;
}

caf::expected<size_t> plugin_system::start() {
  auto store = std::make_shared<state_store>(opts_.root / "state");
  if (auto err = store->init())
    return err;
  std::error_code fe;
  std::filesystem::create_directories(opts_.root / "volumes", fe);
  pool_ = sys_.spawn(worker_pool, opts_.workers);
  auto adaptors = opts_.adaptors ? opts_.adaptors : default_adaptors(opts_.root);
  volume_deps deps{pool_, {}, adaptors, store};
  registry_ = sys_.spawn(actorvol::registry, deps);
  size_t recovered = 0;
  for (auto& loaded : store->load_all()) {
    if (loaded.record) {
      caf::anon_send(registry_, atom::adopt::value, std::move(*loaded.record), std::string{});
    } else {
      // A corrupt record never stops start-up and never disappears: its volume reports it.
      log::write(log::level::error,
                 {{"event", "recover"}, {"volume", loaded.name}, {"result", loaded.problem}});
      volume_record placeholder;
      placeholder.name = loaded.name;
      caf::anon_send(registry_, atom::adopt::value, std::move(placeholder), loaded.problem);
    }
    ++recovered;
  }
  gateway_ = sys_.spawn(actorvol::gateway, registry_, opts_.scope);
  if (!opts_.reconcile.docker_socket.empty()) {
    probe_ = sys_.spawn<caf::detached>(docker_probe, opts_.reconcile.docker_socket);
    reconciler_ = sys_.spawn(actorvol::reconciler, registry_, probe_, opts_.reconcile);
  }
  return recovered;
}

void plugin_system::stop() {
  if (reconciler_) {
    caf::anon_send_exit(reconciler_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(probe_, caf::exit_reason::user_shutdown);
  }
  caf::anon_send_exit(gateway_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(pool_, caf::exit_reason::user_shutdown);
}

} // namespace actorvol
