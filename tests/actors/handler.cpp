#define CAF_SUITE actors.handler
#include "tests/support/test.hpp"

#include "actors/handler.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

using namespace jm;
using namespace std::chrono_literals;

namespace {

// -- services -----------------------------------------------------------------

struct mailer {
  std::string from;
  std::vector<std::string> sent;
};

struct clock_service {
  int ticks = 0;
};

// -- handlers -----------------------------------------------------------------

/// Derives from job_handler and takes two services.
class email_handler : public job_handler {
public:
  static constexpr std::string_view name = "send-email";

  email_handler(mailer& m, clock_service& c) : mailer_(m), clock_(c) {
    ++instances;
  }

  void handle(job_context& ctx) override {
    ++runs_;
    ++clock_.ticks;
    mailer_.sent.push_back(mailer_.from + "->" + ctx.get<std::string>("to"));
  }

  static handler_defaults defaults() {
    handler_defaults d;
    d.timeout = 45s;
    d.max_retries = 9;
    d.priority = priority::high;
    d.lane = "mail";
    d.metadata = {{"team", std::string{"growth"}}};
    return d;
  }

  static inline int instances = 0;

  int runs() const { return runs_; }

  mailer* service() const { return &mailer_; }

private:
  mailer& mailer_;
  clock_service& clock_;
  int runs_ = 0; // per-run state: a fresh instance starts at zero
};

/// Does not derive from job_handler and has no defaults().
struct plain_handler {
  static constexpr std::string_view name = "plain";

  explicit plain_handler(clock_service& c) : clock(c) {}

  void handle(job_context& ctx) {
    clock.ticks += static_cast<int>(ctx.get<int64_t>("n"));
  }

  clock_service& clock;
};

/// Needs no services at all.
struct no_deps_handler : job_handler {
  static constexpr std::string_view name = "no-deps";
  void handle(job_context&) override {}
};

job make_job(value_map data) {
  job x;
  x.id = uuid::random();
  x.handler = "any";
  x.data = std::move(data);
  return x;
}

} // namespace

TEST(a handler receives the registered service instances) {
  handler_registry reg;
  auto m = std::make_shared<mailer>();
  m->from = "noreply";
  auto c = std::make_shared<clock_service>();
  reg.services().add(m);
  reg.services().add(c);
  reg.add<email_handler, mailer, clock_service>();
  auto entry = reg.find("send-email");
  REQUIRE(entry != nullptr);
  CHECK_EQUAL(entry->name, "send-email");
  auto h = entry->make(reg.services());
  REQUIRE(h != nullptr);
  auto* typed = dynamic_cast<email_handler*>(h.get());
  REQUIRE(typed != nullptr);
  CHECK(typed->service() == m.get());
  auto x = make_job({{"to", std::string{"bob"}}});
  job_context ctx{x, 1, std::stop_token{}, nullptr};
  h->handle(ctx);
  REQUIRE_EQUAL(m->sent.size(), 1u);
  CHECK_EQUAL(m->sent[0], "noreply->bob");
  CHECK_EQUAL(c->ticks, 1);
}

TEST(every make returns a fresh handler) {
  handler_registry reg;
  reg.services().add(std::make_shared<mailer>());
  reg.services().add(std::make_shared<clock_service>());
  reg.add<email_handler, mailer, clock_service>();
  auto before = email_handler::instances;
  auto entry = reg.find("send-email");
  REQUIRE(entry != nullptr);
  auto a = entry->make(reg.services());
  auto b = entry->make(reg.services());
  CHECK(a.get() != b.get());
  CHECK_EQUAL(email_handler::instances, before + 2);
  auto x = make_job({{"to", std::string{"x"}}});
  job_context ctx{x, 1, std::stop_token{}, nullptr};
  a->handle(ctx);
  a->handle(ctx);
  CHECK_EQUAL(dynamic_cast<email_handler&>(*a).runs(), 2);
  CHECK_EQUAL(dynamic_cast<email_handler&>(*b).runs(), 0);
  // Both share the one registered service.
  CHECK(dynamic_cast<email_handler&>(*a).service()
        == dynamic_cast<email_handler&>(*b).service());
}

TEST(a missing service throws logic_error when the handler is made) {
  handler_registry reg;
  reg.services().add(std::make_shared<clock_service>());
  // Registering is fine: services may be added later.
  reg.add<email_handler, mailer, clock_service>();
  auto entry = reg.find("send-email");
  REQUIRE(entry != nullptr);
  try {
    auto h = entry->make(reg.services());
    FAIL("expected a logic_error");
  } catch (const std::logic_error& e) {
    std::string what = e.what();
    CHECK(what.find("no service registered of type") != std::string::npos);
    CHECK(what.find("mailer") != std::string::npos);
  }
  // Once registered, making works.
  reg.services().add(std::make_shared<mailer>());
  CHECK(entry->make(reg.services()) != nullptr);
}

TEST(the service container looks up by exact type) {
  service_container services;
  bool threw = false;
  try {
    services.get<mailer>();
  } catch (const std::logic_error&) {
    threw = true;
  }
  CHECK(threw);
  auto first = std::make_shared<mailer>();
  first->from = "first";
  services.add(first);
  CHECK_EQUAL(services.get<mailer>().from, "first");
  // A second registration of a type replaces the first.
  auto second = std::make_shared<mailer>();
  second->from = "second";
  services.add(second);
  CHECK_EQUAL(services.get<mailer>().from, "second");
  CHECK(&services.get<mailer>() == second.get());
}

TEST(defaults are taken from the handler type) {
  handler_registry reg;
  reg.add<email_handler, mailer, clock_service>();
  reg.add<plain_handler, clock_service>();
  auto e = reg.find("send-email");
  REQUIRE(e != nullptr);
  REQUIRE(e->defaults.timeout.has_value());
  CHECK_EQUAL(e->defaults.timeout->count(), duration{45s}.count());
  CHECK(e->defaults.max_retries == 9);
  CHECK(e->defaults.priority == priority::high);
  CHECK(e->defaults.lane == std::string{"mail"});
  CHECK(e->defaults.metadata == (value_map{{"team", std::string{"growth"}}}));
  auto p = reg.find("plain");
  REQUIRE(p != nullptr);
  CHECK(!p->defaults.timeout);
  CHECK(!p->defaults.max_retries);
  CHECK(!p->defaults.priority);
  CHECK(!p->defaults.lane);
  CHECK(p->defaults.metadata.empty());
}

TEST(a handler that does not derive from job_handler runs through an adapter) {
  handler_registry reg;
  auto c = std::make_shared<clock_service>();
  reg.services().add(c);
  reg.add<plain_handler, clock_service>();
  auto entry = reg.find("plain");
  REQUIRE(entry != nullptr);
  auto h = entry->make(reg.services());
  REQUIRE(h != nullptr);
  auto x = make_job({{"n", int64_t{5}}});
  job_context ctx{x, 1, std::stop_token{}, nullptr};
  h->handle(ctx);
  h->handle(ctx);
  CHECK_EQUAL(c->ticks, 10);
}

TEST(a handler without dependencies) {
  handler_registry reg;
  reg.add<no_deps_handler>();
  auto entry = reg.find("no-deps");
  REQUIRE(entry != nullptr);
  CHECK(entry->make(reg.services()) != nullptr);
}

TEST(names are sorted and a second registration replaces the first) {
  handler_registry reg;
  CHECK(reg.names().empty());
  CHECK(reg.find("plain") == nullptr);
  reg.add<plain_handler, clock_service>();
  reg.add<no_deps_handler>();
  reg.add<email_handler, mailer, clock_service>();
  CHECK((reg.names()
         == std::vector<std::string>{"no-deps", "plain", "send-email"}));
  CHECK(reg.find("Plain") == nullptr);
  CHECK(reg.find("") == nullptr);
  int calls = 0;
  handler_defaults d;
  d.max_retries = 1;
  reg.add("plain", d, [&calls](const service_container&) {
    ++calls;
    return std::make_unique<no_deps_handler>();
  });
  CHECK_EQUAL(reg.names().size(), 3u);
  auto entry = reg.find("plain");
  REQUIRE(entry != nullptr);
  CHECK(entry->defaults.max_retries == 1);
  entry->make(reg.services());
  CHECK_EQUAL(calls, 1);
}

// -- job_context --------------------------------------------------------------

TEST(the context exposes the job and typed data) {
  auto x = make_job({{"n", int64_t{3}}, {"s", std::string{"x"}}});
  x.metadata = {{"m", true}};
  std::vector<std::string> lines;
  job_context ctx{x, 4, std::stop_token{},
                  [&](std::string_view line) { lines.emplace_back(line); }};
  CHECK(ctx.id() == x.id);
  CHECK(&ctx.job() == &x);
  CHECK_EQUAL(ctx.attempt(), 4);
  CHECK(ctx.data() == x.data);
  CHECK(ctx.metadata() == x.metadata);
  CHECK_EQUAL(ctx.get<int64_t>("n"), 3);
  CHECK_EQUAL(ctx.get<std::string>("s"), "x");
  for (auto key : {"missing", "s"}) {
    try {
      ctx.get<int64_t>(key);
      FAIL("expected out_of_range");
    } catch (const std::out_of_range& e) {
      CHECK(std::string{e.what()}.find("'" + std::string{key} + "'")
            != std::string::npos);
    }
  }
  ctx.log("hello");
  ctx.log("world");
  CHECK((lines == std::vector<std::string>{"hello", "world"}));
  // Without a sink, logging is a no-op.
  job_context quiet{x, 1, std::stop_token{}, nullptr};
  quiet.log("dropped");
}

TEST(sleep_for returns early when a stop is requested) {
  auto x = make_job({});
  std::stop_source src;
  job_context ctx{x, 1, src.get_token(), nullptr};
  CHECK(!ctx.stop_requested());
  CHECK(ctx.sleep_for(1ms));
  src.request_stop();
  CHECK(ctx.stop_requested());
  CHECK(ctx.stop_token().stop_requested());
  auto start = std::chrono::steady_clock::now();
  auto slept = ctx.sleep_for(1h);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  CHECK(!slept); // cut short by the stop request
}
