#include "actors/worker.hpp"

#include "messages/error.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

namespace jm {

namespace {

using self_ptr = worker_actor::stateful_pointer<worker_state>;

std::vector<bucket_record> plan_buckets(const worker_state& s) {
  std::vector<bucket_record> result;
  auto& w = s.settings.worker;
  if (w.mode == worker_mode::coordinator || w.mode == worker_mode::drain)
    return result;
  for (int p = 1; p <= num_priorities; ++p) {
    auto qty = w.buckets_per_priority[static_cast<size_t>(p) - 1];
    for (uint32_t i = 1; i <= qty; ++i) {
      bucket_record b;
      b.priority = static_cast<priority>(p);
      b.bucket_id = s.worker_id + "/" + std::string{to_string(b.priority)} + "/"
                    + std::to_string(i);
      b.worker_id = s.worker_id;
      b.node_id = s.settings.node_id;
      b.lane = w.lane;
      result.push_back(std::move(b));
    }
  }
  return result;
}

// Drains every bucket; answers `rp` with false if any did not drain.
void drain_buckets(self_ptr self, caf::typed_response_promise<bool> rp) {
  auto& s = self->state;
  if (s.buckets.empty()) {
    rp.deliver(true);
    return;
  }
  struct progress {
    size_t remaining;
    bool all_drained = true;
  };
  auto p = std::make_shared<progress>(progress{s.buckets.size()});
  auto grace = s.settings.drain_grace;
  for (auto& [id, b] : s.buckets) {
    // No new work for a bucket that is about to stop.
    if (s.master)
      self->send(s.master, atom::leave_v, id);
    self->request(b.second, grace + std::chrono::seconds{2}, atom::drain_v)
      .then(
        [rp, p](bool drained) mutable {
          p->all_drained = p->all_drained && drained;
          if (--p->remaining == 0)
            rp.deliver(p->all_drained);
        },
        [rp, p, id = id](const caf::error& err) mutable {
          spdlog::warn("worker: bucket {} did not drain: {}", id,
                       describe(err));
          p->all_drained = false;
          if (--p->remaining == 0)
            rp.deliver(false);
        });
  }
}

// Spawns a supervised bucket per record.
void start_buckets(self_ptr self, const std::vector<bucket_record>& records) {
  auto& s = self->state;
  auto handle = caf::actor_cast<worker_actor>(self);
  for (size_t i = 0; i < records.size(); ++i) {
    auto& rec = records[i];
    auto cfg = s.settings.bucket_template;
    cfg.record = rec;
    cfg.batch_size = s.settings.worker.batch_size;
    supervisor_config sc;
    sc.child_name = "bucket " + rec.bucket_id;
    // Spread over the connections; a bucket writes on another one than it
    // claims on, when there is another.
    auto n = s.agents.size();
    auto claims = s.agents[i % n];
    auto writes = s.agents[(i + 1) % n];
    auto pool = s.pool;
    auto sup = self->spawn<caf::linked>(
      supervisor, sc,
      [cfg, claims, writes, pool,
       spawned = std::make_shared<bool>(false)](caf::local_actor* parent) {
        auto instance = cfg;
        instance.restarted = *spawned;
        *spawned = true;
        auto b = parent->spawn(bucket, instance, claims, writes, pool);
        return caf::actor_cast<caf::strong_actor_ptr>(b);
      },
      [handle, rec](const caf::strong_actor_ptr& child) {
        caf::anon_send(handle, atom::attach_v, rec,
                       caf::actor_cast<bucket_actor>(child));
      });
    s.supervisors.push_back(sup);
  }
}

} // namespace

worker_actor::behavior_type
worker(worker_actor::stateful_pointer<worker_state> self,
       worker_settings settings, std::vector<agent_connection_actor> agents,
       store_actor store, std::shared_ptr<const handler_registry> handlers) {
  auto& s = self->state;
  s.settings = std::move(settings);
  s.worker_id = s.settings.worker.name + "@" + s.settings.node_id;
  s.agents = std::move(agents);
  s.store = std::move(store);
  s.handlers = std::move(handlers);
  auto records = plan_buckets(s);
  if (s.agents.empty() && !records.empty()) {
    spdlog::error("worker {}: no agent connection: runs no jobs", s.worker_id);
    records.clear();
  }
  s.num_buckets = records.size();
  // A worker without buckets runs nothing and needs no threads.
  s.pool = executor_pool::make(
    *s.handlers, records.empty() ? 0 : s.settings.worker.parallelism,
    [](const job& x, std::string_view text) {
      spdlog::info("[{} {}] {}", x.handler, to_string(x.id).substr(0, 8), text);
    });
  // Registered before the buckets run, so that the master can route to them
  // and find them again after a crash of this node, and so that their
  // claims may adopt held jobs (only registered buckets of live nodes do).
  // Should the registration fail, they run all the same: their own jobs
  // still reach them, and their claims adopt nothing.
  self->request(s.store, caf::infinite, atom::buckets_v, bucket_list{records})
    .then([self, records](bool) { start_buckets(self, records); },
          [self, records](const caf::error& err) {
            spdlog::error("worker: registering buckets failed: {}",
                          describe(err));
            start_buckets(self, records);
          });
  if (records.empty())
    spdlog::info("worker {} ({}): no buckets, runs no jobs", s.worker_id,
                 to_string(s.settings.worker.mode));
  else
    spdlog::info("worker {}: {} buckets, {} handler threads, batch {}{}",
                 s.worker_id, records.size(), s.settings.worker.parallelism,
                 s.settings.worker.batch_size,
                 s.settings.worker.lane.empty()
                   ? std::string{}
                   : ", lane " + s.settings.worker.lane);
  // On exit: stop running handlers and let the pool's threads end, so that
  // a process that starts and stops runtimes does not collect threads.
  // Unstarted runs were handed back by the drain, or come back through the
  // node's lease after a crash.
  self->attach_functor([pool = s.pool] { pool->shutdown(duration{0}); });
  return {
    [self](atom::attach, master_actor& m) {
      auto& s = self->state;
      s.master = std::move(m);
      for (auto& [id, b] : s.buckets)
        self->send(s.master, atom::attach_v, b.first, b.second);
    },
    [self](atom::attach, bucket_record& rec, bucket_actor& b) {
      auto& s = self->state;
      s.buckets.insert_or_assign(rec.bucket_id, std::make_pair(rec, b));
      if (s.master)
        self->send(s.master, atom::attach_v, rec, b);
      if (!s.pending_drains.empty() && s.buckets.size() >= s.num_buckets) {
        auto drains = std::move(s.pending_drains);
        s.pending_drains.clear();
        for (auto& rp : drains)
          drain_buckets(self, rp);
      }
    },
    [self](atom::drain) -> caf::result<bool> {
      auto& s = self->state;
      auto rp = self->make_response_promise<bool>();
      // Buckets that have not announced themselves yet would be missed:
      // wait for them (the last attach starts the drain).
      if (s.buckets.size() < s.num_buckets)
        s.pending_drains.push_back(rp);
      else
        drain_buckets(self, rp);
      return rp;
    },
  };
}

} // namespace jm
