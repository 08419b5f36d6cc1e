// A C++ service that embeds a JobMaster node: configure a standalone
// cluster, register a handler with an injected service, start the runtime,
// schedule jobs and wait for them, then run a recurring schedule.
//
// Usage: hello_cluster [database-file]

#include "config/cluster_builder.hpp"
#include "messages/error.hpp"
#include "node/logging.hpp"
#include "node/runtime.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

namespace {

// A service: anything the handler needs, created once, shared by all runs.
struct mailer {
  std::atomic<int> sent{0};
  void send(const std::string& to, const std::string& text) {
    std::printf("mail to %s: %s\n", to.c_str(), text.c_str());
    ++sent;
  }
};

// A handler: a fresh instance per run, with its services injected.
struct welcome_handler {
  static constexpr std::string_view name = "welcome";

  // Defaults for every job of this handler (a call argument still wins).
  static jm::handler_defaults defaults() {
    jm::handler_defaults d;
    d.timeout = std::chrono::seconds{10};
    d.max_retries = 2;
    d.priority = jm::priority::high;
    return d;
  }

  explicit welcome_handler(mailer& m) : mail(m) {}

  void handle(jm::job_context& ctx) {
    auto& user = ctx.get<std::string>("user");
    mail.send(user, "welcome aboard!");
    ctx.log("welcomed " + user);
  }

  mailer& mail;
};

} // namespace

int main(int argc, char** argv) {
  std::string db = argc > 1 ? argv[1] : "hello_cluster.db";
  auto cfg = jm::use_standalone_cluster()
               .cluster_id("hello")
               .use_sqlite(db)
               .listen("127.0.0.1", 0) // any free port
               .add_worker()
               .build();
  if (!cfg) {
    std::fprintf(stderr, "config: %s\n", jm::describe(cfg.error()).c_str());
    return 2;
  }
  if (auto err = jm::setup_logging(cfg->logging)) {
    std::fprintf(stderr, "logging: %s\n", jm::describe(err).c_str());
    return 2;
  }
  auto mail = std::make_shared<mailer>();
  jm::runtime rt{*cfg};
  rt.add_service(mail);
  rt.add_handler<welcome_handler, mailer>();
  if (auto err = rt.start()) {
    std::fprintf(stderr, "start: %s\n", jm::describe(err).c_str());
    return 1;
  }
  auto& scheduler = rt.scheduler();
  auto a = scheduler.once_now<welcome_handler>({{"user", std::string{"ada"}}});
  auto b = scheduler.once_after<welcome_handler>(
    std::chrono::milliseconds{500}, {{"user", std::string{"grace"}}});
  jm::schedule_options opts;
  opts.priority = jm::priority::critical;
  opts.metadata = {{"campaign", std::string{"launch"}}};
  auto c = scheduler.once_at<welcome_handler>(
    jm::now() + std::chrono::milliseconds{200},
    {{"user", std::string{"linus"}}}, opts);
  for (auto* x : {&a, &b, &c}) {
    if (!*x) {
      std::fprintf(stderr, "schedule: %s\n", jm::describe(x->error()).c_str());
      return 1;
    }
  }
  // Wait until all three succeeded, as the master records it.
  for (int i = 0; i < 200; ++i) {
    int done = 0;
    for (auto& id : {*a, *b, *c}) {
      auto d = scheduler.get(id);
      if (d && d->job.status == jm::job_status::succeeded)
        ++done;
    }
    if (done == 3)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  if (mail->sent.load() != 3) {
    std::fprintf(stderr, "jobs did not finish in time\n");
    return 1;
  }
  std::printf("all 3 jobs succeeded; %d mails sent\n", mail->sent.load());
  // A recurring schedule from the builder: every second, until cancelled.
  auto every_second = scheduler.recurring<welcome_handler>(
    jm::cron::every(1).seconds(), {{"user", std::string{"cron"}}});
  if (!every_second) {
    std::fprintf(stderr, "recurring: %s\n",
                 jm::describe(every_second.error()).c_str());
    return 1;
  }
  jm::job_filter of_schedule;
  of_schedule.schedule_id = *every_second;
  of_schedule.statuses = {jm::job_status::succeeded};
  for (int i = 0; i < 200; ++i) {
    auto xs = scheduler.list(of_schedule);
    if (xs && xs->size() >= 2) {
      auto cancelled = scheduler.cancel_recurring(*every_second);
      std::printf("the schedule ran %zu times; cancelled with %llu unstarted "
                  "jobs\n",
                  xs->size(),
                  static_cast<unsigned long long>(cancelled ? *cancelled : 0));
      rt.stop();
      return cancelled ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  std::fprintf(stderr, "the recurring schedule did not run in time\n");
  return 1;
}
