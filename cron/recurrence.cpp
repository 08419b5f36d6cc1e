#include "cron/recurrence.hpp"

#include "cron/interval.hpp"
#include "cron/schedule.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

namespace jm::cron {

namespace {

std::string lowercase(std::string_view x) {
  std::string out{x};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

parse_error unknown(std::string message) {
  return parse_error{0, "a registered expression type", std::move(message)};
}

result<recurrence> compile_natural_cron(std::string_view text,
                                        std::string_view default_zone) {
  auto parsed = parse(text);
  if (!parsed)
    return parsed.error();
  auto zone = std::string{default_zone};
  if (!zone.empty() && parsed->time_zone().empty() && !is_known_time_zone(zone))
    return parse_error{0, "an IANA time zone",
                       "Unknown time zone '" + zone + "'."};
  search_options opts;
  opts.default_zone = std::move(zone);
  auto x = std::move(*parsed);
  return recurrence{"naturalcron", x.expression(),
                    [x, opts](instant after) -> std::optional<instant> {
                      // Whole seconds: sub-second parts of the reference are
                      // dropped.
                      auto t = std::chrono::floor<std::chrono::seconds>(after);
                      if (auto r = next_occurrence(x, time_point{t}, opts))
                        return instant{*r};
                      return std::nullopt;
                    }};
}

result<recurrence> compile_interval(std::string_view text, std::string_view) {
  auto parsed = parse_interval(text);
  if (!parsed)
    return parsed.error();
  auto step = std::chrono::floor<std::chrono::microseconds>(parsed->duration());
  return recurrence{"interval", to_string(*parsed),
                    [step](instant after) -> std::optional<instant> {
                      if (after.time_since_epoch().count()
                          > instant::max().time_since_epoch().count()
                              - step.count())
                        return std::nullopt;
                      return after + step;
                    }};
}

struct registry {
  std::mutex mtx;
  std::map<std::string, recurrence_compiler> compilers{
    {"naturalcron", compile_natural_cron},
    {"interval", compile_interval},
  };
};

registry& the_registry() {
  static registry instance;
  return instance;
}

} // namespace

void register_expression_type(std::string_view type,
                              recurrence_compiler compiler) {
  auto& r = the_registry();
  std::lock_guard guard{r.mtx};
  r.compilers.insert_or_assign(lowercase(type), std::move(compiler));
}

std::vector<std::string> expression_types() {
  auto& r = the_registry();
  std::lock_guard guard{r.mtx};
  std::vector<std::string> result;
  for (auto& [name, f] : r.compilers)
    result.push_back(name);
  return result;
}

result<recurrence> compile(std::string_view type, std::string_view expression,
                           std::string_view default_zone) {
  recurrence_compiler f;
  {
    auto& r = the_registry();
    std::lock_guard guard{r.mtx};
    auto i = r.compilers.find(lowercase(type));
    if (i == r.compilers.end()) {
      std::string known;
      for (auto& [name, g] : r.compilers)
        known += (known.empty() ? "" : ", ") + name;
      return unknown("Unknown expression type '" + std::string{type}
                     + "' (known: " + known + ").");
    }
    f = i->second;
  }
  return f(expression, default_zone);
}

} // namespace jm::cron
