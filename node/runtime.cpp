#include "node/runtime.hpp"

#include "actors/gateway.hpp"
#include "messages/codec.hpp"
#include "messages/error.hpp"
#include "node/front_door.hpp"
#include "node/node_actor.hpp"
#include "providers/factory.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <spdlog/spdlog.h>

#include <future>
#include <random>

#include <unistd.h>

namespace jm {

namespace {

struct system_config : caf::actor_system_config {
  explicit system_config(const cluster_config& c) {
    add_wire_types(*this);
    load<caf::io::middleman>();
    set("scheduler.max-threads", static_cast<int>(c.node.scheduler_threads));
    // Fairness: no actor drains a huge mailbox in one go.
    set("scheduler.max-throughput", 300);
    // One shared queue instead of work stealing: with a few scheduler
    // threads, the stealing workers' polling and sleeping cost this process
    // about 40 % more CPU per job in `jobmaster bench` for the same
    // throughput and latency (docs/performance.md).
    set("scheduler.policy", caf::atom("sharing"));
  }
};

std::string make_node_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    std::strcpy(host, "node");
  std::string h{host};
  for (auto& c : h)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
      c = '-';
  if (h.size() > 40)
    h.resize(40);
  // The pid and a random suffix make a restarted process a new node.
  std::mt19937 gen{std::random_device{}()};
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(gen()));
  return h + "-" + std::to_string(getpid()) + "-" + suffix;
}

} // namespace

struct runtime::impl {
  cluster_config cfg;
  std::shared_ptr<handler_registry> registry
    = std::make_shared<handler_registry>();
  std::unique_ptr<system_config> caf_cfg;
  std::unique_ptr<caf::actor_system> sys;
  gateway_actor gateway;
  node_actor node;
  std::string node_id;
  uint16_t port = 0;
  bool started = false;
  bool stopped = false;
};

runtime::runtime(cluster_config cfg)
  : impl_(std::make_unique<impl>()), scheduler_(*this) {
  impl_->cfg = std::move(cfg);
}

runtime::~runtime() {
  stop();
}

handler_registry& runtime::registry() {
  return *impl_->registry;
}

const cluster_config& runtime::config() const {
  return impl_->cfg;
}

const std::string& runtime::node_id() const {
  return impl_->node_id;
}

uint16_t runtime::port() const {
  return impl_->port;
}

bool runtime::running() const {
  return impl_->started && !impl_->stopped;
}

runtime& runtime::add_static_schedule(recurring_spec spec) {
  impl_->cfg.static_schedules.push_back(std::move(spec));
  return *this;
}

caf::error runtime::start() {
  auto& p = *impl_;
  if (p.started)
    return make_error(ec::refused, "the runtime was started already");
  if (auto err = validate(p.cfg))
    return err;
  for (auto& x : p.cfg.static_schedules)
    if (!p.registry->find(x.handler))
      return make_error(ec::unknown_handler, "static schedule '" + x.static_name
                                               + "': no handler named '"
                                               + x.handler + "' is registered");
  p.node_id = make_node_id();
  complete(p.cfg);
  // The STORE and each AGENT CONNECTION actor own a connection. Server
  // connections open side by side: each costs a backend start and a schema
  // check, tens of milliseconds before the node's first job. SQLite opens
  // one after the other (setting up a file is not worth the races).
  auto opening = [](const store_config& cfg) {
    return std::async(cfg.kind == store_kind::sqlite ? std::launch::deferred
                                                     : std::launch::async,
                      [cfg] { return open_store(cfg); });
  };
  auto master_opening = opening(p.cfg.store);
  std::vector<std::future<caf::expected<store_connection>>> agent_openings;
  std::vector<std::future<caf::expected<store_connection>>> queue_openings;
  for (uint32_t i = 0; i < agent_connection_count(p.cfg.store); ++i) {
    agent_openings.push_back(opening(p.cfg.store));
    if (p.cfg.agent)
      queue_openings.push_back(opening(*p.cfg.agent));
  }
  // Every opening is waited for, also when one fails (a future of
  // std::async waits in its destructor).
  auto master_db = master_opening.get();
  if (!master_db)
    return master_db.error();
  std::vector<agent_connection_stores> agent_dbs;
  for (size_t i = 0; i < agent_openings.size(); ++i) {
    auto db = agent_openings[i].get();
    if (!db)
      return db.error();
    agent_connection_stores x{db->agent, db->master, nullptr};
    if (p.cfg.agent) {
      auto queue = queue_openings[i].get();
      if (!queue)
        return make_error(code_of(queue.error()),
                          "agent store: " + describe(queue.error()));
      x.queue = queue->queue;
    }
    agent_dbs.push_back(std::move(x));
  }
  p.caf_cfg = std::make_unique<system_config>(p.cfg);
  p.sys = std::make_unique<caf::actor_system>(*p.caf_cfg);
  // actor_cast: CAF infers the extended interface as a distinct type.
  p.gateway
    = caf::actor_cast<gateway_actor>(p.sys->spawn(gateway, p.cfg.cluster_id));
  auto& n = p.cfg.node;
  auto port
    = p.sys->middleman().publish(caf::actor_cast<master_api_actor>(p.gateway),
                                 n.listen_port, n.listen_host.c_str(), true);
  // Undoes a half-done start: the actor system waits for every actor on
  // destruction, so the gateway must be gone first.
  auto abort_start = [&p] {
    caf::anon_send_exit(p.gateway, caf::exit_reason::user_shutdown);
    p.gateway = nullptr;
    p.sys.reset();
  };
  if (!port) {
    abort_start();
    return make_error(
      ec::unavailable,
      "cannot listen on " + n.listen_host + ":" + std::to_string(n.listen_port)
        + ": " + describe(port.error())
        + " (is another node running? use --listen or node.listen_port)");
  }
  p.port = *port;
  node_record self;
  self.node_id = p.node_id;
  self.host = n.listen_host;
  self.port = p.port;
  self.pid = getpid();
  self.started_at = now();
  self.lease_expires_at = self.started_at + n.lease;
  if (auto err = master_db->master->upsert_node(self)) {
    abort_start();
    return make_error(ec::store_failure,
                      "cannot register the node: " + describe(err));
  }
  node_settings settings;
  settings.cluster = p.cfg;
  settings.self = self;
  settings.handlers = p.registry;
  settings.master_db = master_db->master;
  settings.agent_dbs = std::move(agent_dbs);
  p.node = p.sys->spawn(node, std::move(settings), p.gateway);
  p.started = true;
  spdlog::info("node {} of cluster '{}' listening on {}:{} (store: {}{})",
               p.node_id, p.cfg.cluster_id, n.listen_host, p.port,
               describe_store(p.cfg.store),
               p.cfg.agent ? "; agent store: " + describe_store(*p.cfg.agent)
                           : std::string{});
  return {};
}

void runtime::stop() {
  auto& p = *impl_;
  if (!p.started || p.stopped)
    return;
  p.stopped = true;
  {
    caf::scoped_actor self{*p.sys};
    self->monitor(p.node);
    auto grace = p.cfg.node.shutdown_grace + std::chrono::seconds{10};
    self->request(p.node, grace, atom::drain_v)
      .receive([](bool) {},
               [](const caf::error& err) {
                 spdlog::warn("node: graceful stop incomplete: {}",
                              describe(err));
               });
    p.sys->middleman().unpublish(p.gateway, p.port);
    self->send_exit(p.gateway, caf::exit_reason::user_shutdown);
    self->send_exit(p.node, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
  }
  p.sys.reset();
  spdlog::info("node {} stopped", p.node_id);
}

void runtime::await_stopped() {
  auto& p = *impl_;
  if (!p.started || p.stopped)
    return;
  caf::scoped_actor self{*p.sys};
  self->monitor(p.node);
  self->receive([](const caf::down_msg&) {});
}

// -- scheduler ----------------------------------------------------------------

job_spec scheduler::make_spec(std::string handler, value_map data,
                              schedule_options opts) {
  job_spec spec;
  spec.handler = std::move(handler);
  spec.data = std::move(data);
  spec.metadata = std::move(opts.metadata);
  spec.priority = opts.priority;
  spec.lane = std::move(opts.lane);
  spec.timeout = opts.timeout;
  spec.max_retries = opts.max_retries;
  return spec;
}

recurrence_text::recurrence_text(duration interval)
  : type(expression_types::interval) {
  // The TimeSpan form: [d.]hh:mm:ss[.ffffff]. Shorter than a second is
  // left to the master to refuse with its usual message.
  auto us = interval.count();
  auto days = us / (86'400LL * 1'000'000);
  us -= days * 86'400LL * 1'000'000;
  auto h = us / 3'600'000'000LL;
  us -= h * 3'600'000'000LL;
  auto m = us / 60'000'000;
  us -= m * 60'000'000;
  auto sec = us / 1'000'000;
  us -= sec * 1'000'000;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%02lld:%02lld:%02lld",
                days > 0 ? (std::to_string(days) + ".").c_str() : "",
                static_cast<long long>(h), static_cast<long long>(m),
                static_cast<long long>(sec));
  expression = buf;
  if (us > 0) {
    std::snprintf(buf, sizeof(buf), ".%06lld", static_cast<long long>(us));
    expression += buf;
  }
}

recurring_spec make_recurring_spec(std::string handler,
                                   const recurrence_text& when, value_map data,
                                   recurring_options opts) {
  recurring_spec spec;
  spec.handler = std::move(handler);
  spec.expression_type = when.type;
  spec.expression = when.expression;
  spec.time_zone = std::move(opts.time_zone);
  spec.data = std::move(data);
  spec.metadata = std::move(opts.metadata);
  spec.priority = opts.priority;
  spec.lane = std::move(opts.lane);
  spec.timeout = opts.timeout;
  spec.max_retries = opts.max_retries;
  spec.start_after = opts.start_after;
  spec.end_before = opts.end_before;
  spec.catch_up = opts.catch_up;
  spec.catch_up_limit = opts.catch_up_limit;
  spec.overlap = opts.overlap;
  return spec;
}

caf::expected<reply> scheduler::call(request req) {
  auto& p = *rt_.impl_;
  if (!rt_.running())
    return make_error(ec::refused, "the runtime is not running; call start()");
  return call_front_door(*p.sys, caf::actor_cast<master_api_actor>(p.gateway),
                         encode(req), std::chrono::seconds{30});
}

caf::expected<job_id> scheduler::one(job_spec spec) {
  std::vector<job_spec> specs;
  specs.push_back(std::move(spec));
  auto ids = schedule(std::move(specs));
  if (!ids)
    return ids.error();
  return ids->front();
}

caf::expected<std::vector<job_id>>
scheduler::schedule(std::vector<job_spec> specs) {
  return reply_as<std::vector<job_id>>(call(request{std::move(specs)}));
}

caf::error scheduler::cancel(const job_id& id) {
  auto r = call(request{cancel_request{id}});
  return r ? caf::error{} : r.error();
}

caf::error scheduler::reschedule(const job_id& id, timestamp at) {
  auto r = call(request{reschedule_request{id, at}});
  return r ? caf::error{} : r.error();
}

caf::expected<std::vector<job>> scheduler::list(job_filter filter) {
  return reply_as<std::vector<job>>(call(request{std::move(filter)}));
}

caf::expected<job_detail> scheduler::get(const job_id& id) {
  return reply_as<job_detail>(call(request{get_job_request{id}}));
}

namespace {

// The one id of a reply that carries exactly one.
caf::expected<uuid> single_id(caf::expected<reply> r) {
  auto ids = reply_as<std::vector<job_id>>(std::move(r));
  if (!ids)
    return ids.error();
  if (ids->size() != 1)
    return make_error(ec::malformed_message, "expected one id in the reply");
  return ids->front();
}

} // namespace

caf::expected<schedule_id> scheduler::recurring(recurring_spec spec) {
  return single_id(call(request{std::move(spec)}));
}

caf::expected<uint64_t> scheduler::cancel_recurring(const schedule_id& id) {
  auto r
    = reply_as<cancelled_reply>(call(request{cancel_schedule_request{id}}));
  if (!r)
    return r.error();
  return r->jobs;
}

caf::expected<job_id> scheduler::run_now(const schedule_id& id) {
  return single_id(call(request{run_schedule_now_request{id}}));
}

caf::expected<std::vector<recurring_schedule>>
scheduler::list_schedules(schedule_filter filter) {
  return reply_as<std::vector<recurring_schedule>>(
    call(request{std::move(filter)}));
}

caf::expected<schedule_detail> scheduler::get_schedule(const schedule_id& id) {
  return reply_as<schedule_detail>(call(request{get_schedule_request{id}}));
}

} // namespace jm
