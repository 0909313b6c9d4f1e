// The sshfs adaptor's option checks and the secret store, without a server: what is refused
// and how (never echoing a credential), and the store's files and rules.

#include "adaptors/secrets.hpp"
#include "adaptors/sshfs.hpp"
#include "core/error.hpp"
#include "support/mock_sys.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

using namespace actorvol;
namespace fs = std::filesystem;

namespace {

const char* key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n"
                  "-----END OPENSSH PRIVATE KEY-----\n";

volume_spec spec(volume_opts extra) {
  volume_opts o = {{"type", "sshfs"}, {"host", "files.example"}, {"path", "/srv/a"},
                   {"secret", "k"}};
  for (auto& [k, v] : extra)
    o[k] = v;
  return {"v", o};
}

} // namespace

TEST(SshfsOptions, AcceptsOnlyTypeSshfs) {
  test::temp_dir dir;
  sshfs_adaptor a{dir.path(), std::make_shared<test::mock_sys>(), secret_store{dir / "s"}};
  EXPECT_TRUE(a.accepts({{"type", "sshfs"}}));
  EXPECT_FALSE(a.accepts({{"type", "nfs"}}));
  EXPECT_FALSE(a.accepts({}));
}

TEST(SshfsOptions, ValidatesWithoutTouchingAnything) {
  test::temp_dir dir;
  sshfs_adaptor a{dir.path(), std::make_shared<test::mock_sys>(), secret_store{dir / "s"}};
  EXPECT_FALSE(a.validate(spec({})));
  EXPECT_FALSE(a.validate(spec({{"port", "2222"}, {"user", "backup"}, {"timeout", "30"},
                                {"known_host", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"},
                                {"o", "reconnect,Compression=yes,uid=1000,gid=1000,ro"}})));
  EXPECT_FALSE(fs::exists(dir / "s"));
  struct bad_case {
    volume_opts opts;
    const char* says;
  };
  for (auto& [opts, says] : std::vector<bad_case>{
         {{{"host", ""}}, "host="},
         {{{"host", "-oProxyCommand=x"}}, "host="},
         {{{"host", "a b"}}, "host="},
         {{{"port", "65536"}}, "port="},
         {{{"port", "22x"}}, "port="},
         {{{"user", "-l"}}, "user="},
         {{{"path", "srv"}}, "path="},
         {{{"path", "/srv\nx"}}, "path="},
         {{{"secret", ""}}, "secret="},
         {{{"secret", "a.b"}}, "secret="},
         {{{"known_host", "ssh-dss AAAAB3NzaC1kc3MAAACBAExample"}}, "known_host="},
         {{{"timeout", "56"}}, "timeout="},
         {{{"o", "ProxyCommand=nc"}}, "o=ProxyCommand"},
         {{{"o", "uid=1000;rm"}}, "o=uid"},
         {{{"o", "StrictHostKeyChecking=accept-new"}}, "host keys are always checked"},
         {{{"o", "password_stdin"}}, "secret="},
         {{{"fs", "ext4"}}, "fs"},
       }) {
    auto err = a.validate(spec(opts));
    ASSERT_TRUE(err) << opts.begin()->first;
    EXPECT_NE(render(err).find(says), std::string::npos) << render(err);
  }
}

TEST(SshfsOptions, InlineCredentialsPointToSecretsAndAreNeverRepeated) {
  test::temp_dir dir;
  sshfs_adaptor a{dir.path(), std::make_shared<test::mock_sys>(), secret_store{dir / "s"}};
  for (auto& opts : std::vector<volume_opts>{{{"password", "s3cr3t-value"}},
                                            {{"PASSWORD", "s3cr3t-value"}},
                                            {{"passphrase", "s3cr3t-value"}},
                                            {{"o", "password=s3cr3t-value"}},
                                            {{"note", std::string{key} + "s3cr3t-value"}}}) {
    auto err = a.validate(spec(opts));
    ASSERT_TRUE(err);
    auto text = render(err);
    EXPECT_NE(text.find("secret=NAME"), std::string::npos) << text;
    EXPECT_EQ(text.find("s3cr3t-value"), std::string::npos) << text;
  }
}

TEST(SecretStore, SetFindListRemove) {
  test::temp_dir dir;
  secret_store s{dir / "secrets"};
  EXPECT_EQ(s.set("k", secret_store::kind::key, key), "");
  EXPECT_EQ(s.set("pw", secret_store::kind::password, "hunter2\n"), "");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "secrets").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::string error;
  auto k = s.find("k", error);
  ASSERT_TRUE(k) << error;
  EXPECT_EQ(k->type, secret_store::kind::key);
  EXPECT_EQ(read_secret(k->file, error), key);
  auto pw = s.find("pw", error);
  ASSERT_TRUE(pw);
  EXPECT_EQ(read_secret(pw->file, error), "hunter2");
  // A crash while writing leaves a temporary file, which is never listed.
  { std::ofstream(dir / "secrets" / ".tmp.123") << "half"; }
  auto all = s.list(error);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "k");
  EXPECT_EQ(all[1].name, "pw");
  EXPECT_FALSE(s.find("nope", error));
  EXPECT_NE(error.find("actorvol secret set nope"), std::string::npos);
  EXPECT_EQ(s.remove("pw", false), "");
  EXPECT_FALSE(s.find("pw", error));
  EXPECT_NE(s.remove("pw", false), "");
}

TEST(SecretStore, RefusesBadNamesBadKeysAndLooseFiles) {
  test::temp_dir dir;
  secret_store s{dir / "secrets"};
  for (const std::string& name :
       std::vector<std::string>{"", "-a", "a.b", "a/b", "..", std::string(65, 'a')})
    EXPECT_NE(s.set(name, secret_store::kind::password, "x"), "") << name;
  EXPECT_NE(s.set("k", secret_store::kind::key, "not a key"), "");
  EXPECT_NE(s.set("k", secret_store::kind::password, "a\nb"), "");
  EXPECT_NE(s.set("k", secret_store::kind::password, "\n"), "");
  EXPECT_NE(s.set("k", secret_store::kind::password, std::string(70000, 'x')), "");
  ASSERT_EQ(s.set("k", secret_store::kind::key, key), "");
  ::chmod((dir / "secrets" / "k.key").c_str(), 0640);
  std::string error;
  EXPECT_FALSE(s.find("k", error));
  EXPECT_NE(error.find("chmod 600"), std::string::npos);
  ::chmod((dir / "secrets" / "k.key").c_str(), 0600);
  ::chmod((dir / "secrets").c_str(), 0755);
  EXPECT_FALSE(s.find("k", error));
  EXPECT_NE(error.find("chmod 700"), std::string::npos);
}

TEST(SecretStore, UsesPinASecret) {
  test::temp_dir dir;
  secret_store s{dir / "secrets"};
  EXPECT_NE(s.add_use("k", "v1"), "");  // not set
  ASSERT_EQ(s.set("k", secret_store::kind::key, key), "");
  ASSERT_EQ(s.add_use("k", "v1"), "");
  ASSERT_EQ(s.add_use("k", "v2"), "");
  ASSERT_EQ(s.add_use("k", "v2"), "");  // again: one use
  EXPECT_EQ(s.users("k"), (std::vector<std::string>{"v1", "v2"}));
  auto refused = s.remove("k", false);
  EXPECT_NE(refused.find("v1, v2"), std::string::npos) << refused;
  EXPECT_EQ(s.drop_use("k", "v1"), "");
  EXPECT_EQ(s.drop_use("k", "v1"), "");  // again: nothing to do
  EXPECT_NE(s.remove("k", false), "");
  EXPECT_EQ(s.drop_use("k", "v2"), "");
  EXPECT_FALSE(fs::exists(dir / "secrets" / "k.uses"));
  EXPECT_EQ(s.remove("k", false), "");
  // --force: for uses a crash left behind.
  ASSERT_EQ(s.set("k", secret_store::kind::key, key), "");
  ASSERT_EQ(s.add_use("k", "gone"), "");
  EXPECT_EQ(s.remove("k", true), "");
  EXPECT_TRUE(s.users("k").empty());
}

TEST(SecretStore, HostsBindASecret) {
  test::temp_dir dir;
  secret_store s{dir / "secrets"};
  ASSERT_EQ(s.set("k", secret_store::kind::key, key, {"files.example", "10.0.0.7:2222"}), "");
  std::string error;
  auto e = s.find("k", error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->hosts, (std::vector<std::string>{"files.example:22", "10.0.0.7:2222"}));
  EXPECT_TRUE(secret_store::allows(*e, "files.example", "22", error));
  EXPECT_TRUE(secret_store::allows(*e, "10.0.0.7", "2222", error));
  EXPECT_FALSE(secret_store::allows(*e, "10.0.0.7", "22", error));
  EXPECT_NE(error.find("may only be sent to files.example:22, 10.0.0.7:2222"), std::string::npos);
  for (auto bad : {"-oProxyCommand=x", "h:0", "h:65536", "h:x", ":22", "a b"})
    EXPECT_NE(s.set("k", secret_store::kind::key, key, {bad}), "") << bad;
  // Set again without hosts: free to go anywhere, and nothing of the old binding is left.
  ASSERT_EQ(s.set("k", secret_store::kind::key, key), "");
  e = s.find("k", error);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->hosts.empty());
  EXPECT_FALSE(fs::exists(dir / "secrets" / "k.hosts"));
  ASSERT_EQ(s.set("k", secret_store::kind::key, key, {"h"}), "");
  EXPECT_EQ(s.remove("k", false), "");
  EXPECT_FALSE(fs::exists(dir / "secrets" / "k.hosts"));
}
