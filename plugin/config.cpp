#include "plugin/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace actorvol {

std::string usage_text() {
  return "usage: actorvol [options]\n"
         "       actorvol check --root DIR [--repair] [--json]   check a root offline\n"
         "       actorvol secret set|ls|rm ...                   the secrets of sshfs volumes\n"
         "\n"
         "A Docker volume plugin. Serves Docker's volume plugin protocol on a Unix socket.\n"
         "\n"
         "options (each also read from the environment variable shown):\n"
         "  --socket PATH              socket to serve on       ACTORVOL_SOCKET\n"
         "                             (default /run/docker/plugins/actorvol.sock)\n"
         "  --root DIR                 state and volume data    ACTORVOL_ROOT\n"
         "                             (default /var/lib/actorvol)\n"
         "  --scope local|global       scope told to Docker     ACTORVOL_SCOPE (default local)\n"
         "  --log-level LEVEL          debug|info|warn|error    ACTORVOL_LOG_LEVEL (default info)\n"
         "  --docker-socket PATH       reconcile mount counts   ACTORVOL_DOCKER_SOCKET\n"
         "                             with this Docker Engine (default: off)\n"
         "  --reconcile-interval SECS  between reconciles       ACTORVOL_RECONCILE_INTERVAL (60)\n"
         "  --reconcile-grace SECS     minimum age of a use     ACTORVOL_RECONCILE_GRACE (120)\n"
         "                             before it may be dropped\n"
         "  --workers N                blocking worker threads  ACTORVOL_WORKERS (16)\n"
         "                             kept warm\n"
         "  --max-workers N            blocking worker threads  ACTORVOL_MAX_WORKERS (1024)\n"
         "                             at most (one per slow backend call in flight)\n"
         "  --mount-timeout SECS       deadline of Create and   ACTORVOL_MOUNT_TIMEOUT (120)\n"
         "                             Mount (Docker's own)\n"
         "  --op-timeout SECS          deadline of the other    ACTORVOL_OP_TIMEOUT (60)\n"
         "                             requests (Docker's own)\n"
         "  --host-root DIR            where the host's / is    ACTORVOL_HOST_ROOT\n"
         "                             mounted (managed plugin): device= paths resolve there\n"
         "  --secrets-dir DIR          secrets of sshfs volumes ACTORVOL_SECRETS_DIR\n"
         "                             (default ROOT/secrets; see `actorvol secret`)\n"
         "  --max-connections N        served at once           ACTORVOL_MAX_CONNECTIONS (4096)\n"
         "                             (at the bound, idle connections are closed to make\n"
         "                             room; the open-files limit is raised to its maximum)\n"
         "  --idle-timeout SECS        close idle connections   ACTORVOL_IDLE_TIMEOUT (60)\n"
         "  --listen URL               tcp://HOST:PORT to serve ACTORVOL_LISTEN\n"
         "                             on TCP instead of --socket (Docker finds it through\n"
         "                             /etc/docker/plugins/NAME.json); needs TLS, or\n"
         "                             --insecure-tcp-loopback on a loopback address\n"
         "  --tls-cert FILE            server certificate (PEM) ACTORVOL_TLS_CERT\n"
         "  --tls-key FILE             its private key (PEM)    ACTORVOL_TLS_KEY\n"
         "  --tls-client-ca FILE       require client certs     ACTORVOL_TLS_CLIENT_CA\n"
         "                             signed by this CA (mutual TLS; required off loopback)\n"
         "  --insecure-tcp-loopback    allow plain TCP, on a    ACTORVOL_INSECURE_TCP_LOOPBACK\n"
         "                             loopback address only (no value; env: 1 or 0)\n"
         "  --metrics-address HOST:PORT  serve Prometheus       ACTORVOL_METRICS_ADDRESS\n"
         "                             metrics on GET /metrics here (default: off)\n"
         "  --metrics-socket PATH      or on this Unix socket   ACTORVOL_METRICS_SOCKET\n"
         "  --help                     print this and exit\n"
         "  --version                  print the version and exit\n"
         "\n"
         "fault injection for tests: ACTORVOL_FAILPOINTS=\"adaptor.mount=delay(50);"
         "state.write=error(EIO)\"\n";
}

namespace {

bool to_long(const std::string& text, long min, long max, long& out) {
  if (text.empty())
    return false;
  char* end = nullptr;
  errno = 0;
  auto v = std::strtol(text.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE || v < min || v > max)
    return false;
  out = v;
  return true;
}

struct option {
  const char* flag;
  const char* env;
  std::function<std::string(config&, const std::string&)> set;  // "" or an error
  bool switch_only = false;  // takes no value on the command line ("1" from the environment)
};

// Whether HOST (of HOST:PORT, IPv6 in brackets) is a loopback address.
bool loopback_host(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  auto host = host_port.substr(0, colon == std::string::npos ? host_port.size() : colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// The rules between the transport flags; "" when they agree.
std::string check_transport(const config& c) {
  bool tls = !c.tls_cert.empty() || !c.tls_key.empty();
  if (c.tls_cert.empty() != c.tls_key.empty())
    return "--tls-cert and --tls-key go together";
  if (c.listen_tcp.empty()) {
    if (tls || !c.tls_client_ca.empty() || c.insecure_tcp_loopback)
      return "--tls-*, --insecure-tcp-loopback: only with --listen tcp://HOST:PORT";
    return "";
  }
  if (!c.tls_client_ca.empty() && !tls)
    return "--tls-client-ca needs --tls-cert and --tls-key";
  if (tls && c.insecure_tcp_loopback)
    return "--insecure-tcp-loopback is for plain TCP; drop it to use TLS";
  bool loopback = loopback_host(c.listen_tcp);
  if (!tls && !c.insecure_tcp_loopback)
    return "--listen tcp://" + c.listen_tcp
           + " without TLS: give --tls-cert, --tls-key and --tls-client-ca (or, on a "
             "loopback address, --insecure-tcp-loopback)";
  if (c.insecure_tcp_loopback && !loopback)
    return "--insecure-tcp-loopback works on a loopback address only, not " + c.listen_tcp;
  if (tls && !loopback && c.tls_client_ca.empty())
    return "TLS on a non-loopback address needs --tls-client-ca (mutual TLS): anyone who can "
           "reach " + c.listen_tcp + " could otherwise mount and remove volumes";
  return "";
}

std::vector<option> options() {
  auto text = [](std::string config::*field) {
    return [field](config& c, const std::string& v) -> std::string {
      if (v.empty())
        return "must not be empty";
      c.*field = v;
      return "";
    };
  };
  auto number = [](long config::*field, long min, long max = LONG_MAX) {
    return [field, min, max](config& c, const std::string& v) -> std::string {
      if (to_long(v, min, max, c.*field))
        return "";
      return "must be a whole number >= " + std::to_string(min)
             + (max < LONG_MAX ? " and <= " + std::to_string(max) : "");
    };
  };
  // Seconds: a year at most, far from where a deadline's time point would overflow.
  auto seconds = [number](long config::*field, long min) { return number(field, min, 31536000); };
  return {
    {"--socket", "ACTORVOL_SOCKET", text(&config::socket)},
    {"--root", "ACTORVOL_ROOT", text(&config::root)},
    {"--scope", "ACTORVOL_SCOPE",
     [](config& c, const std::string& v) -> std::string {
       if (v != "local" && v != "global")
         return "must be local or global";
       c.scope = v;
       return "";
     }},
    {"--log-level", "ACTORVOL_LOG_LEVEL",
     [](config& c, const std::string& v) -> std::string {
       if (v != "debug" && v != "info" && v != "warn" && v != "error")
         return "must be debug, info, warn or error";
       c.log_level = v;
       return "";
     }},
    {"--docker-socket", "ACTORVOL_DOCKER_SOCKET", text(&config::docker_socket)},
    {"--reconcile-interval", "ACTORVOL_RECONCILE_INTERVAL",
     seconds(&config::reconcile_interval, 1)},
    {"--reconcile-grace", "ACTORVOL_RECONCILE_GRACE", seconds(&config::reconcile_grace, 0)},
    {"--workers", "ACTORVOL_WORKERS", number(&config::workers, 1)},
    {"--max-workers", "ACTORVOL_MAX_WORKERS", number(&config::max_workers, 1)},
    {"--mount-timeout", "ACTORVOL_MOUNT_TIMEOUT", seconds(&config::mount_timeout, 1)},
    {"--op-timeout", "ACTORVOL_OP_TIMEOUT", seconds(&config::op_timeout, 1)},
    {"--host-root", "ACTORVOL_HOST_ROOT", text(&config::host_root)},
    {"--secrets-dir", "ACTORVOL_SECRETS_DIR", text(&config::secrets_dir)},
    {"--max-connections", "ACTORVOL_MAX_CONNECTIONS", number(&config::max_connections, 1)},
    {"--idle-timeout", "ACTORVOL_IDLE_TIMEOUT", seconds(&config::idle_timeout, 1)},
    {"--listen", "ACTORVOL_LISTEN",
     [](config& c, const std::string& v) -> std::string {
       if (v.rfind("tcp://", 0) == 0 && v.size() > 6) {
         c.listen_tcp = v.substr(6);
         return "";
       }
       if (v.rfind("unix://", 0) == 0 && v.size() > 7) {
         c.socket = v.substr(7);
         return "";
       }
       return "must be tcp://HOST:PORT or unix:///PATH";
     }},
    {"--tls-cert", "ACTORVOL_TLS_CERT", text(&config::tls_cert)},
    {"--tls-key", "ACTORVOL_TLS_KEY", text(&config::tls_key)},
    {"--tls-client-ca", "ACTORVOL_TLS_CLIENT_CA", text(&config::tls_client_ca)},
    {"--insecure-tcp-loopback", "ACTORVOL_INSECURE_TCP_LOOPBACK",
     [](config& c, const std::string& v) -> std::string {
       if (v != "1" && v != "true" && v != "0" && v != "false")
         return "takes no value (environment: 1 or 0)";
       c.insecure_tcp_loopback = v == "1" || v == "true";
       return "";
     },
     true},
    {"--metrics-address", "ACTORVOL_METRICS_ADDRESS", text(&config::metrics_address)},
    {"--metrics-socket", "ACTORVOL_METRICS_SOCKET", text(&config::metrics_socket)},
  };
}

} // namespace

parse_result parse_command_line(const std::vector<std::string>& args,
                                const std::function<const char*(const char*)>& getenv) {
  config cfg;
  auto opts = options();
  for (auto& o : opts) {
    auto v = getenv(o.env);
    if (v != nullptr && *v != '\0')
      if (auto err = o.set(cfg, v); !err.empty())
        return usage_error{std::string{o.env} + " " + err};
  }
  for (size_t i = 0; i < args.size(); ++i) {
    auto arg = args[i];
    if (arg == "--help" || arg == "-h")
      return show_help{};
    if (arg == "--version")
      return show_version{};
    std::string value;
    bool inline_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inline_value = true;
    }
    const option* match = nullptr;
    for (auto& o : opts)
      if (arg == o.flag)
        match = &o;
    if (match == nullptr)
      return usage_error{"unknown option " + arg};
    if (match->switch_only) {
      if (inline_value)
        return usage_error{"option " + arg + " takes no value"};
      value = "1";
    } else if (!inline_value) {
      if (i + 1 >= args.size())
        return usage_error{"option " + arg + " needs a value"};
      value = args[++i];
    }
    if (auto err = match->set(cfg, value); !err.empty())
      return usage_error{"option " + arg + " " + err};
  }
  if (auto err = check_transport(cfg); !err.empty())
    return usage_error{err};
  if (!cfg.metrics_address.empty() && !cfg.metrics_socket.empty())
    return usage_error{"--metrics-address and --metrics-socket: choose one"};
  return cfg;
}

} // namespace actorvol
