// Load benchmark: concurrent clients cycling Mount/Unmount against the real binary.
//
//   bench_load [--clients C] [--volumes V] [--seconds S]
//
// Prints requests per second and latency percentiles (microseconds).

#include "support/plugin.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace actorvol;

int main(int argc, char** argv) {
  long clients = 32, volumes = 8;
  double seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--clients")
      clients = std::atol(argv[i + 1]);
    else if (flag == "--volumes")
      volumes = std::atol(argv[i + 1]);
    else if (flag == "--seconds")
      seconds = std::atof(argv[i + 1]);
  }
  test::plugin p({"--log-level", "warn"});
  for (long v = 0; v < volumes; ++v)
    p.call("/VolumeDriver.Create", {{"Name", "b" + std::to_string(v)}});
  std::atomic<bool> stop{false};
  std::atomic<long> errors{0};
  std::vector<std::vector<long>> lat(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  auto t0 = std::chrono::steady_clock::now();
  for (long c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      test::connection conn(p.socket());
      auto vol = "b" + std::to_string(c % volumes);
      auto body = nlohmann::json{{"Name", vol}, {"ID", "c" + std::to_string(c)}}.dump();
      auto& mine = lat[static_cast<size_t>(c)];
      while (!stop) {
        for (auto ep : {"/VolumeDriver.Mount", "/VolumeDriver.Unmount"}) {
          auto s = std::chrono::steady_clock::now();
          auto r = conn.post(ep, body);
          mine.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - s)
                           .count());
          if (r.status != 200)
            ++errors;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads)
    t.join();
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<long> all;
  for (auto& l : lat)
    all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double q) {
    return all.empty() ? 0L : all[static_cast<size_t>(q * static_cast<double>(all.size() - 1))];
  };
  std::printf("load: clients=%ld volumes=%ld requests=%zu errors=%ld rps=%.0f p50_us=%ld "
              "p99_us=%ld max_us=%ld\n",
              clients, volumes, all.size(), errors.load(),
              static_cast<double>(all.size()) / elapsed, pct(0.5), pct(0.99), pct(1.0));
  return errors.load() == 0 && !all.empty() ? 0 : 1;
}
