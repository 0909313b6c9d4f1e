#pragma once

// An example backend for the SDK (README: "Writing an adaptor"): a directory volume whose
// data starts as a copy of a template directory, `docker volume create -o seed=/srv/tmpl`.
// It is compiled and tested (tests/unit/sdk_example_test.cpp) so the README stays true.

#include "adaptors/adaptor.hpp"

#include <filesystem>

namespace actorvol::examples {

class seeded_adaptor : public adaptor {
public:
  explicit seeded_adaptor(std::filesystem::path dir) : dir_(std::move(dir)) {
  }

  bool accepts(const volume_opts& opts) const override {
    return opts.count("seed") == 1;
  }

  caf::error validate(const volume_spec& v) const override {
    for (auto& [key, value] : v.opts)
      if (key != "seed")
        return make_error(ec::unknown_option, v.name, key);
    return caf::none;
  }

  caf::error create(const volume_spec& v) override {
    namespace fs = std::filesystem;
    std::error_code err;
    fs::create_directories(data(v), err);
    if (!err)
      fs::copy(v.opts.at("seed"), data(v), fs::copy_options::recursive, err);
    if (err) {
      fs::remove_all(dir_ / v.name);  // nothing half-made is left behind
      return make_error(ec::backend_failed, v.name,
                        "copy of " + v.opts.at("seed") + " failed: " + os_reason(err.value()));
    }
    return caf::none;
  }

  caf::error remove(const volume_spec& v) override {
    std::error_code err;
    std::filesystem::remove_all(dir_ / v.name, err);
    return err ? make_error(ec::backend_failed, v.name, "remove failed: " + os_reason(err.value()))
               : caf::none;
  }

  caf::expected<std::string> mount(const volume_spec& v) override {
    return data(v).string();  // a directory: nothing to attach
  }

  caf::error unmount(const volume_spec&) override {
    return caf::none;
  }

  status_map status(const volume_spec& v) override {
    return {{"Backend", "seeded"}, {"Seed", v.opts.at("seed")}};
  }

private:
  std::filesystem::path data(const volume_spec& v) const {
    return dir_ / v.name / "_data";
  }

  std::filesystem::path dir_;
};

} // namespace actorvol::examples
