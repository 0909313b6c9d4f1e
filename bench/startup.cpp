// Start-up benchmark: how long the real binary takes to recover N volumes and serve them.
//
//   bench_startup [--volumes N] [--uses K]
//
// Writes N records (K of them with a recorded use) into a temp root in release 0.x's form
// (one file each), starts build/actorvol on it (which migrates them into its journal), kills
// it with SIGKILL, and starts it again: for both starts, the time from exec to the socket
// and to the first List that returns all N volumes.

#include "actors/store.hpp"
#include "support/plugin.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

using namespace actorvol;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  long volumes = 100000, uses = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--volumes")
      volumes = std::atol(argv[i + 1]);
    else if (flag == "--uses")
      uses = std::atol(argv[i + 1]);
  }
  test::temp_dir tmp;
  auto root = tmp / "root";
  fs::create_directories(root / "state" / ".tmp");
  for (long i = 0; i < volumes; ++i) {
    volume_record r;
    r.name = "vol" + std::to_string(i);
    r.created_at = "2026-01-01T00:00:00Z";
    if (i < uses) {
      r.uses["id"] = 1;
      r.used_since["id"] = 1;
      fs::create_directories(root / "volumes" / r.name / "_data");
    }
    std::ofstream(root / "state" / r.name) << state_store::encode(r);
  }
  auto ms = [](auto d) {
    return static_cast<long long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  size_t listed = 0;
  for (auto run : {"migrate", "restart"}) {
    auto t0 = std::chrono::steady_clock::now();
    test::plugin p(root.string(), {"--log-level", "warn"}, {});
    auto t_socket = std::chrono::steady_clock::now();
    while (true) {
      auto list = p.call("/VolumeDriver.List").json();
      listed = list["Volumes"].size();
      if (listed >= static_cast<size_t>(volumes))
        break;
    }
    auto t_ready = std::chrono::steady_clock::now();
    std::printf("startup: run=%s volumes=%ld with_uses=%ld socket_ms=%lld ready_ms=%lld\n", run,
                volumes, uses, ms(t_socket - t0), ms(t_ready - t0));
    p.stop(SIGKILL);
  }
  return listed == static_cast<size_t>(volumes) ? 0 : 1;
}
