#pragma once

// A network backend written against the SDK only: a remote directory over SSH (sshfs, FUSE),
// mounted on ROOT/volumes/NAME/_data on first use and unmounted on the last, like the other
// mounted backends.
//
//   docker volume create -d actorvol -o type=sshfs -o host=H [-o port=P] [-o user=U]
//       -o path=/remote/dir -o secret=NAME [-o known_host="TYPE BASE64"] [-o timeout=SECS]
//       [-o o=extra,sshfs,options]
//
// The credential is a secret kept by actorvol (adaptors/secrets.hpp), named by the volume and
// read at each attach: a key is handed to ssh as an IdentityFile path (root-only), a password
// through sshfs's stdin (password_stdin). Neither is ever an argument, an environment
// variable, an option Docker stores, a log line or part of an error. Host keys are always
// verified (StrictHostKeyChecking=yes): against the volume's known_host=, written to
// ROOT/volumes/NAME/known_hosts at each attach, else against the known_hosts file in the
// secrets directory that the operator manages, and the system's /etc/ssh/ssh_known_hosts.
//
// sshfs runs with reconnect, ServerAliveInterval=15, ServerAliveCountMax=3 and allow_other
// with default_permissions (containers running as another user get in, with what the remote
// files' modes give them), ssh's ConnectTimeout=timeout (10 s), and is killed when it has not
// mounted within 2 * timeout + 5 s. A secret bound to its servers (`secret set --host`) is
// sent to no other. An attached mount with its daemon is adopted without a look inside (a
// hanging server would hang the look); a dead mount (its sshfs gone, e.g. after the plugin
// restarted) is taken off and attached again; on detach the sshfs daemon is waited for, and
// stopped if it lingers.

#include "adaptors/mounted.hpp"
#include "adaptors/secrets.hpp"

namespace actorvol {

class sshfs_adaptor : public mounted_adaptor {
public:
  sshfs_adaptor(std::filesystem::path root, SysPtr sys, secret_store secrets);

  bool accepts(const volume_opts& opts) const override;
  caf::error validate(const volume_spec& v) const override;
  caf::expected<std::string> mount(const volume_spec& v) override;
  caf::error unmount(const volume_spec& v) override;
  status_map status(const volume_spec& v) override;

protected:
  caf::error make_store(const volume_spec& v) override;
  caf::error delete_store(const volume_spec& v) override;
  caf::error attach(const volume_spec& v, const std::string& target) override;
  const char* backend() const override {
    return "sshfs";
  }
  bool sets_ownership() const override {
    return false;  // the remote directory's own (sshfs o=uid=,gid=,umask= map it)
  }

private:
  /// Waits for the sshfs daemons serving `target` to exit after it was unmounted; stops
  /// them when they linger.
  void reap_daemons(const std::string& target);

  secret_store secrets_;
};

} // namespace actorvol
