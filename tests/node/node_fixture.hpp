#pragma once
// The fixture of the end-to-end tests: a temporary directory with a node
// config, the real `jobmaster` program started as a child process, and
// helpers that drive it through the CLI and a network client. Include after
// tests/support/test.hpp; the including target defines JM_JOBMASTER_PATH.

#include "messages/codec.hpp"
#include "node/client.hpp"
#include "providers/factory.hpp"
#include "tests/support/process.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace jm::test {

namespace fs = std::filesystem;

inline const std::string jobmaster = JM_JOBMASTER_PATH;

using namespace std::chrono_literals;

struct node_fixture {
  fs::path dir;
  uint16_t port = 0;
  std::unique_ptr<jm::test::child> node;

  /// The store under test: SQLite in `dir`, or the server named by
  /// JM_E2E_STORE=postgres|mysql (at JM_TEST_PG_URL / JM_TEST_MYSQL_URL)
  /// with tables of their own.
  store_config store;

  node_fixture() {
    char tmpl[] = "/tmp/jm-e2e-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    port = jm::test::free_port();
    store.path = (dir / "jm.db").string();
    if (auto kind = std::getenv("JM_E2E_STORE"); kind != nullptr) {
      if (std::string_view{kind} == "sqlite")
        FAIL("JM_E2E_STORE must be postgres or mysql, not sqlite");
      store = store_named("JM_E2E_STORE", kind, "e2e_", "jm.db");
    }
    if (auto kind = std::getenv("JM_E2E_AGENT"); kind != nullptr)
      agent = store_named("JM_E2E_AGENT", kind, "agent_", "agent.db");
    write_config();
  }

  /// A separate agent store (JM_E2E_AGENT=sqlite|postgres|mysql).
  std::optional<store_config> agent;

  /// The store `kind` names (set by the variable `var`): a file `file` in
  /// `dir`, or fresh tables on the server at JM_TEST_PG_URL /
  /// JM_TEST_MYSQL_URL, their prefix `head` + a part unique to `dir`.
  store_config store_named(const char* var, std::string_view kind,
                           const std::string& head, const char* file) {
    store_config x;
    if (kind == "sqlite") {
      x.path = (dir / file).string();
      return x;
    }
    if (kind != "postgres" && kind != "mysql")
      FAIL(var << " must be sqlite, postgres or mysql, not " << kind);
    auto url_var = kind == "postgres" ? "JM_TEST_PG_URL" : "JM_TEST_MYSQL_URL";
    auto url = std::getenv(url_var);
    if (url == nullptr)
      FAIL(var << "=" << kind << " needs " << url_var);
    x.kind = kind == "postgres" ? store_kind::postgres : store_kind::mysql;
    x.url = url;
    x.table_prefix = head + dir.filename().string().substr(7) + "_";
    for (auto& c : x.table_prefix)
      if (!std::isalnum(static_cast<unsigned char>(c)))
        c = '_';
    return x;
  }

  /// The store keys of `x` as node.toml has them.
  static std::string store_keys(const store_config& x) {
    if (x.kind == store_kind::sqlite)
      return "use_sqlite = \"" + x.path + "\"\n";
    return std::string{x.kind == store_kind::postgres ? "use_postgres"
                                                      : "use_mysql"}
           + " = \"" + x.url + "\"\ntable_prefix = \"" + x.table_prefix
           + "\"\n";
  }

  /// A connection of the test's own to the store.
  store_connection open_db() { return unbox(open_store(store)); }

  /// The node's lease in node.toml (short, so that crash tests are quick).
  std::string lease = "1s";

  /// (Re)writes node.toml: `top` holds extra top-level keys, `tables` extra
  /// tables (e.g. [[static_schedules]]).
  void write_config(const std::string& top = "",
                    const std::string& tables = "") {
    std::ofstream cfg{dir / "node.toml"};
    cfg << "cluster_id = \"e2e\"\n" << store_keys(store);
    cfg << "assign_interval = \"100ms\"\n" << top;
    if (agent)
      cfg << "[agent]\n" << store_keys(*agent);
    cfg << "[retry]\nbase_delay = \"100ms\"\nmax_delay = \"1s\"\n"
        << "[node]\nlisten_port = " << port << "\n"
        << "lease = \"" << lease << "\"\nheartbeat_interval = \"250ms\"\n"
        << "shutdown_grace = \"5s\"\n"
        << "[logging]\nlevel = \"info\"\n"
        << "[[workers]]\nname = \"main\"\nparallelism = 4\n"
        << "[[workers]]\nname = \"reports\"\nworker_lane = \"reports\"\n"
        << "parallelism = 2\n"
        << tables;
  }

  ~node_fixture() {
    node.reset();
    if (std::getenv("JM_KEEP_TEST_DIRS") == nullptr)
      fs::remove_all(dir);
  }

  /// The id the running node printed ("jobmaster node <id> listening ...").
  std::string node_id;

  /// Starts the node; `prefix` runs it through a wrapper (e.g. `env TZ=..`).
  void start_node(std::vector<std::string> prefix = {}) {
    auto argv = std::move(prefix);
    for (auto x : {jobmaster, std::string{"node"}, std::string{"--config"},
                   (dir / "node.toml").string()})
      argv.push_back(x);
    node = std::make_unique<jm::test::child>(argv, (dir / "node.log").string());
    auto line = node->wait_for_line("listening on", 20s);
    if (!line)
      FAIL("the node did not start; its log: " << log_tail());
    std::istringstream words{*line};
    std::string program, kind;
    words >> program >> kind >> node_id;
  }

  /// The node's whole log so far.
  std::string log_text() {
    std::ifstream in{dir / "node.log"};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string log_tail() {
    auto text = log_text();
    return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
  }

  /// What a test that waited in vain for the node prints: the log's last
  /// lines and its last lines that are not about single jobs (warnings,
  /// errors), the free disk space, and, where gdb is installed, where the
  /// node's threads stand.
  std::string stuck_report() {
    std::ostringstream out;
    auto text = log_text();
    std::istringstream lines{text};
    std::vector<std::string> other;
    size_t total = 0;
    for (std::string line; std::getline(lines, line); ++total)
      if (line.find(" job ") == std::string::npos)
        other.push_back(std::move(line));
    out << "\n--- node log: " << total << " lines; the last 40 not about "
        << "single jobs:\n";
    for (size_t i = other.size() > 40 ? other.size() - 40 : 0; i < other.size();
         ++i)
      out << other[i].substr(0, 300) << '\n';
    out << "--- node log, last lines:\n" << log_tail();
    out << "\n--- df:\n" << run({"/bin/df", "-h", dir.string()}).out;
    if (node && node->running() && fs::exists("/usr/bin/gdb")) {
      auto bt = run({"/usr/bin/gdb", "-p", std::to_string(node->pid()),
                     "-batch", "-ex", "set print frame-arguments none", "-ex",
                     "set print frame-info short-location", "-ex",
                     "thread apply all bt 10"});
      out << "--- node threads (gdb):\n" << bt.out.substr(0, 20000);
    }
    return out.str();
  }

  jm::test::run_result cli(std::vector<std::string> args) {
    args.insert(args.begin(), jobmaster);
    args.push_back("--node");
    args.push_back("127.0.0.1:" + std::to_string(port));
    return jm::test::run(args);
  }

  job_id schedule(std::vector<std::string> args) {
    args.insert(args.begin(), "schedule");
    auto r = cli(args);
    if (r.exit_code != 0)
      FAIL("schedule failed: " << r.err);
    return unbox(parse_uuid(r.out.substr(0, 36)));
  }

  std::vector<job_id> schedule_many(std::vector<std::string> args) {
    args.insert(args.begin(), "schedule");
    auto r = cli(args);
    if (r.exit_code != 0)
      FAIL("schedule failed: " << r.err);
    std::vector<job_id> ids;
    std::istringstream in{r.out};
    for (std::string line; std::getline(in, line);)
      ids.push_back(unbox(parse_uuid(line)));
    return ids;
  }

  std::unique_ptr<remote_client> client() {
    return unbox(remote_client::connect("127.0.0.1", port, 10s));
  }

  job_detail detail(remote_client& c, const job_id& id) {
    auto r = unbox(c.call(request{get_job_request{id}}));
    return std::get<job_detail>(std::move(r));
  }

  /// Waits until the job is final; returns its detail.
  job_detail await_final(const job_id& id,
                         std::chrono::milliseconds timeout = 20s) {
    auto c = client();
    job_detail d;
    // A job may not be visible yet (still in a save-pending queue): that
    // is an error answer, and the poll asks again.
    bool ok = jm::test::eventually(
      [&] {
        auto r = c->call(request{get_job_request{id}});
        if (!r || !std::holds_alternative<job_detail>(*r))
          return false;
        d = std::get<job_detail>(std::move(*r));
        return is_final(d.job.status);
      },
      timeout);
    if (!ok)
      FAIL("job " << to_string(id) << " still " << to_string(d.job.status)
                  << stuck_report());
    return d;
  }

  std::vector<job> all_jobs(remote_client& c) {
    job_filter f;
    f.limit = 10000;
    auto r = unbox(c.call(request{f}));
    return std::get<std::vector<job>>(std::move(r));
  }

  std::map<std::string, int> recorded(const fs::path& file) {
    std::map<std::string, int> counts;
    std::ifstream in{file};
    for (std::string line; std::getline(in, line);)
      ++counts[line];
    return counts;
  }
};

} // namespace jm::test
