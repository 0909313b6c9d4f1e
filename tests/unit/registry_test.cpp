// The REGISTRY keeps an idle VOLUME running for a while (a volume mounted and unmounted over
// and over keeps one actor), at most keep_idle_max of them, and then lets it sleep as a
// record: counted with CAF's own count of running actors, on a real journal and directory
// volumes in a temp root.

#include "actors/journal_store.hpp"
#include "actors/registry.hpp"
#include "actors/worker.hpp"
#include "adaptors/dir.hpp"
#include "support/temp_dir.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

using namespace actorvol;
using namespace std::chrono_literals;

namespace {

class KeptIdle : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(store->init());
    auto adaptors = std::make_shared<catalog>();
    adaptors->add(std::make_shared<dir_adaptor>(tmp / "volumes"));
    volume_deps deps{sys.spawn(worker_pool, 1, 4), {}, adaptors, store, {}, {}, {}};
    deps.keep_idle = 500ms;
    deps.keep_idle_max = 1;
    pool = deps.worker;
    registry = sys.spawn(actorvol::registry, deps);
  }

  void TearDown() override {
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
  }

  // Sends `xs` to the REGISTRY and fails the test on an error answer.
  template <class Result, class... Ts>
  void ask(Ts&&... xs) {
    caf::scoped_actor me{sys};
    me->request(registry, caf::infinite, std::forward<Ts>(xs)...)
      .receive([](const Result&) {},
               [](caf::error& err) { ADD_FAILURE() << render(err); });
  }

  // CAF's count of running actors once it has not moved for 300 ms.
  size_t running_steady() {
    auto n = sys.registry().running();
    for (auto since = std::chrono::steady_clock::now();
         std::chrono::steady_clock::now() - since < 300ms;) {
      std::this_thread::sleep_for(5ms);
      if (auto now = sys.registry().running(); now != n) {
        n = now;
        since = std::chrono::steady_clock::now();
      }
    }
    return n;
  }

  // CAF's count of running actors once it settles at `n` (or what it is after 10 s).
  size_t running_settles_at(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (sys.registry().running() != n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return sys.registry().running();
  }

  test::temp_dir tmp;
  std::shared_ptr<journal_store> store = std::make_shared<journal_store>(tmp / "state");
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  worker_actor pool;
  registry_actor registry;
};

} // namespace

TEST_F(KeptIdle, AnIdleVolumeKeepsItsActorForAWhileThenSleepsAsARecord) {
  auto base = running_steady();  // the pool, its worker and the REGISTRY
  ask<atom::ok>(atom::create::value, std::string{"v1"}, volume_opts{});
  EXPECT_EQ(running_settles_at(base + 1), base + 1) << "v1's VOLUME is kept while idle";
  for (int i = 0; i < 5; ++i) {
    ask<std::string>(atom::mount::value, std::string{"v1"}, std::string{"c"});
    ask<atom::ok>(atom::unmount::value, std::string{"v1"}, std::string{"c"});
    EXPECT_EQ(sys.registry().running(), base + 1) << "one VOLUME for every Mount of v1";
  }
  // A second idle volume is one more than keep_idle_max: the longest idle sleeps at once.
  ask<atom::ok>(atom::create::value, std::string{"v2"}, volume_opts{});
  EXPECT_EQ(running_settles_at(base + 1), base + 1);
  // After keep_idle (and a sweep), none is left running; both answer from their records.
  EXPECT_EQ(running_settles_at(base), base) << "an idle VOLUME was never retired";
  ask<std::string>(atom::path::value, std::string{"v1"});
  ask<std::string>(atom::path::value, std::string{"v2"});
  ask<std::string>(atom::mount::value, std::string{"v1"}, std::string{"c"});
  EXPECT_EQ(running_settles_at(base + 1), base + 1) << "a Mount wakes v1 again";
  ask<atom::ok>(atom::unmount::value, std::string{"v1"}, std::string{"c"});
}
