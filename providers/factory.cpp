#include "providers/factory.hpp"

#include "messages/error.hpp"
#include "providers/mysql/mysql_store.hpp"
#include "providers/postgres/postgres_store.hpp"
#include "providers/sqlite/sqlite_store.hpp"

namespace jm {

namespace {

template <class Store>
store_connection share(std::unique_ptr<Store> x) {
  std::shared_ptr<Store> ptr{std::move(x)};
  return store_connection{ptr, ptr, ptr};
}

} // namespace

caf::expected<store_connection> open_store(const store_config& cfg) {
  auto fail = [&cfg](const caf::error& err) {
    auto code = code_of(err);
    return make_error(code == ec::none ? ec::store_failure : code,
                      "cannot open the store (" + describe_store(cfg)
                        + "): " + describe(err));
  };
  switch (cfg.kind) {
  case store_kind::sqlite: {
    auto db = sqlite::sqlite_store::open(cfg.path, cfg.full_sync);
    if (!db)
      return fail(db.error());
    return share(std::move(*db));
  }
  case store_kind::postgres: {
    auto db = postgres::postgres_store::open(cfg.url, cfg.table_prefix);
    if (!db)
      return fail(db.error());
    return share(std::move(*db));
  }
  case store_kind::mysql: {
    auto db = mysql::mysql_store::open(cfg.url, cfg.table_prefix);
    if (!db)
      return fail(db.error());
    return share(std::move(*db));
  }
  }
  return make_error(ec::invalid_config, "unknown store kind");
}

} // namespace jm
