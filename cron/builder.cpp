// The fluent builder of NaturalCron expression text.

#include "cron/builder.hpp"

#include <cstdio>

namespace jm::cron {

namespace {

constexpr std::string_view short_weekdays[]
  = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

constexpr std::string_view long_weekdays[]
  = {"Sunday",   "Monday", "Tuesday", "Wednesday",
     "Thursday", "Friday", "Saturday"};

constexpr std::string_view short_months[]
  = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// .NET writes May as "may" in full-name mode.
constexpr std::string_view long_months[]
  = {"January", "February", "March",     "April",   "may",      "June",
     "July",    "August",   "September", "October", "November", "December"};

std::string ordinal(int day) {
  auto n = day < 0 ? -day : day;
  const char* suffix = "th";
  if (n % 100 < 11 || n % 100 > 13) {
    switch (n % 10) {
      case 1:
        suffix = "st";
        break;
      case 2:
        suffix = "nd";
        break;
      case 3:
        suffix = "rd";
        break;
      default:
        break;
    }
  }
  return std::to_string(day) + suffix;
}

std::string clock(int h, int m, std::optional<int> s, am_pm suffix) {
  char buf[48];
  if (s)
    std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d", h, m, *s);
  else
    std::snprintf(buf, sizeof(buf), "%02d:%02d", h, m);
  std::string result = buf;
  if (suffix == am_pm::am)
    result += "am";
  else if (suffix == am_pm::pm)
    result += "pm";
  return result;
}

std::string_view pick(const std::string_view (&xs)[7], int i) {
  return i >= 1 && i <= 7 ? xs[i - 1] : std::string_view{"?"};
}

std::string_view pick(const std::string_view (&xs)[12], int i) {
  return i >= 1 && i <= 12 ? xs[i - 1] : std::string_view{"?"};
}

} // namespace

// -- configuration ------------------------------------------------------------

builder& builder::use_ampersat_prefix() {
  ampersat_ = true;
  return *this;
}

builder& builder::use_week_full_name() {
  full_weekday_ = true;
  return *this;
}

builder& builder::use_month_full_name() {
  full_month_ = true;
  return *this;
}

// -- the interval -------------------------------------------------------------

every_builder builder::every() const {
  return every_builder{*this, std::nullopt};
}

every_builder builder::every(int n) const {
  return every_builder{*this, n};
}

builder& builder::shortcut(std::string_view keyword) {
  every_keyword_ = std::string{keyword};
  every_n_.reset();
  every_unit_.clear();
  return *this;
}

builder& builder::yearly() {
  return shortcut("Yearly");
}

builder& builder::monthly() {
  return shortcut("Monthly");
}

builder& builder::weekly() {
  return shortcut("Weekly");
}

builder& builder::daily() {
  return shortcut("Daily");
}

builder& builder::hourly() {
  return shortcut("Hourly");
}

builder& builder::minutely() {
  return shortcut("Minutely");
}

builder& builder::secondly() {
  return shortcut("Secondly");
}

builder& builder::anchor(std::string_view word, std::string value) {
  anchor_ = std::string{word} + " " + value;
  return *this;
}

builder& builder::anchored_on(std::string_view x) {
  return anchor("AnchoredOn", std::string{x});
}

builder& builder::anchored_in(std::string_view x) {
  return anchor("AnchoredIn", std::string{x});
}

builder& builder::anchored_at(std::string_view x) {
  return anchor("AnchoredAt", std::string{x});
}

builder& builder::anchored_on(weekday x) {
  return anchor("AnchoredOn", weekday_text(x));
}

builder& builder::anchored_in(cron::month x) {
  return anchor("AnchoredIn", month_text(x));
}

builder& builder::anchored_on(int x) {
  return anchor("AnchoredOn",
                every_unit_ == "Day" ? ordinal(x) : std::to_string(x));
}

builder& builder::anchored_in(int x) {
  return anchor("AnchoredIn",
                every_unit_ == "Day" ? ordinal(x) : std::to_string(x));
}

builder& builder::anchored_at(int x) {
  return anchor("AnchoredAt",
                every_unit_ == "Day" ? ordinal(x) : std::to_string(x));
}

// -- clauses ------------------------------------------------------------------

builder& builder::add(std::string_view keyword, std::string value) {
  clauses_.push_back(clause{std::string{keyword}, std::move(value)});
  return *this;
}

builder& builder::add_list(std::string_view keyword,
                           std::vector<std::string> xs) {
  if (xs.size() == 1)
    return add(keyword, std::move(xs.front()));
  std::string value = "[";
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (i > 0)
      value += ", ";
    value += xs[i];
  }
  value += "]";
  return add(keyword, std::move(value));
}

namespace {

std::vector<std::string> to_strings(std::initializer_list<std::string_view> xs) {
  std::vector<std::string> result;
  for (auto x : xs)
    result.emplace_back(x);
  return result;
}

} // namespace

builder& builder::on(std::string_view x) {
  return add("On", std::string{x});
}

builder& builder::on(std::initializer_list<std::string_view> xs) {
  return add_list("On", to_strings(xs));
}

builder& builder::on(const std::vector<std::string>& xs) {
  return add_list("On", xs);
}

builder& builder::on(weekday x) {
  return add("On", weekday_text(x));
}

builder& builder::in(std::string_view x) {
  return add("In", std::string{x});
}

builder& builder::in(std::initializer_list<std::string_view> xs) {
  return add_list("In", to_strings(xs));
}

builder& builder::in(const std::vector<std::string>& xs) {
  return add_list("In", xs);
}

builder& builder::in(cron::month x) {
  return add("In", month_text(x));
}

builder& builder::at(std::string_view x) {
  return add("At", std::string{x});
}

builder& builder::at(std::initializer_list<std::string_view> xs) {
  return add_list("At", to_strings(xs));
}

builder& builder::at(const std::vector<std::string>& xs) {
  return add_list("At", xs);
}

builder& builder::at(cron::month m, int day) {
  return add("At", ordinal(day) + " " + month_text(m));
}

builder& builder::at_day(int day) {
  return add("At", ordinal(day));
}

builder& builder::at_day_position(day_position x) {
  switch (x) {
    case day_position::first_day:
      return add("At", "FirstDay");
    case day_position::last_day:
      return add("At", "LastDay");
    case day_position::first_weekday:
      return add("At", "FirstWeekday");
    case day_position::last_weekday:
      return add("At", "LastWeekday");
  }
  return *this;
}

builder& builder::on_nth_weekday(nth n, weekday x) {
  constexpr std::string_view prefixes[] = {"1st", "2nd", "3rd", "4th", "5th",
                                           "Last"};
  auto i = static_cast<int>(n);
  std::string_view prefix = i >= 1 && i <= 6 ? prefixes[i - 1] : "?";
  return add("On", std::string{prefix} + weekday_text(x));
}

builder& builder::on_closest_weekday_to(int day) {
  return add("On", "ClosestWeekdayTo " + ordinal(day));
}

builder& builder::at_time(int hour, int minute, am_pm suffix) {
  return add("At", clock(hour, minute, std::nullopt, suffix));
}

builder& builder::at_time(int hour, int minute, int second, am_pm suffix) {
  return add("At", clock(hour, minute, second, suffix));
}

builder& builder::between(std::string_view first, std::string_view last) {
  return add("Between", std::string{first} + " and " + std::string{last});
}

builder& builder::between(
  std::initializer_list<std::pair<std::string_view, std::string_view>> xs) {
  if (xs.size() == 1)
    return between(xs.begin()->first, xs.begin()->second);
  std::string value = "[";
  bool first = true;
  for (const auto& [a, b] : xs) {
    if (!first)
      value += ", ";
    first = false;
    value += std::string{a} + " and " + std::string{b};
  }
  value += "]";
  return add("Between", std::move(value));
}

builder& builder::between(weekday first, weekday last) {
  return add("Between", weekday_text(first) + " and " + weekday_text(last));
}

builder& builder::between(cron::month first, cron::month last) {
  return add("Between", month_text(first) + " and " + month_text(last));
}

builder& builder::between(cron::month first_month, int first_day,
                          cron::month last_month, int last_day) {
  return add("Between", ordinal(first_day) + " " + month_text(first_month)
                          + " and " + ordinal(last_day) + " "
                          + month_text(last_month));
}

builder& builder::between_time(int hour1, int minute1, int hour2, int minute2,
                               am_pm suffix) {
  return add("Between", clock(hour1, minute1, std::nullopt, suffix) + " and "
                          + clock(hour2, minute2, std::nullopt, suffix));
}

builder& builder::between_time(int hour1, int minute1, int second1, int hour2,
                               int minute2, int second2, am_pm suffix) {
  return add("Between", clock(hour1, minute1, second1, suffix) + " and "
                          + clock(hour2, minute2, second2, suffix));
}

builder& builder::from(std::string_view x) {
  return add("From", std::string{x});
}

builder& builder::upto(std::string_view x) {
  return add("Upto", std::string{x});
}

builder& builder::from(weekday x) {
  return add("From", weekday_text(x));
}

builder& builder::upto(weekday x) {
  return add("Upto", weekday_text(x));
}

builder& builder::from(cron::month x) {
  return add("From", month_text(x));
}

builder& builder::upto(cron::month x) {
  return add("Upto", month_text(x));
}

builder& builder::from(cron::month m, int day) {
  return add("From", ordinal(day) + " " + month_text(m));
}

builder& builder::upto(cron::month m, int day) {
  return add("Upto", ordinal(day) + " " + month_text(m));
}

builder& builder::from_day(int day) {
  return add("From", ordinal(day));
}

builder& builder::upto_day(int day) {
  return add("Upto", ordinal(day));
}

builder& builder::from_time(int hour, int minute, am_pm suffix) {
  return add("From", clock(hour, minute, std::nullopt, suffix));
}

builder& builder::from_time(int hour, int minute, int second, am_pm suffix) {
  return add("From", clock(hour, minute, second, suffix));
}

builder& builder::upto_time(int hour, int minute, am_pm suffix) {
  return add("Upto", clock(hour, minute, std::nullopt, suffix));
}

builder& builder::upto_time(int hour, int minute, int second, am_pm suffix) {
  return add("Upto", clock(hour, minute, second, suffix));
}

builder& builder::tz(std::string_view iana_id) {
  zone_ = std::string{iana_id};
  return *this;
}

// -- results ------------------------------------------------------------------

std::string builder::weekday_text(weekday x) const {
  auto i = static_cast<int>(x);
  return std::string{full_weekday_ ? pick(long_weekdays, i)
                                   : pick(short_weekdays, i)};
}

std::string builder::month_text(cron::month x) const {
  auto i = static_cast<int>(x);
  return std::string{full_month_ ? pick(long_months, i)
                                 : pick(short_months, i)};
}

std::string builder::keyword(std::string_view x) const {
  return ampersat_ ? "@" + std::string{x} : std::string{x};
}

std::string builder::to_string() const {
  std::string result;
  auto append = [&result](const std::string& x) {
    if (!result.empty())
      result += ' ';
    result += x;
  };
  if (!every_keyword_.empty()) {
    std::string part = keyword(every_keyword_);
    if (every_n_)
      part += " " + std::to_string(*every_n_);
    if (!every_unit_.empty()) {
      part += " " + every_unit_;
      if (every_n_ && *every_n_ > 1)
        part += "s";
    }
    if (!anchor_.empty())
      part += " " + anchor_;
    append(part);
  }
  for (const auto& c : clauses_)
    append(keyword(c.keyword) + " " + c.value);
  if (!zone_.empty())
    append(keyword("TimeZone") + " " + zone_);
  return result;
}

result<schedule> builder::build() const {
  return parse(to_string());
}

// -- every_builder ------------------------------------------------------------

builder every_builder::with_unit(std::string_view unit) const {
  auto result = b_;
  result.every_keyword_ = "Every";
  result.every_n_ = n_;
  result.every_unit_ = std::string{unit};
  return result;
}

builder every_builder::second() const {
  return with_unit("Second");
}

builder every_builder::seconds() const {
  return with_unit("Second");
}

builder every_builder::minute() const {
  return with_unit("Minute");
}

builder every_builder::minutes() const {
  return with_unit("Minute");
}

builder every_builder::hour() const {
  return with_unit("Hour");
}

builder every_builder::hours() const {
  return with_unit("Hour");
}

builder every_builder::day() const {
  return with_unit("Day");
}

builder every_builder::days() const {
  return with_unit("Day");
}

builder every_builder::week() const {
  return with_unit("Week");
}

builder every_builder::weeks() const {
  return with_unit("Week");
}

builder every_builder::month() const {
  return with_unit("Month");
}

builder every_builder::months() const {
  return with_unit("Month");
}

builder every_builder::year() const {
  return with_unit("Year");
}

builder every_builder::years() const {
  return with_unit("Year");
}

every_builder every() {
  return builder{}.every();
}

every_builder every(int n) {
  return builder{}.every(n);
}

builder yearly() {
  return builder{}.yearly();
}

builder monthly() {
  return builder{}.monthly();
}

builder weekly() {
  return builder{}.weekly();
}

builder daily() {
  return builder{}.daily();
}

builder hourly() {
  return builder{}.hourly();
}

builder minutely() {
  return builder{}.minutely();
}

builder secondly() {
  return builder{}.secondly();
}

} // namespace jm::cron
