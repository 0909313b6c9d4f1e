#include "linearizability/recorder.hpp"

#include "support/plugin.hpp"

#include <chrono>
#include <memory>
#include <random>
#include <thread>

namespace actorvol::lin {

namespace {

using json = nlohmann::json;

int64_t now_ns(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now()
                                                              - t0)
    .count();
}

// Picks the next request of a client.
operation next_request(std::mt19937_64& rng, int client, int volumes) {
  static const char* ids[] = {"a", "b", "c"};
  operation op;
  op.client = client;
  op.volume = "lin" + std::to_string(rng() % static_cast<uint64_t>(volumes));
  auto r = rng() % 100;
  if (r < 14) {
    op.kind = op_kind::create;
    if (rng() % 10 == 0)
      op.opts = {{"mode", "700"}};
  } else if (r < 38) {
    op.kind = op_kind::mount;
    op.id = ids[rng() % 3];
  } else if (r < 62) {
    op.kind = op_kind::unmount;
    // Now and then an ID nobody mounts: the answer must be "no mount with id".
    op.id = rng() % 12 == 0 ? "never-mounted" : ids[rng() % 3];
  } else if (r < 72) {
    op.kind = op_kind::remove;
  } else if (r < 84) {
    op.kind = op_kind::get;
  } else if (r < 96) {
    op.kind = op_kind::path;
  } else {
    op.kind = op_kind::list;
    op.volume.clear();
  }
  return op;
}

std::string endpoint_of(op_kind k) {
  return std::string{"/VolumeDriver."} + to_string(k);
}

json body_of(const operation& op) {
  json b = json::object();
  if (op.kind != op_kind::list)
    b["Name"] = op.volume;
  if (!op.id.empty())
    b["ID"] = op.id;
  if (op.kind == op_kind::create)
    b["Opts"] = op.opts.empty() ? json(nullptr) : json(op.opts);
  return b;
}

void fill_answer(operation& op, const test::response& r) {
  if (r.status == 0) {
    op.err = err_kind::unknown;
    op.ret = never;
    return;
  }
  auto j = r.json();
  if (!j.is_object()) {
    op.err = err_kind::other;
    op.err_text = r.body;
    return;
  }
  op.err_text = j.value("Err", "");
  op.err = classify_err(op.err_text);
  if (op.err != err_kind::none)
    return;
  switch (op.kind) {
    case op_kind::mount:
    case op_kind::path:
      op.mountpoint = j.value("Mountpoint", "");
      break;
    case op_kind::get: {
      auto& v = j["Volume"];
      op.mountpoint = v.value("Mountpoint", "");
      if (v.contains("Status") && v["Status"].contains("Mounts"))
        op.mounts = v["Status"]["Mounts"].get<int64_t>();
      break;
    }
    case op_kind::list:
      for (auto& v : j["Volumes"])
        op.listed.push_back(v.value("Name", ""));
      break;
    default:
      break;
  }
}

} // namespace

history record_history(const std::string& socket, const recorder_options& opt) {
  std::vector<history> per_client(static_cast<size_t>(opt.clients));
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < opt.clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(opt.seed * 1000003u + static_cast<uint64_t>(c));
      auto conn = std::make_unique<test::connection>(socket);
      auto& out = per_client[static_cast<size_t>(c)];
      out.reserve(static_cast<size_t>(opt.ops_per_client));
      for (int i = 0; i < opt.ops_per_client; ++i) {
        auto op = next_request(rng, c, opt.volumes);
        auto text = body_of(op).dump();
        op.call = now_ns(t0);
        auto r = conn->post(endpoint_of(op.kind), text);
        op.ret = now_ns(t0);
        fill_answer(op, r);
        out.push_back(std::move(op));
        if (r.status == 0)  // the connection broke: the next request goes on a new one
          conn = std::make_unique<test::connection>(socket);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  history h;
  for (auto& ops : per_client)
    h.insert(h.end(), ops.begin(), ops.end());
  return h;
}

} // namespace actorvol::lin
