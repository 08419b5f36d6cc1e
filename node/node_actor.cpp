#include "node/node_actor.hpp"

#include "actors/agent_connection.hpp"
#include "actors/store.hpp"
#include "actors/supervisor.hpp"
#include "actors/worker.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

namespace jm {

namespace {

using self_ptr = node_actor::stateful_pointer<node_state>;

master_config make_master_config(const node_settings& s) {
  master_config cfg;
  cfg.cluster = s.cluster;
  for (auto& name : s.handlers->names())
    cfg.handlers.emplace(name, s.handlers->find(name)->defaults);
  cfg.rescue_interval = s.cluster.node.heartbeat_interval;
  return cfg;
}

worker_settings make_worker_settings(const node_settings& s,
                                     const worker_config& w) {
  worker_settings ws;
  ws.worker = w;
  ws.node_id = s.self.node_id;
  ws.bucket_template.retry = s.cluster.retry;
  ws.bucket_template.adopt_held = s.cluster.mode == cluster_mode::active;
  ws.bucket_template.delete_succeeded = s.cluster.delete_succeeded;
  ws.drain_grace = s.cluster.node.shutdown_grace;
  return ws;
}

void leave_and_quit(self_ptr self, caf::typed_response_promise<bool> rp) {
  auto& s = self->state;
  self
    ->request(s.store, std::chrono::seconds{10}, atom::leave_v,
              s.settings.self.node_id)
    .then(
      [self, rp](bool) mutable {
        spdlog::info("node {} left the cluster",
                     self->state.settings.self.node_id);
        rp.deliver(true);
        self->quit(caf::exit_reason::user_shutdown);
      },
      [self, rp](const caf::error& err) mutable {
        spdlog::warn("node: leaving the cluster failed: {}", describe(err));
        rp.deliver(false);
        self->quit(caf::exit_reason::user_shutdown);
      });
}

// With a separate agent store, the drained buckets' queues may still hold
// jobs pushed just before they stopped claiming: they go into the master
// store as held before the node leaves, so that they do not wait in the
// agent store for the next node to start. Leaves either way.
void move_queues_and_quit(self_ptr self, caf::typed_response_promise<bool> rp) {
  auto& s = self->state;
  if (!s.settings.cluster.agent || s.agents.empty())
    return leave_and_quit(self, rp);
  self->request(s.agents.front(), std::chrono::seconds{10}, atom::rescue_v)
    .then([self, rp](const job_list&) mutable { leave_and_quit(self, rp); },
          [self, rp](const caf::error& err) mutable {
            spdlog::warn("node: moving the save-pending queues failed: {}",
                         describe(err));
            leave_and_quit(self, rp);
          });
}

} // namespace

node_actor::behavior_type node(node_actor::stateful_pointer<node_state> self,
                               node_settings settings, gateway_actor gateway) {
  auto& s = self->state;
  s.settings = std::move(settings);
  s.gateway = std::move(gateway);
  s.store
    = self->spawn<caf::detached + caf::linked>(store, s.settings.master_db);
  for (auto& db : s.settings.agent_dbs)
    s.agents.push_back(
      self->spawn<caf::detached + caf::linked>(agent_connection, db));
  for (auto& w : s.settings.cluster.workers)
    s.workers.push_back(
      self->spawn<caf::linked>(worker, make_worker_settings(s.settings, w),
                               s.agents, s.store, s.settings.handlers));
  supervisor_config sc;
  sc.child_name = "master";
  auto mcfg = make_master_config(s.settings);
  auto store_handle = s.store;
  // With a separate agent store the master pushes through the first agent
  // connection.
  agent_connection_actor pusher;
  if (s.settings.cluster.agent && !s.agents.empty())
    pusher = s.agents.front();
  auto gw = s.gateway;
  auto workers = s.workers;
  s.master_supervisor = self->spawn<caf::linked>(
    supervisor, sc,
    [mcfg, store_handle, pusher](caf::local_actor* parent) {
      auto m = parent->spawn(master, mcfg, store_handle, pusher);
      return caf::actor_cast<caf::strong_actor_ptr>(m);
    },
    [gw, workers](const caf::strong_actor_ptr& child) {
      auto m = caf::actor_cast<master_actor>(child);
      caf::anon_send(gw, atom::attach_v, child);
      for (auto& w : workers)
        caf::anon_send(w, atom::attach_v, m);
    });
  self->send(self, atom::renew_v);
  return {
    [self](atom::drain) -> caf::result<bool> {
      auto& s = self->state;
      auto rp = self->make_response_promise<bool>();
      if (s.draining) {
        rp.deliver(false);
        return rp;
      }
      s.draining = true;
      spdlog::info("node {} stopping: draining {} workers",
                   s.settings.self.node_id, s.workers.size());
      if (s.workers.empty()) {
        move_queues_and_quit(self, rp);
        return rp;
      }
      auto remaining = std::make_shared<size_t>(s.workers.size());
      auto timeout
        = s.settings.cluster.node.shutdown_grace + std::chrono::seconds{5};
      for (auto& w : s.workers)
        self->request(w, timeout, atom::drain_v)
          .then(
            [self, rp, remaining](bool drained) mutable {
              if (!drained)
                spdlog::warn("node: a worker did not drain within the grace "
                             "period; its jobs go back to the master");
              if (--*remaining == 0)
                move_queues_and_quit(self, rp);
            },
            [self, rp, remaining](const caf::error& err) mutable {
              spdlog::warn("node: a worker did not drain: {}", describe(err));
              if (--*remaining == 0)
                move_queues_and_quit(self, rp);
            });
      return rp;
    },
    [self](atom::renew) {
      // Renewed until the node has left, drain included: a lapsed lease
      // would let the master rescue jobs this node is still finishing.
      auto& s = self->state;
      auto& n = s.settings.cluster.node;
      lease_renewal r{s.settings.self.node_id, now() + n.lease};
      self->request(s.store, n.lease, atom::renew_v, std::move(r))
        .then(
          [self](bool alive) {
            if (!alive) {
              // The cluster declared this node dead and took its jobs:
              // acting on would run them twice.
              spdlog::error("node {} lost its lease; stopping",
                            self->state.settings.self.node_id);
              self->quit(make_error(ec::refused, "lease lost"));
            }
          },
          [self](const caf::error& err) {
            spdlog::warn("node: renewing the lease failed: {}", describe(err));
          });
      self->delayed_send(self, n.heartbeat_interval, atom::renew_v);
    },
  };
}

} // namespace jm
