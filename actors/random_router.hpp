#pragma once

#include "providers/store.hpp"

#include <random>
#include <vector>

namespace jm {

/// Picks a bucket for a job at random among those that match its priority
/// and lane exactly: spreads load over workers without coordination. Used
/// where the master places a new job and where the store assigns held ones.
class random_router {
public:
  explicit random_router(const std::vector<bucket_record>& buckets)
    : buckets_(buckets), gen_(std::random_device{}()) {}

  /// A matching bucket, or nullptr to leave the job held on the master.
  const bucket_record* operator()(const job& x) {
    candidates_.clear();
    for (auto& b : buckets_)
      if (b.priority == x.priority && b.lane == x.lane)
        candidates_.push_back(&b);
    if (candidates_.empty())
      return nullptr;
    std::uniform_int_distribution<size_t> pick{0, candidates_.size() - 1};
    return candidates_[pick(gen_)];
  }

private:
  const std::vector<bucket_record>& buckets_;
  std::vector<const bucket_record*> candidates_;
  std::mt19937 gen_;
};

} // namespace jm
