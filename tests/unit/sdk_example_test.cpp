// The README's adaptor example, plugged into the real actors without touching them.

#include "actors/system.hpp"
#include "adaptors/dir.hpp"
#include "adaptors/examples/seeded.hpp"
#include "support/temp_dir.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <fstream>

using namespace actorvol;
namespace fs = std::filesystem;

TEST(SdkExample, ASeededBackendPlugsIn) {
  test::temp_dir tmp;
  fs::create_directories(tmp / "template/sub");
  std::ofstream(tmp / "template/sub/hello") << "hi";
  auto adaptors = std::make_shared<catalog>();
  adaptors->add(std::make_shared<dir_adaptor>(tmp / "root/volumes"));
  adaptors->add(std::make_shared<examples::seeded_adaptor>(tmp / "root/seeded"));

  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  system_options opts;
  opts.root = tmp / "root";
  opts.workers = 2;
  opts.adaptors = adaptors;
  plugin_system actors{sys, opts};
  ASSERT_TRUE(actors.start());
  caf::scoped_actor self{sys};
  auto registry = actors.registry();

  auto seed = (tmp / "template").string();
  self->request(registry, caf::infinite, atom::create::value, std::string{"s"},
                volume_opts{{"seed", seed}})
    .receive([](atom::ok) {}, [](caf::error& e) { FAIL() << render(e); });
  std::string mountpoint;
  self->request(registry, caf::infinite, atom::mount::value, std::string{"s"}, std::string{"c1"})
    .receive([&](std::string& mp) { mountpoint = mp; }, [](caf::error& e) { FAIL() << render(e); });
  EXPECT_EQ(mountpoint, (tmp / "root/seeded/s/_data").string());
  std::ifstream copied(mountpoint + "/sub/hello");
  std::string text;
  copied >> text;
  EXPECT_EQ(text, "hi");
  self->request(registry, caf::infinite, atom::get::value, std::string{"s"})
    .receive([&](volume_info& info) {
      EXPECT_EQ(info.status["Backend"], "seeded");
      EXPECT_EQ(info.mounts, 1u);
    },
    [](caf::error& e) { FAIL() << render(e); });
  // Options no backend accepts are refused by the default backend, naming the option.
  self->request(registry, caf::infinite, atom::create::value, std::string{"t"},
                volume_opts{{"sede", seed}})
    .receive([](atom::ok) { FAIL() << "accepted an unknown option"; },
             [](caf::error& e) { EXPECT_EQ(render(e), "volume \"t\": unknown option \"sede\""); });
  actors.stop();
}
