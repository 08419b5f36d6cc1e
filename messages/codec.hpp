#pragma once

#include "messages/api.hpp"
#include "messages/job.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace jm {

/// Cap'n Proto encode/decode pairs between the plain value types and the
/// schemas in messages/*.capnp. Decoders never trust their input: any byte
/// string yields either a valid value or `ec::malformed_message`.

bytes encode(const request& x);
caf::expected<request> decode_request(std::span<const uint8_t> buf);

bytes encode(const reply& x);
caf::expected<reply> decode_reply(std::span<const uint8_t> buf);

bytes encode(const job& x);
caf::expected<job> decode_job(std::span<const uint8_t> buf);

bytes encode(const value_map& x);
caf::expected<value_map> decode_value_map(std::span<const uint8_t> buf);

} // namespace jm
