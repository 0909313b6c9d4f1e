#include "actors/store.hpp"

#include "core/error.hpp"
#include "core/failpoint.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <thread>

using json = nlohmann::json;

namespace actorvol {

namespace {

// What is wrong with `text` as the record of `name` ("" when nothing is); fills `r`.
std::string parse(const std::string& name, const std::string& text, volume_record& r) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return "not a JSON object";
  try {
    r.name = j.at("name").get<std::string>();
    r.opts = j.at("opts").get<volume_opts>();
    r.created_at = j.at("created_at").get<std::string>();
    r.uses = j.at("uses").get<mount_uses>();
    if (j.contains("used_since"))
      r.used_since = j.at("used_since").get<std::map<std::string, int64_t>>();
  } catch (const json::exception& e) {
    return e.what();
  }
  if (r.name != name)
    return "it names volume \"" + printable(r.name) + "\"";
  for (auto& [id, count] : r.uses)
    if (count == 0)
      return "mount id \"" + printable(id) + "\" has a zero count";
  return "";
}

} // namespace

std::string state_store::encode(const volume_record& r) {
  json j;
  j["version"] = 1;
  j["name"] = r.name;
  j["opts"] = r.opts;
  j["created_at"] = r.created_at;
  j["uses"] = r.uses;
  j["used_since"] = r.used_since;
  return j.dump();
}

caf::expected<volume_record> state_store::decode(const std::string& name,
                                                 const std::string& text) {
  volume_record r;
  auto why = parse(name, text, r);
  if (!why.empty())
    return make_error(ec::backend_failed, name, "corrupt state record: " + why);
  return r;
}

void state_store::decode_all(std::vector<loaded_record>& out,
                             const std::vector<std::string>& texts, unsigned threads) {
  auto decode_range = [&](size_t begin, size_t end) {
    for (auto i = begin; i < end; ++i) {
      if (!out[i].problem.empty())
        continue;  // could not even be read
      volume_record r;
      if (auto why = parse(out[i].name, texts[i], r); !why.empty())
        out[i].problem = "corrupt state record: " + why;
      else
        out[i].record = std::move(r);
    }
  };
  threads = std::max(1u, std::min<unsigned>(threads, out.size() / 1000 + 1));
  std::vector<std::thread> pool;
  auto per = (out.size() + threads - 1) / threads;
  for (unsigned t = 1; t < threads; ++t) {
    auto begin = std::min(out.size(), t * per);
    pool.emplace_back(decode_range, begin, std::min(out.size(), begin + per));
  }
  decode_range(0, std::min(out.size(), per));
  for (auto& t : pool)
    t.join();
}

caf::error state_store::injected(const std::string& name) {
  auto fault = failpoint::hit("state.write");
  if (!fault.empty())
    return make_error(ec::state_write_failed, name, fault);
  return caf::none;
}

} // namespace actorvol
