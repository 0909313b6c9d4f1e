// The machine's floors: what the disk and the kernel cost before any code of ours runs. The
// performance goals are judged against these (bench/README.md, "Floors").
//
//   bench_floors [--dir DIR] [--volumes N] [--syncs M] [--handoffs K] [--out FILE]
//
//   mkdir     N volume directories as a directory volume has them (NAME, then NAME/_data),
//             one thread, in a fresh directory under DIR (default: the temp directory; point
//             it at the filesystem of --root to measure that one): us per volume, and the
//             total for N
//   fdatasync M appends of 4 KiB to one file, each followed by fdatasync (what a commit
//             costs at least): p50 and p99 latency, and the CPU time each took
//   handoff   K round trips between two threads on the same CPU through a mutex and a
//             condition variable (how a request reaches another thread and comes back): us
//             per round trip
//   caf       K requests from one CAF actor to another and their answers, on CAF's sharing
//             scheduler with one thread (as actorvol runs it on one CPU): us per message;
//             and K requests from a thread outside CAF to an actor, each waited for: us per
//             round trip
//
// Nothing here is compared with a limit: it prints what it measured. It fails only when a
// system call fails.

#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <caf/all.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

double us_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

// CPU time of the calling thread, user and system.
double thread_cpu_us() {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

double percentile(std::vector<double> xs, double p) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? 0 : xs[std::min(xs.size() - 1, static_cast<size_t>(p * xs.size()))];
}

struct row {
  std::string name, metric, unit;
  double value;
  std::string detail;  // more fields for the JSON line, already rendered
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_floors: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

row measure_mkdir(const fs::path& base, long volumes) {
  auto t0 = clock_type::now();
  std::string name;
  for (long i = 0; i < volumes; ++i) {
    name = (base / ("volume-" + std::to_string(i))).string();
    if (::mkdir(name.c_str(), 0755) != 0)
      fail("mkdir " + name);
    name += "/_data";
    if (::mkdir(name.c_str(), 0755) != 0)
      fail("mkdir " + name);
  }
  double us = us_since(t0);
  char detail[96];
  std::snprintf(detail, sizeof detail, "\"volumes\":%ld,\"total_s\":%.3f", volumes, us / 1e6);
  return {"mkdir", "per volume (NAME and NAME/_data)", "us", us / volumes, detail};
}

row measure_fdatasync(const fs::path& base, long syncs) {
  auto path = (base / "journal").string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    fail("open " + path);
  std::vector<char> page(4096, 'x');
  std::vector<double> lat;
  double cpu0 = thread_cpu_us();
  for (long i = 0; i < syncs; ++i) {
    auto t0 = clock_type::now();
    if (::pwrite(fd, page.data(), page.size(), static_cast<off_t>(i * page.size()))
          != static_cast<ssize_t>(page.size())
        || ::fdatasync(fd) != 0)
      fail("append and fdatasync " + path);
    lat.push_back(us_since(t0));
  }
  double cpu = (thread_cpu_us() - cpu0) / syncs;
  ::close(fd);
  char detail[128];
  std::snprintf(detail, sizeof detail, "\"syncs\":%ld,\"p99_us\":%.1f,\"cpu_us\":%.1f", syncs,
                percentile(lat, 0.99), cpu);
  return {"fdatasync",
          "append 4 KiB + fdatasync, p50 (CPU " + std::to_string(static_cast<int>(cpu + 0.5))
            + " us each)",
          "us", percentile(lat, 0.5), detail};
}

row measure_handoff(long rounds) {
  // Both threads on the CPU this one runs on, as on a server pinned to one CPU.
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(static_cast<int>(std::max(0, ::sched_getcpu())), &one);
  ::sched_setaffinity(0, sizeof one, &one);
  std::mutex m;
  std::condition_variable cv;
  long sent = 0, answered = 0;
  std::thread peer([&] {
    ::sched_setaffinity(0, sizeof one, &one);
    std::unique_lock<std::mutex> lock(m);
    for (long i = 1; i <= rounds; ++i) {
      cv.wait(lock, [&] { return sent == i; });
      answered = i;
      cv.notify_all();
    }
  });
  auto t0 = clock_type::now();
  {
    std::unique_lock<std::mutex> lock(m);
    for (long i = 1; i <= rounds; ++i) {
      sent = i;
      cv.notify_all();
      cv.wait(lock, [&] { return answered == i; });
    }
  }
  double us = us_since(t0);
  peer.join();
  char detail[64];
  std::snprintf(detail, sizeof detail, "\"rounds\":%ld", rounds);
  return {"handoff", "round trip to a thread on the same CPU", "us", us / rounds, detail};
}

struct driver_state {
  long left = 0;
  caf::actor done_to;
};

// Asks `pong` once, and again from the answer's handler, until none are left.
void ask_next(caf::stateful_actor<driver_state>* self, const caf::actor& pong) {
  if (self->state.left-- == 0) {
    self->send(self->state.done_to, caf::atom("done"));
    return;
  }
  self->request(pong, caf::infinite, 1).then([self, pong](int) { ask_next(self, pong); });
}

std::vector<row> measure_caf(long rounds) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  auto pong = sys.spawn([]() -> caf::behavior { return {[](int x) { return x + 1; }}; });
  auto driver = sys.spawn([pong](caf::stateful_actor<driver_state>* self) -> caf::behavior {
    return {[self, pong](long n, caf::actor to) {
      self->state.left = n;
      self->state.done_to = std::move(to);
      ask_next(self, pong);
    }};
  });
  std::vector<row> rows;
  {
    caf::scoped_actor waiter{sys};
    auto t0 = clock_type::now();
    waiter->send(driver, rounds, caf::actor{waiter});
    waiter->receive([](caf::atom_value) {});
    double us = us_since(t0);
    char detail[64];
    std::snprintf(detail, sizeof detail, "\"rounds\":%ld", rounds);
    rows.push_back({"caf.message", "between two actors, one scheduler thread", "us",
                    us / (2.0 * rounds), detail});
  }
  {
    caf::scoped_actor client{sys};
    auto t0 = clock_type::now();
    for (long i = 0; i < rounds; ++i)
      client->request(pong, caf::infinite, 1).receive([](int) {}, [](caf::error&) {
        errno = EIO;
        fail("a request to an actor");
      });
    double us = us_since(t0);
    char detail[64];
    std::snprintf(detail, sizeof detail, "\"rounds\":%ld", rounds);
    rows.push_back({"caf.from_thread", "a thread's request to an actor, answered", "us",
                    us / rounds, detail});
  }
  caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(pong, caf::exit_reason::user_shutdown);
  return rows;
}

int usage() {
  std::fprintf(stderr, "usage: bench_floors [--dir DIR] [--volumes N] [--syncs M] [--handoffs K] "
                       "[--out FILE]\n");
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  fs::path dir = fs::temp_directory_path();
  long volumes = 100000, syncs = 2000, handoffs = 200000;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc)
      return usage();
    std::string value = argv[++i];
    char* end = nullptr;
    long n = std::strtol(value.c_str(), &end, 10);
    bool number = !value.empty() && *end == '\0' && n > 0;
    if (flag == "--dir")
      dir = value;
    else if (flag == "--out")
      out = value;
    else if (!number)
      return usage();
    else if (flag == "--volumes")
      volumes = n;
    else if (flag == "--syncs")
      syncs = n;
    else if (flag == "--handoffs")
      handoffs = n;
    else
      return usage();
  }
  std::string tmpl = (dir / "actorvol-floors-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    fail("mkdtemp in " + dir.string());
  fs::path base = tmpl;
  std::vector<row> rows;
  rows.push_back(measure_mkdir(base, volumes));
  rows.push_back(measure_fdatasync(base, syncs));
  rows.push_back(measure_handoff(handoffs));
  for (auto& r : measure_caf(handoffs))
    rows.push_back(std::move(r));
  std::error_code ec;
  fs::remove_all(base, ec);

  double load[3] = {0, 0, 0};
  if (std::ifstream f("/proc/loadavg"); f)
    f >> load[0] >> load[1] >> load[2];
  std::printf("# floors in %s, loadavg %.2f %.2f %.2f\n", dir.c_str(), load[0], load[1], load[2]);
  std::printf("| floor | what | value |\n|---|---|---|\n");
  for (auto& r : rows)
    std::printf("| %s | %s | %.1f %s |\n", r.name.c_str(), r.metric.c_str(), r.value,
                r.unit.c_str());
  std::printf("mkdir for %ld volumes: %.2f s\n", volumes, rows[0].value * volumes / 1e6);
  if (!out.empty()) {
    std::ofstream f(out, std::ios::trunc);
    for (auto& r : rows)
      f << "{\"name\":\"floor." << r.name << "\",\"scenario\":\"floors\",\"metric\":\""
        << r.metric << "\",\"value\":" << r.value << ",\"unit\":\"" << r.unit << "\","
        << r.detail << "}\n";
    if (!f)
      fail("write " + out);
  }
  return 0;
}
