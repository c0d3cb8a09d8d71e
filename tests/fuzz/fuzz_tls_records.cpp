// The TLS 1.3 record layer. A fuzzer cannot forge an AEAD tag, so the input is a script: a
// peer built from the same secrets seals what it says (application data, any inner content
// type, KeyUpdates), may change a byte of a sealed record or send raw bytes, and the server
// side opens each record. Invariants: a record the peer sealed unchanged opens to exactly
// its content, or fails only where RFC 8446 says it must; a changed record never opens; a
// KeyUpdate keeps both sides in step; once a record failed, the connection is over.
#include "proxy/tls13_records.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstring>
#include <span>
#include <string>

using namespace certgate::proxy;
using namespace certgate::fuzz;

namespace {

Tls13Records::Secret secret(unsigned char fill, std::size_t size) {
    Tls13Records::Secret s;
    s.size = size;
    for (std::size_t i = 0; i < size; ++i) s.bytes[i] = static_cast<unsigned char>(fill + i);
    return s;
}

using Bytes = std::basic_string<unsigned char>;
using Span = std::span<const unsigned char>;

Bytes seal(Tls13Records& peer, Span content, unsigned char type) {
    Bytes record(content.size() + Tls13Records::kSealOverhead, 0);
    record.resize(peer.seal(record.data(), std::span(&content, 1), type));
    return record;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    static const std::uint16_t suites[] = {0x1301, 0x1302, 0x1303};
    const std::uint16_t suite = suites[data[0] % 3];
    const std::size_t hash = suite == 0x1302 ? 48 : 32;
    Tls13Records server;
    Tls13Records peer;
    // The server reads with the client's secret and writes with its own; the peer the
    // other way round.
    const auto client_secret = secret(1, hash);
    const auto server_secret = secret(101, hash);
    if (!server.start(suite, client_secret, server_secret, 0, 0) ||
        !peer.start(suite, server_secret, client_secret, 0, 0))
        broken("start failed");
    std::size_t at = 1;
    while (at + 2 <= size) {
        const unsigned op = data[at];
        std::size_t length = data[at + 1];
        at += 2;
        length = std::min(length, size - at);
        const Span content(data + at, length);
        at += length;
        Bytes record;
        Bytes out;
        Tls13Records::Opened opened;
        switch (op % 5) {
            case 0: {  // application data, unchanged: opens to exactly what was sealed
                record = seal(peer, content, 23);
                out.resize(record.size());
                opened = server.open(record.data(), record.size(), out.data());
                CERTGATE_FUZZ_CHECK(opened.kind == Tls13Records::Opened::Kind::data,
                                    opened.error.message());
                CERTGATE_FUZZ_CHECK(
                    opened.size == content.size() &&
                        std::memcmp(out.data(), content.data(), content.size()) == 0,
                    "content");
                continue;
            }
            case 1: {  // any inner content type and content: opens or fails, never crashes
                // (Type 0 is left out: the type would be read from the content's last
                // non-zero byte, and a KeyUpdate found there would be one the peer never made.)
                if (content.empty() || content[0] == 0) continue;
                record = seal(peer, content.subspan(1), content[0]);
                if (record.empty()) continue;
                out.resize(record.size());
                opened = server.open(record.data(), record.size(), out.data());
                // A KeyUpdate the server followed must be followed by the peer too.
                const auto body = content.subspan(1);
                if (opened.kind == Tls13Records::Opened::Kind::control && content[0] == 22) {
                    CERTGATE_FUZZ_CHECK(body.size() == 5 && body[0] == 24,
                                        "control that is not a KeyUpdate");
                    Bytes scratch(64, 0);
                    // The peer's own update moves its write key as the server's read key moved.
                    peer.seal_key_update(scratch.data());
                }
                if (opened.kind == Tls13Records::Opened::Kind::data)
                    CERTGATE_FUZZ_CHECK(content[0] == 23, "data from another type");
                if (opened.kind == Tls13Records::Opened::Kind::failed ||
                    opened.kind == Tls13Records::Opened::Kind::closed)
                    return 0;  // the connection is over
                continue;
            }
            case 2: {  // a byte of a sealed record changed: never opens
                record = seal(peer, content, 23);
                const std::size_t where = (length > 0 ? content[0] : 0) % record.size();
                record[where] ^= static_cast<unsigned char>(1 + (op >> 3) % 255);
                out.resize(record.size());
                opened = server.open(record.data(), record.size(), out.data());
                CERTGATE_FUZZ_CHECK(opened.kind == Tls13Records::Opened::Kind::failed,
                                    "changed record opened");
                return 0;
            }
            case 3: {  // raw bytes as a record
                if (content.size() < Tls13Records::kHeader) continue;
                record.assign(content.data(), content.size());
                const auto need = Tls13Records::record_size(record.data(), record.size());
                if (!need || *need == 0 || *need > record.size()) continue;
                out.resize(*need);
                opened = server.open(record.data(), *need, out.data());
                CERTGATE_FUZZ_CHECK(opened.kind == Tls13Records::Opened::Kind::failed,
                                    "forged record opened");
                return 0;
            }
            case 4: {  // the peer's KeyUpdate: the server follows it; data still opens after
                Bytes update(64, 0);
                update.resize(peer.seal_key_update(update.data()));
                CERTGATE_FUZZ_CHECK(!update.empty(), "seal_key_update");
                out.resize(update.size());
                opened = server.open(update.data(), update.size(), out.data());
                CERTGATE_FUZZ_CHECK(opened.kind == Tls13Records::Opened::Kind::control,
                                    opened.error.message());
                continue;
            }
        }
    }
    return 0;
}
